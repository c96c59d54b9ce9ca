"""Where a retention pass's time goes, phase by phase, on the retention benchmark's data.

Copies a data folder of `gamemetrics bench retention --data-dir DIR` (or of the analytics
benchmark), starts an own platform on the copy and an own S3, sets the game's hot_days
and late horizon to `--hot-days`, then runs one pass in this process under cProfile and
prints the cumulative seconds of each phase (COPY read, encode, upload, read back,
verify, the dropping transaction...) against the pass's whole time.

    python -m apps.bench.experiments.retention_phases --data-dir DIR [--hot-days N]
"""

import cProfile
import pstats
import sys
import tempfile
from pathlib import Path
from typing import Final

import psycopg

from apps.bench import analytics_load
from apps.bench.experiments import argument_parser
from apps.bench.platform import platform
from apps.bench.retention import BUCKET, set_windows
from apps.core.settings.retention import RetentionSettings
from apps.local import process
from apps.local.servers import EmbeddedS3
from apps.retention.passes import Pass
from apps.s3.client import client, ensure_buckets

PHASES: Final = (
    ("wait for the processor's offsets", "passes.py", "_wait_for_processor"),
    ("games of each partition (skip scan)", "raw_events.py", "games_in"),
    ("fold and count a partition (drop)", "raw_events.py", "fold_partition"),
    ("list the day's objects", "objects.py", "day_objects"),
    ("COPY read into Arrow (stream_day)", "raw_events.py", "stream_day"),
    ("encode: sort, Parquet, zstd", "parquet.py", "encode"),
    ("event-id checksums", "checksum.py", "column_checksum"),
    ("upload the parts", "objects.py", "put_part"),
    ("write the manifest", "objects.py", "put_manifest"),
    ("read the parts back", "objects.py", "get_part"),
    ("verify them (decode, checksum)", "archiver.py", "check_part"),
    ("catalog + DROP partition (one transaction)", "passes.py", "_drop"),
    ("catalog + DELETE rows (one transaction)", "archiver.py", "commit"),
    ("expire archived days", "passes.py", "_expire"),
    ("sweep leftovers", "passes.py", "_sweep"),
)  # fmt: skip
"""(phase, file, function): its cumulative time in the profile."""


def cumulative(stats: pstats.Stats, file: str, function: str) -> float:
    table = stats.stats  # type: ignore[attr-defined]
    return float(sum(v[3] for (path, _, name), v in table.items()
                     if name == function and path.endswith(file)))  # fmt: skip


def main() -> None:
    parser = argument_parser(__file__, __doc__)
    parser.add_argument("--data-dir", type=Path, required=True, metavar="DIR",
                        help="a loaded data folder (bench retention --data-dir)")  # fmt: skip
    parser.add_argument("--hot-days", type=int, default=1, metavar="N")
    args = parser.parse_args()
    manifest = analytics_load.read_manifest(args.data_dir)
    if manifest is None or not manifest.complete:
        sys.exit(f"{args.data_dir} holds no complete data set")
    say = print
    game_id = manifest.spec().game_id
    with tempfile.TemporaryDirectory(prefix="retention-phases-") as f, \
            platform(say, postgres_from=args.data_dir / "pg") as plat:  # fmt: skip
        s3 = EmbeddedS3("s3", Path(f) / "s3.log", data_dir=Path(f) / "s3",
                        port=process.free_port())  # fmt: skip
        s3.start()
        try:
            ensure_buckets(client(s3.settings), [BUCKET])
            with psycopg.connect(plat.postgres_dsn) as conn:
                due = set_windows(conn, game_id, args.hot_days)
            settings = RetentionSettings(
                postgres_dsn=plat.postgres_dsn, kafka_bootstrap=plat.target.kafka_bootstrap or "",
                archive_bucket=BUCKET, s3=s3.settings,
            )  # fmt: skip
            the_pass = Pass(settings, client(s3.settings), only=frozenset({game_id}))
            profile = cProfile.Profile()
            report = profile.runcall(the_pass.run)
        finally:
            s3.stop(10)
    stats = pstats.Stats(profile)
    total = report.seconds
    print(f"pass: {report.rows_archived:,} rows of {len(due.rows)} days in {total:.2f} s "
          f"({report.rows_archived / total:,.0f} rows/s, under cProfile)")  # fmt: skip
    for name, file, function in PHASES:
        seconds = cumulative(stats, file, function)
        print(f"  {name:<44} {seconds:8.2f} s  {seconds / total:6.1%}")


if __name__ == "__main__":
    main()
