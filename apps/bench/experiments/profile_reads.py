"""How long a player's profile takes to read (apps/store/profiles.py), with and without an
index led by (game_id, player_id) on `events`.

Starts a scratch embedded PostgreSQL and fills one game with `events` events
of `players` players over 90 days in daily partitions (in time order, as the
processor stores them), plus one player with `--whale` events spread over the
same days, and the `players` and `player_days` rows the processor would keep.
Then reads the whale's profile and an unknown player's: wall time (median of
five, warm) and the plan's buffers, first without, then with
`CREATE INDEX ON events (game_id, player_id, event_time)`, whose build time and
size are printed too.

    python -m apps.bench.experiments.profile_reads [--events N] [--players N] [--whale N]
"""

import statistics
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg

from apps.bench.experiments import argument_parser, scratch_postgres
from apps.processor.partitions import Partitions
from apps.store import profiles

DAYS = 90
WHALE = "whale"

# One day of events: the crowd's share of the day and the whale's, in time order. Every
# 10th event is a session_end, every 40th a purchase (in one of three currencies).
_DAY = """
INSERT INTO events (game_id, event_id, event_type, player_id, session_id, event_time,
                    client_time, received_at, platform, country, app_version, properties,
                    duration_seconds, amount, currency)
SELECT %(game)s, gen_random_uuid(), t.event_type, t.player_id, 's', t.at, t.at, t.at, 'ios',
       'DE', '2.6.0', '{"level":3}',
       CASE WHEN t.event_type = 'session_end' THEN 300.5 END,
       CASE WHEN t.event_type = 'purchase' THEN 4.99 END,
       CASE WHEN t.event_type = 'purchase' THEN (ARRAY['USD','EUR','JPY'])[1 + t.n %% 3] END
FROM (
    SELECT n, CASE WHEN n %% 40 = 0 THEN 'purchase' WHEN n %% 10 = 0 THEN 'session_end'
                   ELSE 'level_start' END AS event_type,
           player_id, at
    FROM (SELECT n, 'p' || (n * 7919 %% %(players)s) AS player_id,
                 %(start)s + (n - %(first)s) * %(step)s AS at
          FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS n
          UNION ALL
          SELECT n, %(whale)s, %(start)s + (n - %(wfirst)s) * %(wstep)s
          FROM generate_series(%(wfirst)s::bigint, %(wlast)s::bigint) AS n) AS raw
    ORDER BY at
) t
"""

_ROLLUPS = (
    """INSERT INTO players (game_id, player_id, first_seen, first_day, platform, country,
                            app_version, first_event_id)
       SELECT DISTINCT ON (player_id) game_id, player_id, event_time,
              (event_time AT TIME ZONE 'UTC')::date, 'ios', 'DE', '2.6.0', event_id
       FROM events ORDER BY player_id, event_time, event_id""",
    """INSERT INTO player_days (game_id, day, player_id, platform, country, app_version,
                                played, paid)
       SELECT game_id, (event_time AT TIME ZONE 'UTC')::date, player_id, 'ios', 'DE', '2.6.0',
              bool_or(event_type = 'session_end'), bool_or(event_type = 'purchase')
       FROM events GROUP BY 1, 2, 3""",
)


def fill(conn: psycopg.Connection[Any], game: uuid.UUID, events: int, players: int,
         whale: int) -> None:  # fmt: skip
    first_day = date.today() - timedelta(days=DAYS)
    Partitions().ensure(conn, (first_day + timedelta(days=d) for d in range(DAYS)))
    per_day, whale_per_day = events // DAYS, whale // DAYS
    for d in range(DAYS):
        start = datetime.combine(first_day + timedelta(days=d), datetime.min.time(), UTC)
        with conn.transaction():
            conn.execute(_DAY, {
                "game": game, "players": players, "start": start, "whale": WHALE,
                "first": d * per_day, "last": (d + 1) * per_day - 1,
                "step": timedelta(seconds=86399 / per_day),
                "wfirst": d * whale_per_day, "wlast": (d + 1) * whale_per_day - 1,
                "wstep": timedelta(seconds=86399 / whale_per_day),
            })  # fmt: skip
    for stmt in _ROLLUPS:
        with conn.transaction():
            conn.execute(stmt)
    conn.execute("VACUUM ANALYZE")


def measure(
    conn: psycopg.Connection[Any], game: uuid.UUID, label: str, show_plan: bool = False
) -> None:
    for player in (WHALE, "nobody"):
        times = []
        for _ in range(6):
            started = time.perf_counter()
            profile = profiles.player_profile(conn, game, player)
            times.append(time.perf_counter() - started)
        plan = conn.execute(
            "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + profiles._PROFILE,
            {"game": game, "player": player},
        ).fetchone()
        assert plan is not None
        top = plan[0][0]
        buffers = top["Plan"]["Shared Hit Blocks"] + top["Plan"]["Shared Read Blocks"]
        found = "none" if profile is None else f"{len(profile.last_events)} last events"
        if player == WHALE and show_plan:
            text = conn.execute(
                "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + profiles._PROFILE,
                {"game": game, "player": player},
            ).fetchall()
            print("\n".join(line for (line,) in text))
        print(f"{label:>14} {player:>7}: {1000 * statistics.median(times[1:]):9.1f} ms"
              f" (median of 5 warm), {buffers:,} buffers, {found}")  # fmt: skip


def main() -> None:
    parser = argument_parser(__file__, __doc__)
    parser.add_argument("--events", type=int, default=10_000_000, help="the crowd's events")
    parser.add_argument("--players", type=int, default=200_000, help="the crowd's players")
    parser.add_argument("--whale", type=int, default=10_080, help="the one player's events")
    parser.add_argument("--plan", action="store_true", help="print the whale's plans")
    args = parser.parse_args()
    with scratch_postgres("profile-reads-") as pg:
        game = uuid.uuid4()
        with psycopg.connect(pg.url, autocommit=True) as conn:
            started = time.perf_counter()
            fill(conn, game, args.events, args.players, args.whale)
            took = time.perf_counter() - started
            print(f"filled {args.events:,} + {args.whale:,} events of {args.players:,} + 1"
                  f" players over {DAYS} days in {took:.0f} s")  # fmt: skip
            measure(conn, game, "no index", args.plan)
            started = time.perf_counter()
            conn.execute("CREATE INDEX events_player ON events (game_id, player_id, event_time)")
            conn.execute("ANALYZE events")
            size = conn.execute(
                "SELECT pg_size_pretty(sum(pg_relation_size(indexrelid))) FROM pg_index"
                " WHERE indrelid IN (SELECT inhrelid FROM pg_inherits"
                " WHERE inhparent = 'events'::regclass)"
                " AND pg_get_indexdef(indexrelid) LIKE '%%player_id%%'"
            ).fetchone()
            print(f"index built in {time.perf_counter() - started:.0f} s,"
                  f" {size[0] if size else '?'}")  # fmt: skip
            measure(conn, game, "player index", args.plan)


if __name__ == "__main__":
    main()
