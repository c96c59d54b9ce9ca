"""Migrations that move data: what the rollups held before still answers the same after."""

import contextlib
import uuid
from collections.abc import Iterator

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from apps.store.migrate import migrate, migration_files
from tests.support.servers import Endpoints

GAME = uuid.UUID("00000000-0000-4000-8000-0000000000a1")


@contextlib.contextmanager
def scratch_database(endpoints: Endpoints) -> Iterator[str]:
    name = f"migrations_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(endpoints.postgres_dsn, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            yield make_conninfo(endpoints.postgres_dsn, dbname=name)
        finally:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def test_0008_moves_the_sums_to_segment_days_and_keeps_the_flags(endpoints: Endpoints) -> None:
    with scratch_database(endpoints) as dsn:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("CREATE TABLE schema_migrations (version text PRIMARY KEY)")
            for version, text in migration_files():
                if version >= "0008":
                    break
                conn.execute(text.encode())
                conn.execute("INSERT INTO schema_migrations VALUES (%s)", (version,))
            rows = [  # day, player, platform, country, app, events, sessions, seconds, purchases
                ("2026-11-01", "a", "ios", "DE", "1.0", 5, 1, 60.5, 0),
                ("2026-11-01", "b", "ios", "DE", "1.0", 2, 0, 0.0, 1),
                ("2026-11-01", "c", "web", "FR", "1.0", 1, 0, 0.0, 0),
                ("2026-11-02", "a", "ios", "DE", "1.1", 3, 2, 30.0, 2),
            ]
            conn.cursor().executemany(
                "INSERT INTO player_days (game_id, day, player_id, platform, country, app_version,"
                " events, sessions, session_seconds, purchases)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                [(GAME, *r) for r in rows],
            )
        assert "0008_segment_days" in migrate(dsn)
        with psycopg.connect(dsn) as conn:
            flags = conn.execute(
                "SELECT day::text, player_id, played, paid FROM player_days ORDER BY 1, 2"
            ).fetchall()
            sums = conn.execute(
                "SELECT day::text, platform, country, app_version, events, sessions,"
                " session_seconds, purchases FROM segment_days ORDER BY 1, 2"
            ).fetchall()
    assert flags == [
        ("2026-11-01", "a", True, False),
        ("2026-11-01", "b", False, True),
        ("2026-11-01", "c", False, False),
        ("2026-11-02", "a", True, True),
    ]
    assert sums == [
        ("2026-11-01", "ios", "DE", "1.0", 7, 1, 60.5, 1),
        ("2026-11-01", "web", "FR", "1.0", 1, 0, 0.0, 0),
        ("2026-11-02", "ios", "DE", "1.1", 3, 2, 30.0, 2),
    ]
