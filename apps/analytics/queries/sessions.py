"""sessions: session_end events per bucket, the distinct players among them, mean duration.

Filters on each event's own attributes. `segment_days.sessions` counts a
day's session_end events in a segment and `session_seconds` sums their
`duration_seconds` (required on session_end), so the mean is their ratio;
`player_days.played` marks a player-day with a session. Per day without a
filter, `daily_stats` holds the same per game and day. Seconds are summed as
numeric, which cannot overflow (a float8 sum can, and PostgreSQL refuses it).
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
from apps.analytics.results import SessionPoint, ratio
from apps.core.periods import Granularity, Segment

# Sessions and their seconds per day and segment come from segment_days; the distinct
# players who played one, from player_days.
_SESSIONS = """
WITH s AS (
    SELECT {bucket} AS bucket, sum(sessions)::bigint AS sessions,
           sum(session_seconds::numeric) AS seconds
    FROM segment_days
    WHERE game_id = %(game)s AND day BETWEEN %(first)s AND %(last)s{segment}
    GROUP BY 1
), p AS (
    SELECT {bucket} AS bucket, count(DISTINCT player_id) AS players
    FROM player_days
    WHERE game_id = %(game)s AND day BETWEEN %(first)s AND %(last)s AND played{segment}
    GROUP BY 1
)
SELECT s.bucket, s.sessions, coalesce(p.players, 0), s.seconds FROM s LEFT JOIN p USING (bucket)
"""
_SESSIONS_DAILY = """
SELECT {bucket}, sessions, session_players, session_seconds FROM daily_stats
WHERE game_id = %(game)s AND day BETWEEN %(first)s AND %(last)s{segment}
"""


async def sessions(
    conn: Conn, game_id: uuid.UUID, first: date, last: date,
    granularity: Granularity, segment: Segment,
) -> list[SessionPoint]:  # fmt: skip
    """One point per bucket; avg_length_seconds is 0.0 where there was no session."""
    condition, params = segment_condition(segment)
    template = _SESSIONS_DAILY if from_daily_stats(granularity, segment) else _SESSIONS
    query = sql.SQL(template).format(bucket=bucket_of("day", granularity), segment=condition)
    rows = await fetch_all(conn, query, {"game": game_id, "first": first, "last": last, **params})
    points: list[SessionPoint] = []
    for bucket, row in by_bucket(rows, first, last, granularity):
        count, players, seconds = (row[1], row[2], row[3]) if row else (0, 0, 0.0)
        points.append(SessionPoint(bucket, count, players, ratio(float(seconds), count)))
    return points
