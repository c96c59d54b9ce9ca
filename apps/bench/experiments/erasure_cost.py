"""How long erasing one player takes, and how long the game's batches wait for it.

Starts a scratch embedded PostgreSQL, stores the analytics benchmark's history of
one game (`events` events of `--players` players over 90 days) and one player's
`--player-events` events spread evenly over the same 90 days (sessions of 10
events, a purchase in each) through the processor's writer, then erases that
player (`apps.store.erasure.erase_player`) and prints the wall time and counts.
The erasure holds the game's lock all along: that time is how long the processor's
batches of the game wait.

    python -m apps.bench.experiments.erasure_cost [events] [--player-events N]
"""

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import psycopg

from apps.bench.analytics_data import DataSpec, batches
from apps.bench.experiments import argument_parser, scratch_postgres
from apps.processor.partitions import Partitions
from apps.processor.records import Row
from apps.processor.store import BatchWriter
from apps.store.erasure import erase_player

DAYS = 90
KINDS = ("session_start", "level_start", "purchase", *["design"] * 6, "session_end")


def player_rows(game_id: uuid.UUID, first_day: date, per_day: int) -> Iterator[list[Row]]:
    """One player's `per_day` events on each day, a day per list."""
    for d in range(DAYS):
        start = datetime.combine(first_day + timedelta(days=d), datetime.min.time(), UTC)
        rows: list[Row] = []
        for i in range(per_day):
            at = start + timedelta(hours=8, seconds=20 * i)
            kind = KINDS[i % len(KINDS)]
            rows.append((
                game_id, uuid.uuid4(), kind, "erased-player", f"s{d}-{i // 10}", at, at, at,
                "ios" if d % 7 else "android", "DE", "1.2.0", "{}",
                300.5 if kind == "session_end" else None, 4.99 if kind == "purchase" else None,
                "EUR" if kind == "purchase" else None, None, None, None,
            ))  # fmt: skip
        yield rows


def main() -> None:
    parser = argument_parser(__file__, __doc__)
    parser.add_argument("events", type=int, nargs="?", default=2_000_000,
                        help="events of the game's history (default 2,000,000)")  # fmt: skip
    parser.add_argument("--players", type=int, default=40_000, metavar="N")
    parser.add_argument("--player-events", type=int, default=10_000, metavar="N",
                        help="events of the erased player (default 10,000)")  # fmt: skip
    args = parser.parse_args()
    with scratch_postgres("erasure-cost-") as pg:
        game = uuid.uuid4()
        first_day = datetime.now(UTC).date() - timedelta(days=DAYS + 5)
        spec = DataSpec(game, first_day, events=args.events, players=args.players, days=DAYS)
        started = time.perf_counter()
        with psycopg.connect(pg.url) as conn:
            writer = BatchWriter(conn, Partitions())
            for batch in batches(spec):
                writer.write(batch)
            per_day = -(-args.player_events // DAYS)
            for rows in player_rows(game, first_day, per_day):
                writer.write(rows)
            conn.execute("VACUUM ANALYZE")
        print(f"stored {args.events + per_day * DAYS:,} events in "
              f"{time.perf_counter() - started:.0f} s")  # fmt: skip
        with psycopg.connect(pg.url, autocommit=True) as conn:
            started = time.perf_counter()
            counts = erase_player(conn, game, "erased-player")
            took = time.perf_counter() - started
        print(f"erased {counts.removed['events']:,} events of one player over {DAYS} days "
              f"in {took:.2f} s")  # fmt: skip
        print(", ".join(f"{k} {v}" for k, v in counts.flat().items()))


if __name__ == "__main__":
    main()
