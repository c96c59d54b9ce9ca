"""Query tests: rows written by the processor's own storage code, read by the query layer.

Each test writes to a fresh game id, so tests share the session's PostgreSQL
and never see each other's rows.
"""

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import psycopg
import pytest
from psycopg.rows import TupleRow

from apps.local.servers import EmbeddedS3
from apps.processor.partitions import Partitions
from apps.processor.records import Row
from apps.processor.store import BatchWriter
from tests.support.archive import Bucketed
from tests.support.servers import Endpoints


class Store:
    """Writes batches exactly as the processor does (claims, events, every rollup)."""

    def __init__(self, conn: psycopg.Connection[TupleRow]) -> None:
        self.writer = BatchWriter(conn, Partitions())

    def write(self, *rows: Row) -> None:
        """One batch, one transaction; all rows must be new events."""
        written = self.writer.write(rows)
        assert written.stored == len(rows)

    def replay(self, *rows: Row) -> None:
        """Send rows again (a redelivery): the writer must store none of them."""
        assert self.writer.write(rows).stored == 0


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def store(endpoints: Endpoints) -> Iterator[Store]:
    with psycopg.connect(endpoints.postgres_dsn) as conn:
        yield Store(conn)


@pytest.fixture
def game() -> uuid.UUID:
    return uuid.uuid4()


@pytest.fixture
async def conn(endpoints: Endpoints) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    async with await psycopg.AsyncConnection.connect(endpoints.postgres_dsn, autocommit=True) as c:
        yield c


@pytest.fixture(scope="module")
def bucket(s3: EmbeddedS3) -> Bucketed:
    """The module's archive bucket (tests isolate by game within it)."""
    return Bucketed(s3.settings)
