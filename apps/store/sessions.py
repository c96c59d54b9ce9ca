"""Login sessions: issuing, resolving and ending the bearer tokens of accounts.

Only a token's SHA-256 is stored. A session carries no roles of its own: every
lookup reads the account's current memberships, so a role granted or removed
takes effect with the caller's next request. The analytics API resolves a
session to the same `TokenGrant` an analyst token gives (`grant_async`).
"""

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

import psycopg

from apps.core import roles, sessions
from apps.core.roles import Role
from apps.store.tokens import TokenGrant


@dataclass(frozen=True, slots=True)
class IssuedSession:
    session_id: uuid.UUID
    token: str = field(repr=False)  # the plaintext: shown once, never stored
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Caller:
    """Who a valid session belongs to and their role on each game."""

    session_id: uuid.UUID
    account_id: uuid.UUID
    email: str
    roles: dict[uuid.UUID, Role]


_RESOLVE_SQL: Final = """
SELECT s.session_id, a.account_id, a.email,
       coalesce(array_agg(m.game_id) FILTER (WHERE m.game_id IS NOT NULL), '{}'),
       coalesce(array_agg(m.role) FILTER (WHERE m.game_id IS NOT NULL), '{}')
FROM sessions s JOIN accounts a USING (account_id)
LEFT JOIN memberships m ON m.account_id = a.account_id
WHERE s.token_hash = %s AND s.revoked_at IS NULL AND s.expires_at > now()
GROUP BY s.session_id, a.account_id
"""


def create_session(
    conn: psycopg.Connection[Any], account_id: uuid.UUID, ttl: timedelta
) -> IssuedSession:
    token, session_id = sessions.generate(), uuid.uuid4()
    with conn.transaction():
        row = conn.execute(
            "INSERT INTO sessions (session_id, account_id, token_hash, expires_at)"
            " VALUES (%s, %s, %s, now() + %s) RETURNING expires_at",
            (session_id, account_id, sessions.digest(token), ttl),
        ).fetchone()
    assert row is not None
    return IssuedSession(session_id, token, row[0])


def _caller(row: tuple[Any, ...] | None) -> Caller | None:
    if row is None:
        return None
    session_id, account_id, email, game_ids, held = row
    return Caller(
        session_id, account_id, email,
        {g: r for g, r in zip(game_ids, held, strict=True) if roles.is_role(r)},
    )  # fmt: skip


def resolve(conn: psycopg.Connection[Any], token: str) -> Caller | None:
    """The caller of a presented token; None if malformed (no query), unknown, expired or
    ended."""
    if not sessions.looks_like_session(token):
        return None
    return _caller(conn.execute(_RESOLVE_SQL, (sessions.digest(token),)).fetchone())


async def grant_async(conn: psycopg.AsyncConnection[Any], token: str) -> TokenGrant | None:
    """The analytics grant of a session: the games its account has a role on; those where
    the role is `viewer` read metrics only."""
    if not sessions.looks_like_session(token):
        return None
    cur = await conn.execute(_RESOLVE_SQL, (sessions.digest(token),))
    caller = _caller(await cur.fetchone())
    if caller is None:
        return None
    return TokenGrant(
        caller.session_id,
        f"session of {caller.email}",
        False,
        frozenset(caller.roles),
        metrics_only=frozenset(g for g, r in caller.roles.items() if not roles.reads_profiles(r)),
    )


def end_session(conn: psycopg.Connection[Any], session_id: uuid.UUID) -> None:
    with conn.transaction():
        conn.execute(
            "UPDATE sessions SET revoked_at = now() WHERE session_id = %s AND revoked_at IS NULL",
            (session_id,),
        )


def end_other_sessions(
    conn: psycopg.Connection[Any], account_id: uuid.UUID, keep: uuid.UUID
) -> int:
    """End every open session of the account but `keep`; how many were ended."""
    with conn.transaction():
        cur = conn.execute(
            "UPDATE sessions SET revoked_at = now() WHERE account_id = %s"
            " AND session_id <> %s AND revoked_at IS NULL AND expires_at > now()",
            (account_id, keep),
        )
    return cur.rowcount
