"""The games a token sees, and each game's data version (what the cache keys answers by)."""

import uuid
from dataclasses import dataclass
from typing import Any, Final

import psycopg
from psycopg.rows import class_row

from apps.store.tokens import TokenGrant

_GAMES_SQL: Final = """
SELECT game_id, name FROM games
WHERE %(all)s OR game_id = ANY(%(ids)s)
ORDER BY created_at, name, game_id
"""


@dataclass(frozen=True, slots=True)
class GameRow:
    game_id: uuid.UUID
    name: str


async def visible_games(conn: psycopg.AsyncConnection[Any], grant: TokenGrant) -> list[GameRow]:
    """The games `grant` sees, oldest first."""
    async with conn.cursor(row_factory=class_row(GameRow)) as cur:
        await cur.execute(_GAMES_SQL, {"all": grant.all_games, "ids": list(grant.game_ids)})
        return await cur.fetchall()


async def find_game(conn: psycopg.AsyncConnection[Any], game_id: uuid.UUID) -> GameRow | None:
    async with conn.cursor(row_factory=class_row(GameRow)) as cur:
        await cur.execute("SELECT game_id, name FROM games WHERE game_id = %s", (game_id,))
        return await cur.fetchone()


async def data_version(conn: psycopg.AsyncConnection[Any], game_id: uuid.UUID) -> int:
    """The game's `game_versions.version`: bumped by every processor transaction that stores
    events of the game (0 before the first)."""
    cur = await conn.execute(
        "SELECT version FROM game_versions WHERE game_id = %s", (game_id,), prepare=True
    )
    row = await cur.fetchone()
    return int(row[0]) if row else 0
