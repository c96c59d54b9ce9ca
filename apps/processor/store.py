"""Step 3 of the chain: one batch into PostgreSQL in one transaction, idempotently.

The batch is copied into a temporary table; event ids are claimed in
`event_keys` (ON CONFLICT DO NOTHING); only the events claimed now — fresh
ones — go into `events` and into every rollup. A replayed batch claims
nothing, so it changes nothing.
"""

from dataclasses import dataclass
from datetime import date
from typing import Final

import psycopg
from psycopg.rows import TupleRow

from apps.processor.partitions import Partitions
from apps.processor.records import COLUMNS, EVENT_TIME, Row

_COLS: Final = ", ".join(COLUMNS)

_SETUP: Final = (
    "CREATE TEMP TABLE IF NOT EXISTS incoming (LIKE events) ON COMMIT DELETE ROWS",
    "CREATE TEMP TABLE IF NOT EXISTS fresh (LIKE events) ON COMMIT DELETE ROWS",
)

# Built from the constant column list only: nothing here comes from input.
_CLAIM: Final = f"""
WITH claimed AS (
    INSERT INTO event_keys (game_id, event_id, event_day)
    SELECT DISTINCT ON (game_id, event_id) game_id, event_id, (event_time AT TIME ZONE 'UTC')::date
    FROM incoming ORDER BY game_id, event_id, received_at
    ON CONFLICT DO NOTHING
    RETURNING game_id, event_id
)
INSERT INTO fresh ({_COLS})
SELECT DISTINCT ON (i.game_id, i.event_id) {", ".join("i." + c for c in COLUMNS)}
FROM incoming i JOIN claimed USING (game_id, event_id)
ORDER BY i.game_id, i.event_id, i.received_at
"""  # noqa: S608

_STORE: Final = f"INSERT INTO events ({_COLS}) SELECT {_COLS} FROM fresh"  # noqa: S608

_PLAYERS: Final = """
INSERT INTO players AS p (game_id, player_id, first_seen, first_day, platform, country, app_version)
SELECT DISTINCT ON (game_id, player_id)
       game_id, player_id, event_time, (event_time AT TIME ZONE 'UTC')::date,
       coalesce(platform, ''), coalesce(country, ''), coalesce(app_version, '')
FROM fresh ORDER BY game_id, player_id, event_time, event_id
ON CONFLICT (game_id, player_id) DO UPDATE
SET first_seen = excluded.first_seen, first_day = excluded.first_day,
    platform = excluded.platform, country = excluded.country, app_version = excluded.app_version
WHERE excluded.first_seen < p.first_seen
"""

_PLAYER_DAYS: Final = """
INSERT INTO player_days AS d (game_id, day, player_id, platform, country, app_version,
                              events, sessions, session_seconds, purchases)
SELECT game_id, (event_time AT TIME ZONE 'UTC')::date, player_id,
       coalesce(platform, ''), coalesce(country, ''), coalesce(app_version, ''),
       count(*),
       count(*) FILTER (WHERE event_type = 'session_end'),
       coalesce(sum(duration_seconds) FILTER (WHERE event_type = 'session_end'), 0),
       count(*) FILTER (WHERE event_type = 'purchase')
FROM fresh GROUP BY 1, 2, 3, 4, 5, 6
ON CONFLICT (game_id, day, player_id, platform, country, app_version) DO UPDATE
SET events = d.events + excluded.events, sessions = d.sessions + excluded.sessions,
    session_seconds = d.session_seconds + excluded.session_seconds,
    purchases = d.purchases + excluded.purchases
"""

_REVENUE: Final = """
INSERT INTO daily_revenue AS r (game_id, day, platform, country, app_version, currency,
                                amount, purchases)
SELECT game_id, (event_time AT TIME ZONE 'UTC')::date,
       coalesce(platform, ''), coalesce(country, ''), coalesce(app_version, ''), currency,
       sum(amount), count(*)
FROM fresh WHERE event_type = 'purchase' GROUP BY 1, 2, 3, 4, 5, 6
ON CONFLICT (game_id, day, platform, country, app_version, currency) DO UPDATE
SET amount = r.amount + excluded.amount, purchases = r.purchases + excluded.purchases
"""

_COUNTS: Final = """
INSERT INTO event_counts AS c (game_id, minute, event_type, events)
SELECT game_id, date_trunc('minute', event_time, 'UTC'), event_type, count(*)
FROM fresh GROUP BY 1, 2, 3
ON CONFLICT (game_id, minute, event_type) DO UPDATE SET events = c.events + excluded.events
"""


@dataclass(frozen=True, slots=True)
class Written:
    received: int
    stored: int
    """Events stored for the first time; the rest were duplicates or replays."""


class BatchWriter:
    """Writes batches over one connection (autocommit off; one transaction per batch)."""

    def __init__(self, conn: psycopg.Connection[TupleRow], partitions: Partitions) -> None:
        self._conn = conn
        self._partitions = partitions
        conn.autocommit = True
        for stmt in _SETUP:
            conn.execute(stmt)

    def write(self, rows: list[Row]) -> Written:
        """Store a batch; raises psycopg errors (OperationalError: retry; DataError: bad row)."""
        days: set[date] = {row[EVENT_TIME].date() for row in rows}  # type: ignore[attr-defined]
        self._partitions.ensure(self._conn, days)
        with self._conn.transaction():
            cur = self._conn.cursor()
            with cur.copy(f"COPY incoming ({_COLS}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cur.execute(_CLAIM)
            stored = cur.rowcount
            if stored:
                for stmt in (_STORE, _PLAYERS, _PLAYER_DAYS, _REVENUE, _COUNTS):
                    cur.execute(stmt)
        return Written(len(rows), stored)
