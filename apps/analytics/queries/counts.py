"""eventCounts: events with event time in [start, end), per bucket start (UTC) and type.

Whole minutes come from the `event_counts` rollup; the partial minutes at
either edge (when `start`/`end` are not on a minute) from raw `events`,
which the BRIN index on `event_time` narrows to those minutes. On days only
the archive holds (apps/analytics/queries/archived.py) those edges are read
from the archive and counted the same way (bucket of `date_bin`, type), then
added to the rollup's counts.
"""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc
from psycopg import sql

from apps.analytics.queries import archived
from apps.analytics.queries.archived import Archive
from apps.analytics.queries.common import Conn, fetch_all
from apps.analytics.results import EventCount
from apps.core.periods import BUCKET_WIDTH, Bucket, truncate

_MINUTE = timedelta(minutes=1)
# date_bin from a UTC midnight is UTC truncation, whatever the session's time zone.
_ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)

# Byte order of the type names (COLLATE "C"), so the order is the same on every server.
_COUNTS = """
SELECT bucket, event_type, sum(n)::bigint FROM (
    SELECT date_bin(%(width)s, minute, %(origin)s) AS bucket, event_type, events AS n
    FROM event_counts
    WHERE game_id = %(game)s AND minute >= %(lo)s AND minute < %(hi)s{types}
    UNION ALL
    SELECT date_bin(%(width)s, event_time, %(origin)s), event_type, 1 FROM events
    WHERE game_id = %(game)s AND event_time >= %(start)s AND event_time < %(lo)s{types}
    UNION ALL
    SELECT date_bin(%(width)s, event_time, %(origin)s), event_type, 1 FROM events
    WHERE game_id = %(game)s AND event_time >= %(hi)s AND event_time < %(end)s{types}
) AS counted
GROUP BY 1, 2 HAVING sum(n) > 0
ORDER BY bucket, event_type COLLATE "C"
"""


async def event_counts(
    conn: Conn, game_id: uuid.UUID, start: datetime, end: datetime, bucket: Bucket,
    types: Sequence[str] | None, archive: Archive | None = None,
) -> list[EventCount]:  # fmt: skip
    """Non-zero counts ordered by bucket, then type; `types` None means every type.

    Buckets are UTC datetimes; the first may start before `start` (its count
    covers only the events from `start` on). Edges on archived days are read from
    `archive` (None: no archive configured, today's expiry); ArchiveReadError
    naming a day it cannot read.
    """
    if types is not None and not types:
        return []
    lo = truncate(start, Bucket.MINUTE)
    if lo < start:
        lo += _MINUTE
    hi = truncate(end, Bucket.MINUTE)
    if hi <= lo:  # no whole minute inside: everything from raw events
        lo = hi = end
    condition = sql.SQL(" AND event_type = ANY(%(types)s::text[])" if types is not None else "")
    rows = await fetch_all(
        conn, sql.SQL(_COUNTS).format(types=condition),
        {"game": game_id, "width": BUCKET_WIDTH[bucket], "origin": _ORIGIN,
         "start": start, "end": end, "lo": lo, "hi": hi,
         "types": list(types) if types is not None else None},
    )  # fmt: skip
    counts = [EventCount(b.astimezone(UTC), t, n) for b, t, n in rows]
    edges = [(a, b) for a, b in ((start, lo), (hi, end)) if a < b]
    if not edges:
        return counts
    archive = archive or Archive(None, archived.today())
    days = await archive.days(conn, game_id, start.astimezone(UTC).date(), archived.last_day(end))
    if not days:
        return counts
    width = BUCKET_WIDTH[bucket] // timedelta(microseconds=1)
    read = await archive.read(
        game_id, days, ["event_type", "event_time"],
        archived.all_of(
            _any_of([archived.in_time(a, b) for a, b in edges]),
            archived.of_types(types) if types is not None else None,
        ),
    )  # fmt: skip
    return _merged(counts, _counted(read, width))


def _any_of(conditions: list[pc.Expression]) -> pc.Expression:
    found = conditions[0]
    for c in conditions[1:]:
        found = found | c
    return found


def _counted(rows: pa.Table, width: int) -> dict[tuple[datetime, str], int]:
    """Archived rows counted per (bucket start, type): `date_bin` from a UTC midnight is
    the floor of the time to a multiple of `width` microseconds since the epoch."""
    t = archived.micros(rows.column("event_time")).to_numpy()
    groups = (
        pa.table({"b": t // width * width, "type": rows.column("event_type")})
        .group_by(["b", "type"])
        .aggregate([("type", "count")])
    )
    return {
        (archived.at_micros(b), typ): n
        for b, typ, n in zip(
            groups.column("b").to_pylist(), groups.column("type").to_pylist(),
            groups.column("type_count").to_pylist(), strict=True,
        )
    }  # fmt: skip


def _merged(counts: list[EventCount], more: dict[tuple[datetime, str], int]) -> list[EventCount]:
    """The sum of both, in the query's order (bucket, then type in byte order, which is
    code point order for Python's strings)."""
    total = {(c.bucket, c.type): c.count for c in counts}
    for key, n in more.items():
        total[key] = total.get(key, 0) + n
    return [EventCount(b, t, n) for (b, t), n in sorted(total.items()) if n > 0]
