"""Who is asking: `Authorization: Bearer <analyst token or session token>` to a grant, and
the game permission.

An analyst token (`gma_`) grants its games; a session token (`gms_`, from the
users API's POST /v1/sessions) grants the games its account has a role on.
Every request resolves its token in PostgreSQL (one indexed lookup), so a
revocation, an ended session or a removed role takes effect with the next
request; nothing is cached.
"""

import uuid
from typing import Any

import psycopg
import strawberry
from psycopg_pool import AsyncConnectionPool
from strawberry.permission import BasePermission

from apps.analytics.errors import BadUserInput, GameNotFound, Unauthenticated, Unavailable
from apps.core import sessions
from apps.store import sessions as session_store
from apps.store.tokens import TokenGrant, resolve_async

_HOW = (
    "send 'Authorization: Bearer <token>': an analyst token (gamemetrics tokens create)"
    " or a session token (POST /v1/sessions of the users API)"
)


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
            if sessions.looks_like_session(token):
                grant = await session_store.grant_async(conn, token)
            else:
                grant = await resolve_async(conn, token)
    except (psycopg.OperationalError, TimeoutError) as e:
        raise Unavailable("the database is unavailable; retry later") from e
    if grant is None:
        raise Unauthenticated("unknown, revoked or expired token")
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
