"""Finding the database a CLI command should use, starting the local one if it is not running."""

import contextlib
import os
from collections.abc import Iterator, Mapping
from pathlib import Path

import psycopg

from apps.core.settings.common import POSTGRES_DSN
from apps.core.settings.contract import spec_of
from apps.local import process
from apps.local.platform import read_endpoints
from apps.local.servers import EmbeddedPostgres
from apps.store.migrate import migrate


def _reachable(dsn: str) -> bool:
    try:
        with psycopg.connect(dsn, connect_timeout=2):
            return True
    except psycopg.OperationalError:
        return False


@contextlib.contextmanager
def database_url(
    data_dir: Path, explicit: str | None, env: Mapping[str, str] = os.environ
) -> Iterator[str]:
    """The DSN to use, migrated: `--postgres-url`, else GAMEMETRICS_POSTGRES_DSN, else the
    local data dir's PostgreSQL (the running `gamemetrics dev`'s, or started just for this)."""
    dsn = explicit or env.get(spec_of(POSTGRES_DSN).key)
    if dsn:
        migrate(dsn)
        yield dsn
        return
    endpoints = read_endpoints(data_dir)
    if endpoints and _reachable(endpoints["postgres_dsn"]):
        migrate(endpoints["postgres_dsn"])
        yield endpoints["postgres_dsn"]
        return
    pg = EmbeddedPostgres(
        "postgres", data_dir / "logs" / "postgres.log", data_dir=data_dir / "postgres",
        port=process.free_port(),
    )  # fmt: skip
    data_dir.mkdir(parents=True, exist_ok=True)
    pg.start()
    try:
        migrate(pg.url)
        yield pg.url
    finally:
        pg.stop(8)
