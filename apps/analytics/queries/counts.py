"""eventCounts: events with event time in [start, end), per bucket start (UTC) and type.

Whole minutes come from the `event_counts` rollup; the partial minutes at
either edge (when `start`/`end` are not on a minute) from raw `events`,
which the BRIN index on `event_time` narrows to those minutes.
"""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from psycopg import sql

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
    types: Sequence[str] | None,
) -> list[EventCount]:  # fmt: skip
    """Non-zero counts ordered by bucket, then type; `types` None means every type.

    Buckets are UTC datetimes; the first may start before `start` (its count
    covers only the events from `start` on).
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
    return [EventCount(b.astimezone(UTC), t, n) for b, t, n in rows]
