"""Games, their ingest keys and their retention: the repository the CLI, the users API and
the ingestion API use.

Every change to keys sends a NOTIFY on `KEYS_CHANNEL` inside its transaction,
so running ingestion services drop their key caches the moment it commits.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

import psycopg
from psycopg.rows import TupleRow, class_row

from apps.core import keys, retention
from apps.core.retention import Retention

KEYS_CHANNEL: Final = "gamemetrics_keys"
DEFAULT_RATE_LIMIT_EPS: Final = 20_000


class GameNotFound(LookupError):
    pass


@dataclass(frozen=True, slots=True)
class Game:
    game_id: uuid.UUID
    name: str
    rate_limit_eps: int
    late_horizon_days: int | None
    created_at: datetime
    active_keys: int
    hot_days: int
    archive_days: int

    @property
    def retention(self) -> Retention:
        return Retention(self.hot_days, self.archive_days)


@dataclass(frozen=True, slots=True)
class KeyGrant:
    """What a valid key grants; cached by the ingestion API."""

    game_id: uuid.UUID
    rate_limit_eps: int
    late_horizon_days: int | None
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class IssuedKey:
    game_id: uuid.UUID
    ingest_key: str


_GAMES_SQL: Final = """
SELECT g.game_id, g.name, g.rate_limit_eps, g.late_horizon_days, g.created_at,
       count(k.key_id) FILTER (
           WHERE k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now())
       )::int AS active_keys,
       g.hot_days, g.archive_days
FROM games g LEFT JOIN ingest_keys k USING (game_id)
"""


def _insert_key(conn: psycopg.Connection[TupleRow], game_id: uuid.UUID) -> str:
    key = keys.generate()
    conn.execute(
        "INSERT INTO ingest_keys (game_id, key_hash, display_prefix) VALUES (%s, %s, %s)",
        (game_id, keys.digest(key), keys.display_prefix(key)),
    )
    return key


def _notify(conn: psycopg.Connection[TupleRow]) -> None:
    conn.execute(f"NOTIFY {KEYS_CHANNEL}")


def create_game(
    conn: psycopg.Connection[TupleRow],
    name: str,
    *,
    rate_limit_eps: int = DEFAULT_RATE_LIMIT_EPS,
    late_horizon_days: int | None = None,
) -> IssuedKey:
    game_id = uuid.uuid4()
    with conn.transaction():
        conn.execute(
            "INSERT INTO games (game_id, name, rate_limit_eps, late_horizon_days)"
            " VALUES (%s, %s, %s, %s)",
            (game_id, name, rate_limit_eps, late_horizon_days),
        )
        key = _insert_key(conn, game_id)
        _notify(conn)
    return IssuedKey(game_id, key)


def list_games(conn: psycopg.Connection[TupleRow]) -> list[Game]:
    with conn.cursor(row_factory=class_row(Game)) as cur:
        cur.execute(_GAMES_SQL + " GROUP BY g.game_id ORDER BY g.created_at, g.name")
        return cur.fetchall()


def get_game(conn: psycopg.Connection[TupleRow], game_id: uuid.UUID) -> Game:
    with conn.cursor(row_factory=class_row(Game)) as cur:
        cur.execute(_GAMES_SQL + " WHERE g.game_id = %s GROUP BY g.game_id", (game_id,))
        game = cur.fetchone()
    if game is None:
        raise GameNotFound(f"no game with id {game_id}")
    return game


def game_of_key(conn: psycopg.Connection[TupleRow], key: str) -> uuid.UUID:
    row = conn.execute(
        "SELECT game_id FROM ingest_keys WHERE key_hash = %s", (keys.digest(key),)
    ).fetchone()
    if row is None:
        raise GameNotFound("no game holds that ingest key")
    game_id: uuid.UUID = row[0]
    return game_id


def revoke_keys(
    conn: psycopg.Connection[TupleRow], game_id: uuid.UUID, *, key: str | None = None
) -> int:
    """Revoke one key of the game, or all of its keys; returns how many were revoked."""
    get_game(conn, game_id)
    with conn.transaction():
        if key is None:
            cur = conn.execute(
                "UPDATE ingest_keys SET revoked_at = now()"
                " WHERE game_id = %s AND revoked_at IS NULL",
                (game_id,),
            )
        else:
            cur = conn.execute(
                "UPDATE ingest_keys SET revoked_at = now()"
                " WHERE game_id = %s AND key_hash = %s AND revoked_at IS NULL",
                (game_id, keys.digest(key)),
            )
        _notify(conn)
        return cur.rowcount


def rotate_key(
    conn: psycopg.Connection[TupleRow], game_id: uuid.UUID, *, grace: timedelta = timedelta(0)
) -> IssuedKey:
    """Issue a new key; the game's other keys stop working after `grace` (at once by default)."""
    get_game(conn, game_id)
    with conn.transaction():
        if grace > timedelta(0):
            conn.execute(
                "UPDATE ingest_keys SET expires_at = now() + %s"
                " WHERE game_id = %s AND revoked_at IS NULL"
                " AND (expires_at IS NULL OR expires_at > now() + %s)",
                (grace, game_id, grace),
            )
        else:
            conn.execute(
                "UPDATE ingest_keys SET revoked_at = now()"
                " WHERE game_id = %s AND revoked_at IS NULL",
                (game_id,),
            )
        key = _insert_key(conn, game_id)
        _notify(conn)
    return IssuedKey(game_id, key)


def set_rate_limit(conn: psycopg.Connection[TupleRow], game_id: uuid.UUID, eps: int) -> None:
    with conn.transaction():
        cur = conn.execute(
            "UPDATE games SET rate_limit_eps = %s WHERE game_id = %s", (eps, game_id)
        )
        if cur.rowcount == 0:
            raise GameNotFound(f"no game with id {game_id}")
        _notify(conn)


@dataclass(frozen=True, slots=True)
class RetentionChange:
    old: Retention
    new: Retention


def set_retention(
    conn: psycopg.Connection[TupleRow],
    game_id: uuid.UUID,
    hot_days: int | None,
    archive_days: int | None,
) -> RetentionChange:
    """Change the game's retention (None keeps a value) by the rules of
    `apps.core.retention.settle`, which raises BatchError naming the field at fault.

    The row is locked while the new values are checked against the stored ones, so two
    changes racing cannot together break the rule that archive_days exceed hot_days.
    A new archive_days changes which archived days answers read (an expired day is
    empty), so it bumps the game's data version: cached answers are not served again."""
    with conn.transaction():
        row = conn.execute(
            "SELECT hot_days, archive_days FROM games WHERE game_id = %s FOR UPDATE", (game_id,)
        ).fetchone()
        if row is None:
            raise GameNotFound(f"no game with id {game_id}")
        old = Retention(row[0], row[1])
        new = retention.settle(old, hot_days, archive_days)
        conn.execute(
            "UPDATE games SET hot_days = %s, archive_days = %s WHERE game_id = %s",
            (new.hot_days, new.archive_days, game_id),
        )
        if new.archive_days != old.archive_days:
            conn.execute(_BUMP_VERSION, (game_id,))
    return RetentionChange(old, new)


_BUMP_VERSION: Final = """
INSERT INTO game_versions AS v (game_id, version, updated_at) VALUES (%s, 1, now())
ON CONFLICT (game_id) DO UPDATE SET version = v.version + 1, updated_at = excluded.updated_at
"""


GRANT_SQL: Final = """
SELECT g.game_id, g.rate_limit_eps, g.late_horizon_days, k.expires_at
FROM ingest_keys k JOIN games g USING (game_id)
WHERE k.key_hash = %s AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now())
"""
"""What the ingestion API runs (asynchronously) to resolve a presented key."""
