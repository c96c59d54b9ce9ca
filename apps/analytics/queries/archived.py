"""Archived days for the query layer: which days of a range only the archive holds (one
catalog query), and their rows read in a worker thread with the same filters the SQL
applies (apps/archive/read.py does the reading).

A query asks `days` for its range; none archived (the usual case), it runs on
PostgreSQL alone. Otherwise it reads those days' rows with `read` and merges them with
what PostgreSQL holds of the other days, so the answer is the one PostgreSQL gave
before the days moved.
"""

import asyncio
import functools
import uuid
from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Final

import pyarrow as pa
import pyarrow.compute as pc

from apps.analytics.queries.common import SEGMENT_COLUMNS, Conn
from apps.archive.errors import ArchiveUnavailable
from apps.archive.parquet import SCHEMA
from apps.archive.read import ArchiveReader, to_read
from apps.core.periods import Segment
from apps.store.archived_days import ArchivedDay, archived_in

_TIME: Final = SCHEMA.field("event_time").type
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO: Final = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class Archive:
    """The archive as one request sees it: the process's reader (None when no archive is
    configured: an archived day then fails the query, naming it), the UTC day asked
    on (days past the game's `archive_days` on that day are expired: empty), and the
    threads that read (None: asyncio's default ones)."""

    reader: ArchiveReader | None
    today: date
    threads: Executor | None = None

    async def days(
        self, conn: Conn, game_id: uuid.UUID, first: date, last: date
    ) -> list[ArchivedDay]:
        """The days of [first, last] to read from the archive, oldest first."""
        found, archive_days = await archived_in(conn, game_id, first, last)
        return to_read(found, archive_days, self.today)

    async def read(
        self, game_id: uuid.UUID, days: Sequence[ArchivedDay], columns: Sequence[str],
        where: pc.Expression | None,
    ) -> pa.Table:  # fmt: skip
        """The rows of `days` matching `where`, in a thread (the event loop keeps serving;
        the request's time budget cancels the wait, S3's timeouts end the thread).
        ArchiveReadError naming a day."""
        if not days:
            return pa.schema([SCHEMA.field(c) for c in columns]).empty_table()
        if self.reader is None:
            raise ArchiveUnavailable(
                game_id, days[0].event_date, "is archived, and no archive is configured"
            )
        read = functools.partial(self.reader.read, game_id, days, columns, where)
        return await asyncio.get_running_loop().run_in_executor(self.threads, read)


def today() -> date:
    return datetime.now(UTC).date()


def last_day(end: datetime) -> date:
    """The UTC day of the last instant before `end`."""
    return (end - _MICRO).astimezone(UTC).date()


def in_time(start: datetime, end: datetime) -> pc.Expression:
    """event_time in [start, end)."""
    t = pc.field("event_time")
    return (t >= pa.scalar(start, _TIME)) & (t < pa.scalar(end, _TIME))


def of_types(types: Sequence[str]) -> pc.Expression:
    return pc.field("event_type").isin(pa.array(list(types), pa.string()))


def in_segment(segment: Segment) -> pc.Expression | None:
    """`common.segment_condition(segment, nullable=True)` on archived rows: a column's
    NULL is '', so "" matches NULL and '' alike (written so the row groups' null counts
    and min/max statistics can skip groups)."""
    found: pc.Expression | None = None
    for column in SEGMENT_COLUMNS:
        value = getattr(segment, column)
        if value is None:
            continue
        field = pc.field(column)
        test = (field.is_null() | (field == "")) if value == "" else (field == value)
        found = test if found is None else found & test
    return found


def micros(times: pa.ChunkedArray | pa.Array) -> pa.Array | pa.ChunkedArray:
    """Timestamps as microseconds since the Unix epoch (int64, exact)."""
    return pc.cast(times, pa.int64())


def at_micros(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


def all_of(*conditions: pc.Expression | None) -> pc.Expression | None:
    found: pc.Expression | None = None
    for c in conditions:
        if c is not None:
            found = c if found is None else found & c
    return found


def micros_of(t: datetime) -> pa.Scalar:
    return pa.scalar((t - _EPOCH) // _MICRO, pa.int64())
