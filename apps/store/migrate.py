"""Applying the SQL migrations in order, once each, safely from several processes at once."""

import logging
from importlib import resources

import psycopg

from apps.core.database import POSTGRES_MAJOR
from apps.core.errors import GameMetricsError

log = logging.getLogger(__name__)


class UnsupportedServer(GameMetricsError):
    """The PostgreSQL server is older than the store's SQL needs."""


_LOCK_ID = 0x67616D65  # pg_advisory_xact_lock key: "game"


def migration_files() -> list[tuple[str, str]]:
    """(version, sql) for every shipped migration, sorted by version."""
    folder = resources.files("apps.store") / "migrations"
    files = sorted(
        (p.name, p.read_text(encoding="utf-8")) for p in folder.iterdir() if p.name.endswith(".sql")
    )
    return [(name.removesuffix(".sql"), sql) for name, sql in files]


def migrate(dsn: str) -> list[str]:
    """Apply what is missing, each migration in its own transaction; returns what was applied."""
    applied: list[str] = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        major = conn.info.server_version // 10000
        if major < POSTGRES_MAJOR:
            raise UnsupportedServer(
                f"PostgreSQL {major} at {conn.info.host}:{conn.info.port}; GameMetrics needs "
                f"{POSTGRES_MAJOR} or newer (the processor's upserts return old and new rows)"
            )
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        for version, sql in migration_files():
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_ID,))
                done = conn.execute(
                    "SELECT 1 FROM schema_migrations WHERE version = %s", (version,)
                ).fetchone()
                if done:
                    continue
                conn.execute(sql.encode())
                conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
                applied.append(version)
                log.info("applied migration %s", version)
    return applied
