"""activeUsers and newUsers: distinct players per bucket.

activeUsers filters on each event's own attributes (`player_days` segment
columns); per day and without a filter, `daily_stats` holds the count.
newUsers filters on the player's acquisition attributes: `cohort_activity`
at day 0 counts each player once, on their first day, in their acquisition
segment, so its sums are exact for any filter and bucket.
"""

import uuid
from datetime import date

from psycopg import sql

from apps.analytics.queries.common import (
    Conn,
    bucket_of,
    by_bucket,
    fetch_all,
    from_daily_stats,
    segment_condition,
)
from apps.analytics.results import TimeValue
from apps.core.periods import Granularity, Segment

# A player has one player_days row per day and segment of their events: DISTINCT counts
# a player once however many segments they used in the bucket's days.
_ACTIVE = """
SELECT {bucket}, count(DISTINCT player_id) FROM player_days
WHERE game_id = %(game)s AND day BETWEEN %(first)s AND %(last)s{segment}
GROUP BY 1
"""

_ACTIVE_DAILY = """
SELECT {bucket}, players FROM daily_stats
WHERE game_id = %(game)s AND day BETWEEN %(first)s AND %(last)s{segment}
"""

_NEW = """
SELECT {bucket}, sum(players)::bigint FROM cohort_activity
WHERE game_id = %(game)s AND first_day BETWEEN %(first)s AND %(last)s AND day_n = 0{segment}
GROUP BY 1
"""


async def active_users(
    conn: Conn, game_id: uuid.UUID, first: date, last: date,
    granularity: Granularity, segment: Segment,
) -> list[TimeValue]:  # fmt: skip
    """Distinct players with an event (matching `segment`) in each bucket's days in range."""
    template = _ACTIVE_DAILY if from_daily_stats(granularity, segment) else _ACTIVE
    return await _per_bucket(conn, template, "day", game_id, first, last, granularity, segment)


async def new_users(
    conn: Conn, game_id: uuid.UUID, first: date, last: date,
    granularity: Granularity, segment: Segment,
) -> list[TimeValue]:  # fmt: skip
    """Players whose first-ever event (acquisition matching `segment`) is in each bucket."""
    return await _per_bucket(conn, _NEW, "first_day", game_id, first, last, granularity, segment)


async def _per_bucket(
    conn: Conn, template: str, day_column: str, game_id: uuid.UUID, first: date, last: date,
    granularity: Granularity, segment: Segment,
) -> list[TimeValue]:  # fmt: skip
    condition, params = segment_condition(segment)
    query = sql.SQL(template).format(bucket=bucket_of(day_column, granularity), segment=condition)
    rows = await fetch_all(conn, query, {"game": game_id, "first": first, "last": last, **params})
    filled = by_bucket(rows, first, last, granularity)
    return [TimeValue(b, row[1] if row else 0) for b, row in filled]
