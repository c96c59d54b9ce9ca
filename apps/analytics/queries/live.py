"""liveStats: what was received in the last minute and the last five, by RECEIVE time.

`live_seconds` counts events per whole second of receive time, so "the last
60 s" is the 60 seconds s with now - 60 s < s <= now: the second holding
`now` counts (its events up to now, and any received later within it), the
second that began exactly 60 s before does not. Players count when their
latest receive time is after now - 5 min: only the latest is kept, so a
receipt stamped after `now` (a clock ahead of the database's, or `now` in
the past) cannot hide the receipts before it.
"""

import uuid
from datetime import datetime, timedelta

from psycopg import sql

from apps.analytics.queries.common import Conn, fetch_all
from apps.analytics.results import LiveStats

MINUTE = timedelta(seconds=60)
PLAYERS_WINDOW = timedelta(minutes=5)

_LIVE = """
WITH at AS (SELECT coalesce(%(now)s::timestamptz, now()) AS now)
SELECT
    (SELECT coalesce(sum(events), 0)::bigint FROM live_seconds, at
     WHERE game_id = %(game)s AND second > at.now - %(minute)s AND second <= at.now),
    (SELECT count(*) FROM live_players, at
     WHERE game_id = %(game)s AND last_received > at.now - %(players)s)
"""


async def live_stats(conn: Conn, game_id: uuid.UUID, now: datetime | None = None) -> LiveStats:
    """`now` None: the database's now() (the start of the caller's transaction)."""
    rows = await fetch_all(
        conn, sql.SQL(_LIVE),
        {"game": game_id, "now": now, "minute": MINUTE, "players": PLAYERS_WINDOW},
    )  # fmt: skip
    events, players = rows[0]
    return LiveStats(events, events / MINUTE.total_seconds(), players)
