"""Where the processor's writer spends its time, statement by statement.

PostgreSQL is the largest cost per event in `gamemetrics bench pipeline`
(docs/benchmarks.md); this says which of `BatchWriter.write`'s statements it
is. Starts a scratch embedded PostgreSQL, writes `rows` of the pipeline
benchmark's events in 5,000-row batches, and prints the wall time of each
statement per row (client and server; the transaction's commit is not one of
them).

    python -m apps.bench.experiments.writer_statements [rows] [--events-per-player N]
"""

import time
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import psycopg

import apps.processor.store as store
from apps.bench import storage
from apps.bench.experiments import argument_parser, scratch_postgres
from apps.bench.unique import unique_requests


def main() -> None:
    parser = argument_parser(__file__, __doc__)
    parser.add_argument(
        "rows",
        type=int,
        nargs="?",
        default=300_000,
        help="rows written, in 5,000-row batches (default 300,000)",
    )
    parser.add_argument(
        "--events-per-player", type=int, default=0, metavar="N",
        help="consecutive events of one player (default: a whole 100-event request)",
    )  # fmt: skip
    parser.add_argument("--players", type=int, default=20_000, metavar="N",
                        help="players in the pool (default 20,000)")  # fmt: skip
    args = parser.parse_args()
    rows: int = args.rows
    with scratch_postgres("writer-statements-") as pg:
        spent: defaultdict[str, float] = defaultdict(float)
        copy_rows, execute = store.copy_rows, psycopg.Cursor.execute

        def timed_copy(cur: Any, table: str, batch: Any) -> None:
            started = time.perf_counter()
            copy_rows(cur, table, batch)
            spent[f"COPY {table}"] += time.perf_counter() - started

        def timed_execute(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            result = execute(self, query, *args, **kwargs)
            spent[" ".join(str(query).split())[:72]] += time.perf_counter() - started
            return result

        store.copy_rows = timed_copy  # type: ignore[assignment]
        psycopg.Cursor.execute = timed_execute  # type: ignore[method-assign]
        source = unique_requests(host="bench", port=1, path="/v1/events", headers={},
                                 templates=200, events=100, phase=1, players=args.players,
                                 now=datetime.now(UTC),
                                 events_per_player=args.events_per_player)  # fmt: skip
        result = storage.writer_in_process(pg.url, source, rows, 5000)
        print(f"writer: {result.per_s:,.0f} rows/s, {1e6 / result.per_s:.1f} µs per row")
        for statement, seconds in sorted(spent.items(), key=lambda kv: -kv[1])[:12]:
            print(f"{1e6 * seconds / rows:6.2f} µs/row  {statement}")


if __name__ == "__main__":
    main()
