"""Rollups recomputed from the raw `events` table, to compare with what the processor keeps."""

import math
import uuid
from decimal import Decimal
from typing import Any

import psycopg

_PLAYER_DAYS_FROM_EVENTS = """
SELECT (event_time AT TIME ZONE 'UTC')::date, player_id,
       coalesce(platform, ''), coalesce(country, ''), coalesce(app_version, ''),
       bool_or(event_type = 'session_end'), bool_or(event_type = 'purchase')
FROM events WHERE game_id = %s GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
"""
_PLAYER_DAYS = """
SELECT day, player_id, platform, country, app_version, played, paid
FROM player_days WHERE game_id = %s ORDER BY 1, 2, 3, 4, 5
"""
_SEGMENT_DAYS_FROM_EVENTS = """
SELECT (event_time AT TIME ZONE 'UTC')::date,
       coalesce(platform, ''), coalesce(country, ''), coalesce(app_version, ''),
       count(*), count(*) FILTER (WHERE event_type = 'session_end'),
       round(coalesce(sum(duration_seconds)
             FILTER (WHERE event_type = 'session_end'), 0)::numeric, 6),
       count(*) FILTER (WHERE event_type = 'purchase')
FROM events WHERE game_id = %s GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
"""
_SEGMENT_DAYS = """
SELECT day, platform, country, app_version, events, sessions,
       round(session_seconds::numeric, 6), purchases
FROM segment_days WHERE game_id = %s ORDER BY 1, 2, 3, 4
"""
_PLAYERS_FROM_EVENTS = """
SELECT DISTINCT ON (player_id) player_id, event_time, (event_time AT TIME ZONE 'UTC')::date,
       coalesce(platform, ''), coalesce(country, ''), coalesce(app_version, ''), event_id
FROM events WHERE game_id = %s ORDER BY player_id, event_time, event_id
"""
_PLAYERS = """
SELECT player_id, first_seen, first_day, platform, country, app_version, first_event_id
FROM players WHERE game_id = %s ORDER BY player_id
"""
_REVENUE_FROM_EVENTS = """
SELECT (event_time AT TIME ZONE 'UTC')::date, coalesce(platform, ''), coalesce(country, ''),
       coalesce(app_version, ''), currency, round(sum(amount)::numeric, 6), count(*)
FROM events WHERE game_id = %s AND event_type = 'purchase'
GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
"""
_REVENUE = """
SELECT day, platform, country, app_version, currency, round(amount::numeric, 6), purchases
FROM daily_revenue WHERE game_id = %s ORDER BY 1, 2, 3, 4, 5
"""
_COUNTS_FROM_EVENTS = """
SELECT date_trunc('minute', event_time, 'UTC'), event_type, count(*)
FROM events WHERE game_id = %s GROUP BY 1, 2 ORDER BY 1, 2
"""
_COUNTS = "SELECT minute, event_type, events FROM event_counts WHERE game_id = %s ORDER BY 1, 2"

_DAILY_STATS_FROM_EVENTS = """
SELECT day, count(DISTINCT player_id), count(DISTINCT player_id) FILTER (WHERE session_end),
       count(DISTINCT player_id) FILTER (WHERE purchase), count(*),
       count(*) FILTER (WHERE session_end),
       round(coalesce(sum(duration_seconds) FILTER (WHERE session_end), 0)::numeric, 6),
       count(*) FILTER (WHERE purchase)
FROM (SELECT (event_time AT TIME ZONE 'UTC')::date AS day, player_id, duration_seconds,
             event_type = 'session_end' AS session_end, event_type = 'purchase' AS purchase
      FROM events WHERE game_id = %s) AS e
GROUP BY 1 ORDER BY 1
"""
_DAILY_STATS = """
SELECT day, players, session_players, paying_players, events, sessions,
       round(session_seconds::numeric, 6), purchases
FROM daily_stats WHERE game_id = %s ORDER BY 1
"""
# Each player's first event (as _PLAYERS_FROM_EVENTS) and the days they were active.
_COHORT_ACTIVITY_FROM_EVENTS = """
WITH e AS (
    SELECT player_id, event_time, event_id, (event_time AT TIME ZONE 'UTC')::date AS day,
           coalesce(platform, '') AS platform, coalesce(country, '') AS country,
           coalesce(app_version, '') AS app_version
    FROM events WHERE game_id = %s
),
first AS (
    SELECT DISTINCT ON (player_id) player_id, day AS first_day, platform, country, app_version
    FROM e ORDER BY player_id, event_time, event_id
)
SELECT f.first_day, a.day - f.first_day, f.platform, f.country, f.app_version, count(*)
FROM first f JOIN (SELECT DISTINCT player_id, day FROM e) a USING (player_id)
GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
"""
# A player moved to another cohort by a late event leaves a 0 behind.
_COHORT_ACTIVITY = """
SELECT first_day, day_n, platform, country, app_version, players FROM cohort_activity
WHERE game_id = %s AND players <> 0 ORDER BY 1, 2, 3, 4, 5
"""

# Tests receive everything within minutes: the whole game is inside the live window.
_LIVE_SECONDS_FROM_EVENTS = """
SELECT date_trunc('second', received_at), count(*) FROM events WHERE game_id = %s
GROUP BY 1 ORDER BY 1
"""
_LIVE_SECONDS = "SELECT second, events FROM live_seconds WHERE game_id = %s ORDER BY 1"
_LIVE_PLAYERS_FROM_EVENTS = """
SELECT player_id, max(received_at) FROM events WHERE game_id = %s GROUP BY 1 ORDER BY 1
"""
_LIVE_PLAYERS = "SELECT player_id, last_received FROM live_players WHERE game_id = %s ORDER BY 1"

PAIRS = {
    "player_days": (_PLAYER_DAYS, _PLAYER_DAYS_FROM_EVENTS),
    "segment_days": (_SEGMENT_DAYS, _SEGMENT_DAYS_FROM_EVENTS),
    "players": (_PLAYERS, _PLAYERS_FROM_EVENTS),
    "daily_revenue": (_REVENUE, _REVENUE_FROM_EVENTS),
    "daily_stats": (_DAILY_STATS, _DAILY_STATS_FROM_EVENTS),
    "cohort_activity": (_COHORT_ACTIVITY, _COHORT_ACTIVITY_FROM_EVENTS),
    "event_counts": (_COUNTS, _COUNTS_FROM_EVENTS),
    "live_seconds": (_LIVE_SECONDS, _LIVE_SECONDS_FROM_EVENTS),
    "live_players": (_LIVE_PLAYERS, _LIVE_PLAYERS_FROM_EVENTS),
}


def rollup_differences(
    dsn: str, game_id: uuid.UUID | str
) -> dict[str, tuple[list[Any], list[Any]]]:
    """Each rollup whose rows differ from the recomputation: {name: (kept, recomputed)}."""
    differences = {}
    with psycopg.connect(dsn) as conn:
        for name, (kept_sql, recomputed_sql) in PAIRS.items():
            kept = conn.execute(kept_sql, (game_id,)).fetchall()
            recomputed = conn.execute(recomputed_sql, (game_id,)).fetchall()
            if kept != recomputed:
                differences[name] = (kept, recomputed)
    return differences


def stored_ids(dsn: str, game_id: uuid.UUID | str) -> list[str]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT event_id::text FROM events WHERE game_id = %s", (game_id,)
        ).fetchall()
    return [r[0] for r in rows]


def _close(kept: Any, recomputed: Any, rel_tol: float) -> bool:
    if isinstance(kept, tuple):
        return len(kept) == len(recomputed) and all(
            _close(a, b, rel_tol) for a, b in zip(kept, recomputed, strict=True)
        )
    if isinstance(kept, (float, Decimal)) and isinstance(recomputed, (float, Decimal)):
        return math.isclose(float(kept), float(recomputed), rel_tol=rel_tol, abs_tol=1e-6)
    return bool(kept == recomputed)


def rollup_differences_within(
    dsn: str, game_id: uuid.UUID | str, rel_tol: float = 1e-12
) -> dict[str, tuple[list[Any], list[Any]]]:
    """As `rollup_differences`, sums compared to `rel_tol`: a double sum depends on the
    order of its terms, and near the bounds (1e12 per amount) that shows at 6 decimals."""
    differences = {}
    with psycopg.connect(dsn) as conn:
        for name, (kept_sql, recomputed_sql) in PAIRS.items():
            kept = conn.execute(kept_sql, (game_id,)).fetchall()
            recomputed = conn.execute(recomputed_sql, (game_id,)).fetchall()
            if len(kept) != len(recomputed) or not all(
                _close(a, b, rel_tol) for a, b in zip(kept, recomputed, strict=True)
            ):
                differences[name] = (kept, recomputed)
    return differences


def game_state(dsn: str, game_id: uuid.UUID | str) -> dict[str, list[Any]]:
    """Everything stored of a game: its events and every rollup's rows."""
    with psycopg.connect(dsn) as conn:
        state = {
            name: conn.execute(kept_sql, (game_id,)).fetchall()
            for name, (kept_sql, _) in PAIRS.items()
        }
        state["events"] = conn.execute(
            "SELECT * FROM events WHERE game_id = %s ORDER BY event_id", (game_id,)
        ).fetchall()
    return state
