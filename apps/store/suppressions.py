"""Suppressed players: erased players whose future events ingestion refuses and the
processor drops, named by their digest (`apps.core.privacy.player_digest`).

Every change sends a NOTIFY on `SUPPRESSIONS_CHANNEL` with the game's id inside its
transaction, so running ingestion services drop that game's cached list the moment it
commits (as `apps.store.games` does for keys).
"""

import uuid
from collections.abc import Iterable
from typing import Final

import psycopg
from psycopg.rows import TupleRow

from apps.core.privacy import SUPPRESSIONS_CHANNEL

DIGESTS_SQL: Final = (
    "SELECT game_id, player_digest FROM privacy_suppressions WHERE game_id = ANY(%s)"
)
"""The suppressed digests of some games (parameter: a list of game ids). Ingestion runs it
asynchronously for one game, the processor inside each batch's transaction."""


def _notify(conn: psycopg.Connection[TupleRow], game_id: uuid.UUID) -> None:
    conn.execute("SELECT pg_notify(%s, %s)", (SUPPRESSIONS_CHANNEL, str(game_id)))


def suppress(
    conn: psycopg.Connection[TupleRow], game_id: uuid.UUID, digest: bytes, job_id: uuid.UUID
) -> bool:
    """Refuse the player's future events; False if they were suppressed already (the row,
    and its job, are kept). Commits (or joins the caller's transaction)."""
    with conn.transaction():
        cur = conn.execute(
            "INSERT INTO privacy_suppressions (game_id, player_digest, job_id)"
            " VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
            (game_id, digest, job_id),
        )
        if cur.rowcount:
            _notify(conn, game_id)
        return cur.rowcount == 1


def lift(conn: psycopg.Connection[TupleRow], game_id: uuid.UUID, digest: bytes) -> bool:
    """Accept the player's events again; False if they were not suppressed."""
    with conn.transaction():
        cur = conn.execute(
            "DELETE FROM privacy_suppressions WHERE game_id = %s AND player_digest = %s",
            (game_id, digest),
        )
        if cur.rowcount:
            _notify(conn, game_id)
        return cur.rowcount == 1


def suppressed(conn: psycopg.Connection[TupleRow], game_id: uuid.UUID, digest: bytes) -> bool:
    row = conn.execute(
        "SELECT 1 FROM privacy_suppressions WHERE game_id = %s AND player_digest = %s",
        (game_id, digest),
    ).fetchone()
    return row is not None


def by_game(rows: Iterable[tuple[uuid.UUID, bytes]]) -> dict[uuid.UUID, frozenset[bytes]]:
    """`DIGESTS_SQL`'s rows grouped by game (only games that have any)."""
    grouped: dict[uuid.UUID, set[bytes]] = {}
    for game_id, digest in rows:
        grouped.setdefault(game_id, set()).add(bytes(digest))
    return {game_id: frozenset(digests) for game_id, digests in grouped.items()}


def digests(
    conn: psycopg.Connection[TupleRow], game_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, frozenset[bytes]]:
    """The suppressed digests of each of `game_ids` that has any."""
    return by_game(conn.execute(DIGESTS_SQL, (list(game_ids),)).fetchall())
