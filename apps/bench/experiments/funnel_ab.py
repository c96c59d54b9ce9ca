"""The funnel query of two revisions, interleaved on the analytics benchmark's data.

    python -m apps.bench.experiments.funnel_ab DATA_DIR REVISION

DATA_DIR is a folder `gamemetrics bench analytics --data-dir` loaded; REVISION
a git revision whose `apps/analytics/queries/funnel.py` is compared with the
working tree's, on 3 rounds of 10 seven-day ranges (the last one filtered on
platform ios), alternating which runs first. Both must give the same answers.
"""

import asyncio
import importlib.util
import statistics
import subprocess
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from types import ModuleType

import psycopg

from apps.bench.experiments import argument_parser
from apps.core.periods import Segment
from apps.local import process
from apps.local.servers import EmbeddedPostgres

STEPS = ["session_start", "level_complete", "purchase"]
current = importlib.import_module("apps.analytics.queries.funnel")


def load_revision(revision: str) -> ModuleType:
    text = subprocess.run(
        ["git", "show", f"{revision}:apps/analytics/queries/funnel.py"],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    path = Path(tempfile.mkdtemp()) / "funnel_revision.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location("funnel_revision", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def compare(dsn: str, other: ModuleType) -> None:
    conn = await psycopg.AsyncConnection.connect(dsn, autocommit=True)
    query = "SELECT game_id, max(day) FROM daily_stats GROUP BY game_id LIMIT 1"
    row = await (await conn.execute(query)).fetchone()
    assert row is not None, "no data: load it with gamemetrics bench analytics --data-dir"
    game, last = row
    times: dict[str, list[float]] = {"revision": [], "working tree": []}
    for round_ in range(3):
        for k in range(10):
            first = last - timedelta(days=6 + 8 * k)
            segment = Segment(platform="ios") if k == 9 else Segment()
            pair = [("revision", other), ("working tree", current)]
            answers = {}
            for name, module in pair if (round_ + k) % 2 else pair[::-1]:
                started = time.perf_counter()
                answers[name] = await module.funnel(
                    conn, game, first, first + timedelta(days=6), STEPS, 86_400, segment
                )
                times[name].append(1000 * (time.perf_counter() - started))
            got = {name: [(s.step, s.users) for s in steps] for name, steps in answers.items()}
            assert got["revision"] == got["working tree"], got
    for name, ms in times.items():
        ms.sort()
        p95 = ms[int(0.95 * len(ms)) - 1]
        print(
            f"{name:<13} p50 {statistics.median(ms):6.0f} ms  p95 {p95:6.0f} ms  ({len(ms)} runs)"
        )
    await conn.close()


def main() -> None:
    parser = argument_parser(__file__, __doc__)
    parser.add_argument(
        "data_dir",
        type=Path,
        metavar="DATA_DIR",
        help="a folder `gamemetrics bench analytics --data-dir` loaded",
    )
    parser.add_argument(
        "revision", metavar="REVISION", help="the git revision whose funnel.py is compared"
    )
    args = parser.parse_args()
    folder: Path = args.data_dir
    revision: str = args.revision
    pg = EmbeddedPostgres("postgres", folder / "logs" / "funnel_ab.log", data_dir=folder / "pg",
                          port=process.free_port())  # fmt: skip
    pg.start()
    try:
        asyncio.run(compare(pg.url, load_revision(revision)))
    finally:
        pg.stop(60)


if __name__ == "__main__":
    main()
