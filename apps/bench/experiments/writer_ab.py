"""The processor's writer of a git revision against the working tree's, batch by batch.

Two databases in one scratch embedded PostgreSQL: A is migrated with the
revision's migrations and written by its `apps/processor/store.py`, B with the
working tree's. The same rows (the pipeline benchmark's requests, split among
players by `--events-per-player`) go to both in 5,000-row batches, alternating
A, B / B, A so that the machine's drift falls on both; prints µs per row
(median and mean, after the first fifth) and B/A per batch. `--sql-b` runs SQL
in B first (a setting, a table option) to try a change without code.

    python -m apps.bench.experiments.writer_ab ROWS --events-per-player N [--rev REV]
"""

import statistics
import subprocess
import time
import types
from datetime import UTC, datetime
from typing import Any

import psycopg

import apps.processor.store as store_b
from apps.bench import storage
from apps.bench.experiments import argument_parser, scratch_postgres
from apps.bench.unique import unique_requests
from apps.processor.partitions import Partitions
from apps.store.migrate import migration_files

BATCH = 5000


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], capture_output=True, text=True, check=True).stdout


def _revision_store(rev: str) -> Any:
    """The revision's store module (it imports the working tree's partitions and records)."""
    module = types.ModuleType(f"store_{rev}")
    exec(compile(_git("show", f"{rev}:apps/processor/store.py"), module.__name__, "exec"),  # noqa: S102
         module.__dict__)  # fmt: skip
    return module


def main() -> None:
    parser = argument_parser(__file__, __doc__)
    parser.add_argument("rows", type=int, help="rows written to each database")
    parser.add_argument("--events-per-player", type=int, default=10, metavar="N")
    parser.add_argument("--players", type=int, default=50_000, metavar="N")
    parser.add_argument("--rev", default="HEAD", help="the revision of A (default HEAD)")
    parser.add_argument("--sql-b", default="", metavar="SQL", help="run in B before writing")
    args = parser.parse_args()
    store_a = _revision_store(args.rev)
    migrations_a = set(_git("ls-tree", "--name-only", args.rev, "apps/store/migrations/").split())
    with scratch_postgres("writer-ab-", migrated=False) as pg:
        with psycopg.connect(pg.url, autocommit=True) as admin:
            for name in ("a", "b"):
                admin.execute(f"CREATE DATABASE {name}")
        dsn = {name: pg.url.rsplit("/", 1)[0] + "/" + name for name in ("a", "b")}
        for name in ("a", "b"):
            with psycopg.connect(dsn[name], autocommit=True) as conn:
                for version, text in migration_files():
                    if name == "a" and f"apps/store/migrations/{version}.sql" not in migrations_a:
                        continue
                    conn.execute(text.encode())
                if name == "b" and args.sql_b:
                    conn.execute(args.sql_b.encode())
        source = unique_requests(
            host="bench", port=1, path="/v1/events", headers={}, templates=200, events=100,
            phase=1, players=args.players, now=datetime.now(UTC),
            events_per_player=args.events_per_player,
        )  # fmt: skip
        rows = storage.bench_rows(source, args.rows, storage.SCRATCH_GAME)
        writers = {
            "a": store_a.BatchWriter(psycopg.connect(dsn["a"]), store_a.Partitions()),
            "b": store_b.BatchWriter(psycopg.connect(dsn["b"]), Partitions()),
        }
        spent: dict[str, list[float]] = {"a": [], "b": []}
        for at in range(0, args.rows, BATCH):
            batch = rows[at : at + BATCH]
            for name in ("a", "b") if (at // BATCH) % 2 == 0 else ("b", "a"):
                started = time.perf_counter()
                writers[name].write(batch)
                spent[name].append(time.perf_counter() - started)
        warm = len(spent["a"]) // 5
        for name, label in (("a", f"A {args.rev}"), ("b", "B working tree")):
            per_row = [1e6 * s / BATCH for s in spent[name][warm:]]
            print(f"{label}: median {statistics.median(per_row):.2f} µs/row, "
                  f"mean {statistics.mean(per_row):.2f}")  # fmt: skip
        ratios = [b / a for a, b in zip(spent["a"][warm:], spent["b"][warm:], strict=True)]
        print(f"B/A per batch: median {statistics.median(ratios):.3f} over {len(ratios)} "
              f"batches ({args.events_per_player} events per player, {args.players:,} "
              "players)")  # fmt: skip


if __name__ == "__main__":
    main()
