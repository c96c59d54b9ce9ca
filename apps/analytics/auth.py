"""Who is asking: `Authorization: Bearer <analyst token>` to a grant, and the game permission.

Every request resolves its token in PostgreSQL (one indexed lookup), so a
revocation takes effect with the next request; nothing is cached.
"""

import uuid
from typing import Any

import psycopg
import strawberry
from psycopg_pool import AsyncConnectionPool
from strawberry.permission import BasePermission

from apps.analytics.errors import BadUserInput, GameNotFound, Unauthenticated, Unavailable
from apps.store.tokens import TokenGrant, resolve_async

_HOW = "send 'Authorization: Bearer <analyst token>' (gamemetrics tokens create)"


def bearer_token(header: str | None) -> str:
    if not header:
        raise Unauthenticated(f"missing Authorization header; {_HOW}")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated(f"malformed Authorization header; {_HOW}")
    return token


async def authenticate(pool: AsyncConnectionPool, header: str | None) -> TokenGrant:
    """The grant of the request's token; Unauthenticated if it has none, Unavailable if the
    database cannot be asked."""
    token = bearer_token(header)
    try:
        async with pool.connection(timeout=5.0) as conn:
            grant = await resolve_async(conn, token)
    except (psycopg.OperationalError, TimeoutError) as e:
        raise Unavailable("the database is unavailable; retry later") from e
    if grant is None:
        raise Unauthenticated("unknown or revoked analyst token")
    return grant


def parse_game_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise BadUserInput(
            f"id: {value[:64]!r} is not a game ID", argument="id", allowed="a UUID"
        ) from None


class SeesGame(BasePermission):
    """`game(id)`: the token must see the game. Refused exactly like an unknown game."""

    def has_permission(self, source: Any, info: strawberry.Info, **kwargs: Any) -> bool:
        grant: TokenGrant = info.context.grant
        return grant.sees(parse_game_id(str(kwargs["id"])))

    def on_unauthorized(self) -> None:
        raise GameNotFound
