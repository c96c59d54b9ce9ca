"""Step 3 of the chain, one lane's side: its connection, and rows the database rejects.

`store.BatchWriter` is the SQL of one batch; this module keeps a lane's
connection to it (connected on first use and again after an outage, with the
`events` partitions of the coming week made on connecting and once a day) and
isolates a row whose data PostgreSQL rejects by bisecting the batch, so that
row is dead-lettered and never blocks its partition.
"""

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Protocol

import psycopg
from confluent_kafka import Message
from psycopg.rows import TupleRow

from apps.processor.dlq import DeadLetter, dead_letter
from apps.processor.errors import DATA_REJECTED
from apps.processor.partitions import Partitions
from apps.processor.records import Row
from apps.processor.store import BatchWriter, Written

WriteResult = tuple[Written, list[DeadLetter]]
"""What a batch's write did, and the letters of the rows the database rejected."""


class Writes(Protocol):
    """`store.BatchWriter`: stores rows in one transaction, or raises and stores none."""

    def write(self, rows: Sequence[Row]) -> Written: ...


class LaneWriter:
    """One lane's connection. Used by one thread at a time: the lane's writer thread while
    a batch is in flight, else the consuming thread (at start, and waiting out an outage).
    """

    def __init__(self, dsn: str, partitions: Partitions) -> None:
        self._dsn = dsn
        self._partitions = partitions
        self._conn: psycopg.Connection[TupleRow] | None = None
        self._writer: BatchWriter | None = None
        self._ahead_for: date | None = None

    def write(self, rows: list[Row], sources: list[Message]) -> WriteResult:
        """Store `rows` (`sources[i]` is the record of `rows[i]`): one transaction, or one
        per half while a rejected row is bisected out. Blocks on the database (connecting:
        up to 5 s). Raises `DATABASE_DOWN` errors when it is unreachable; halves committed
        by then are claimed, so writing the batch again stores nothing twice."""
        return write_isolating(self.connect(), rows, sources)

    def connect(self) -> BatchWriter:
        """The lane's writer, connecting if needed; partitions ahead once a day."""
        today = datetime.now(UTC).date()
        if self._writer is None:
            self._conn = psycopg.connect(self._dsn, connect_timeout=5)
            self._partitions.forget()
            self._writer = BatchWriter(self._conn, self._partitions)
            self._ahead_for = None
        if self._ahead_for != today:
            assert self._conn is not None
            self._partitions.ensure_ahead(self._conn, today)
            self._ahead_for = today
        return self._writer

    def disconnect(self) -> None:
        """Close the connection (broken or not); the next write connects again."""
        if self._conn is not None:
            self._conn.close()
        self._conn, self._writer = None, None


def write_isolating(writer: Writes, rows: list[Row], sources: list[Message]) -> WriteResult:
    """Write; if the database rejects a row's data, bisect to find it and dead-letter it."""
    try:
        return writer.write(rows), []
    except DATA_REJECTED as e:
        if len(rows) == 1:
            reason = f"rejected by the database: {e.diag.message_primary or type(e).__name__}"
            return Written(1, 0), [dead_letter(sources[0], reason, "rejected_by_database")]
    mid = len(rows) // 2
    first, bad_first = write_isolating(writer, rows[:mid], sources[:mid])
    second, bad_second = write_isolating(writer, rows[mid:], sources[mid:])
    written = Written(
        first.received + second.received,
        first.stored + second.stored,
        first.suppressed + second.suppressed,
    )
    return written, bad_first + bad_second
