"""The analytics data set in a folder of its own, loaded once and copied by each run (the
privacy and retention benchmarks start their platform from a copy: `platform(...,
postgres_from=folder / "pg")`, so every run starts from the same data)."""

from collections.abc import Callable
from pathlib import Path

from apps.bench import analytics_load
from apps.bench.analytics import AnalyticsBenchOptions
from apps.bench.analytics import _load as load_data
from apps.local import process
from apps.local.servers import EmbeddedPostgres
from apps.store.migrate import migrate

Say = Callable[[str], None]


def cached(
    folder: Path, o: AnalyticsBenchOptions, say: Say
) -> tuple[analytics_load.Manifest, bool]:
    """The data set in `folder` and whether it was there already; loaded first (then
    VACUUM ANALYZE, server stopped) when the folder is new. BenchError when the folder
    holds anything else."""
    folder.mkdir(parents=True, exist_ok=True)
    manifest = analytics_load.check_reusable(folder, o.events, o.players, o.days, o.seed)
    if manifest is not None:
        say(f"reusing {manifest.events:,} events loaded earlier in {folder}")
        return manifest, True
    pg = EmbeddedPostgres("postgres", folder / "logs" / "postgres.log", data_dir=folder / "pg",
                          port=process.free_port())  # fmt: skip
    say(f"starting postgres (embedded) in {folder / 'pg'} to load the data set once...")
    pg.start()
    try:
        migrate(pg.url)
        manifest = load_data(o, say, folder, pg.url)
        say("VACUUM ANALYZE...")
        analytics_load.vacuum_analyze(pg.url)
    finally:
        pg.stop(60)
    return manifest, False
