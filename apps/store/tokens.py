"""Analyst tokens: issuing, listing, revoking, and resolving a presented token to its grant.

Only a token's SHA-256 and display prefix are stored. Every change sends a
NOTIFY on `TOKENS_CHANNEL` inside its transaction, so a service that caches
grants can drop its cache the moment a revocation commits.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

import psycopg
from psycopg.rows import TupleRow, args_row

from apps.core import tokens
from apps.store.games import GameNotFound

TOKENS_CHANNEL: Final = "gamemetrics_tokens"


class TokenNotFound(LookupError):
    pass


@dataclass(frozen=True, slots=True)
class TokenGrant:
    """What a valid (unrevoked) token grants: all games, or exactly `game_ids`."""

    token_id: uuid.UUID
    name: str
    all_games: bool
    game_ids: frozenset[uuid.UUID]
    metrics_only: frozenset[uuid.UUID] = frozenset()
    """Games it sees but whose player profiles it may not read (a session's viewer role)."""

    def sees(self, game_id: uuid.UUID) -> bool:
        return self.all_games or game_id in self.game_ids

    def reads_profiles(self, game_id: uuid.UUID) -> bool:
        return self.sees(game_id) and game_id not in self.metrics_only


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token_id: uuid.UUID
    token: str = field(repr=False)  # the plaintext: shown once, never stored
    name: str
    all_games: bool
    game_ids: tuple[uuid.UUID, ...]


@dataclass(frozen=True, slots=True)
class TokenInfo:
    token_id: uuid.UUID
    name: str
    display_prefix: str
    all_games: bool
    game_ids: tuple[uuid.UUID, ...]
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


# One statement: the grant, and `last_used_at` recorded at most once a minute per token
# without ever waiting for a lock (SKIP LOCKED), so resolving never blocks on a busy token.
_RESOLVE_SQL: Final = """
WITH touched AS (
    UPDATE analyst_tokens SET last_used_at = now()
    WHERE token_id = (
        SELECT token_id FROM analyst_tokens
        WHERE token_hash = %(hash)s AND revoked_at IS NULL
          AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')
        FOR UPDATE SKIP LOCKED
    )
)
SELECT t.token_id, t.name, t.all_games,
       coalesce(array_agg(g.game_id ORDER BY g.game_id) FILTER (WHERE g.game_id IS NOT NULL), '{}')
FROM analyst_tokens t LEFT JOIN analyst_token_games g USING (token_id)
WHERE t.token_hash = %(hash)s AND t.revoked_at IS NULL
GROUP BY t.token_id
"""

_LIST_SQL: Final = """
SELECT t.token_id, t.name, t.display_prefix, t.all_games,
       coalesce(array_agg(g.game_id ORDER BY g.game_id) FILTER (WHERE g.game_id IS NOT NULL), '{}'),
       t.created_at, t.revoked_at, t.last_used_at
FROM analyst_tokens t LEFT JOIN analyst_token_games g USING (token_id)
GROUP BY t.token_id
ORDER BY t.created_at, t.name
"""


def _grant(
    token_id: uuid.UUID, name: str, all_games: bool, game_ids: list[uuid.UUID]
) -> TokenGrant:
    return TokenGrant(token_id, name, all_games, frozenset(game_ids))


def _info(
    token_id: uuid.UUID,
    name: str,
    display_prefix: str,
    all_games: bool,
    game_ids: list[uuid.UUID],
    created_at: datetime,
    revoked_at: datetime | None,
    last_used_at: datetime | None,
) -> TokenInfo:
    return TokenInfo(
        token_id, name, display_prefix, all_games, tuple(game_ids),
        created_at, revoked_at, last_used_at,
    )  # fmt: skip


def _notify(conn: psycopg.Connection[Any]) -> None:
    conn.execute(f"NOTIFY {TOKENS_CHANNEL}")


def create_token(
    conn: psycopg.Connection[TupleRow], name: str, game_ids: Sequence[uuid.UUID] | None
) -> IssuedToken:
    """Issue a token for `game_ids`, or for every game (present and future) when None.

    Raises ValueError for a name that is not 1 to 100 characters after trimming or an
    empty `game_ids`, and GameNotFound naming the ids that are not games.
    """
    clean_name = tokens.check_name(name)
    wanted = None if game_ids is None else list(dict.fromkeys(game_ids))
    if wanted is not None and not wanted:
        raise ValueError("a token needs at least one game (or all games)")
    token, token_id = tokens.generate(), uuid.uuid4()
    with conn.transaction():
        if wanted:
            # KEY SHARE: the games cannot be deleted before this transaction commits.
            found = {
                row[0]
                for row in conn.execute(
                    "SELECT game_id FROM games WHERE game_id = ANY(%s) FOR KEY SHARE", (wanted,)
                )
            }
            missing = [str(g) for g in wanted if g not in found]
            if missing:
                raise GameNotFound(
                    f"no game with id {missing[0]}"
                    if len(missing) == 1
                    else f"no games with ids {', '.join(missing)}"
                )
        conn.execute(
            "INSERT INTO analyst_tokens (token_id, name, token_hash, display_prefix, all_games)"
            " VALUES (%s, %s, %s, %s, %s)",
            (token_id, clean_name, tokens.digest(token), tokens.display_prefix(token),
             wanted is None),
        )  # fmt: skip
        if wanted:
            conn.execute(
                "INSERT INTO analyst_token_games (token_id, game_id)"
                " SELECT %s, unnest(%s::uuid[])",
                (token_id, wanted),
            )  # fmt: skip
        _notify(conn)
    return IssuedToken(token_id, token, clean_name, wanted is None, tuple(wanted or ()))


def list_tokens(conn: psycopg.Connection[Any]) -> list[TokenInfo]:
    """Every token, revoked ones included, oldest first."""
    with conn.cursor(row_factory=args_row(_info)) as cur:
        cur.execute(_LIST_SQL)
        return cur.fetchall()


def revoke_token(conn: psycopg.Connection[TupleRow], token_id: uuid.UUID) -> bool:
    """Revoke at once; True if this call revoked it, False if it already was.

    Raises TokenNotFound for an id that is not a token.
    """
    with conn.transaction():
        row = conn.execute(
            "SELECT revoked_at IS NULL FROM analyst_tokens WHERE token_id = %s FOR UPDATE",
            (token_id,),
        ).fetchone()
        if row is None:
            raise TokenNotFound(f"no analyst token with id {token_id}")
        if not row[0]:
            return False
        conn.execute(
            "UPDATE analyst_tokens SET revoked_at = now() WHERE token_id = %s", (token_id,)
        )
        _notify(conn)
    return True


def resolve(conn: psycopg.Connection[Any], token: str) -> TokenGrant | None:
    """The grant of a presented token; None if it is malformed (without a query), unknown or
    revoked. Records the use (`last_used_at`, to the minute), so `conn` must be writable;
    in a non-autocommit connection the caller commits."""
    if not tokens.looks_like_token(token):
        return None
    with conn.cursor(row_factory=args_row(_grant)) as cur:
        cur.execute(_RESOLVE_SQL, {"hash": tokens.digest(token)})
        return cur.fetchone()


async def resolve_async(conn: psycopg.AsyncConnection[Any], token: str) -> TokenGrant | None:
    """`resolve` for asyncio services: same statement, same rules."""
    if not tokens.looks_like_token(token):
        return None
    async with conn.cursor(row_factory=args_row(_grant)) as cur:
        await cur.execute(_RESOLVE_SQL, {"hash": tokens.digest(token)})
        return await cur.fetchone()
