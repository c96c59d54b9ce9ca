"""Who is asking, and what their role on a game lets them do.

`Authorization: Bearer <session token>` resolves to a `Caller` with their
current roles (one indexed lookup per request: an ended session or a removed
role takes effect at once). A game the caller has no role on answers exactly
like a game that does not exist (404), so ids of other tenants leak nothing.
"""

import uuid
from typing import Any, Final

import psycopg

from apps.core import keys, roles, tokens
from apps.core.roles import Role
from apps.store import sessions
from apps.store.sessions import Caller
from apps.users.errors import Forbidden, NotFound, Unauthenticated

_HOW: Final = "send 'Authorization: Bearer <session token>' (POST /v1/sessions)"


def authenticate(conn: psycopg.Connection[Any], header: str | None) -> Caller:
    if not header:
        raise Unauthenticated(f"missing Authorization header; {_HOW}")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated(f"malformed Authorization header; {_HOW}")
    if tokens.looks_like_token(token) or keys.looks_like_key(token):
        raise Unauthenticated(f"analyst tokens and ingest keys do not work here; {_HOW}")
    caller = sessions.resolve(conn, token)
    if caller is None:
        raise Unauthenticated(f"unknown, expired or ended session; {_HOW}")
    return caller


def require(caller: Caller, game_id: uuid.UUID, needed: Role) -> Role:
    """The caller's role on the game if it is at least `needed`; NotFound if they hold none,
    Forbidden (naming the role needed) if it is lower."""
    held = caller.roles.get(game_id)
    if held is None:
        raise NotFound(f"no game with id {game_id}", "game_id")
    if not roles.at_least(held, needed):
        raise Forbidden(game_id, needed, held)
    return held
