"""Analyst tokens against the session's real PostgreSQL: issue, list, revoke, resolve."""

import asyncio
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg.rows import TupleRow

from apps.core import tokens as token_format
from apps.store import tokens
from apps.store.games import GameNotFound
from tests.conftest import new_game
from tests.support.servers import Endpoints


@pytest.fixture
def conn(endpoints: Endpoints) -> Iterator[psycopg.Connection[TupleRow]]:
    with psycopg.connect(endpoints.postgres_dsn, autocommit=True) as c:
        yield c


def info(conn: psycopg.Connection[TupleRow], token_id: uuid.UUID) -> tokens.TokenInfo:
    [found] = [t for t in tokens.list_tokens(conn) if t.token_id == token_id]
    return found


def test_token_format() -> None:
    token = token_format.generate()
    assert token.startswith("gma_")
    assert token_format.looks_like_token(token)
    assert token_format.display_prefix(token) == token[:12]
    assert token_format.digest(token) == token_format.digest(token)
    assert len(token_format.digest(token)) == 32
    assert token_format.generate() != token
    for bad in ["", "gma_", token[:-1], token + "x", token[:-1] + "!", "gmk_" + token[4:]]:
        assert not token_format.looks_like_token(bad), bad
    assert token_format.check_name("  Ops dashboard \n") == "Ops dashboard"
    for bad_name in ["", "   ", "x" * 101]:
        with pytest.raises(ValueError, match="allowed 1 to 100"):
            token_format.check_name(bad_name)
    for bad_name in ["ops\x00board", "ops\x1bboard", "ops\x85board"]:
        with pytest.raises(ValueError, match="must not contain control characters"):
            token_format.check_name(bad_name)


def test_token_for_specific_games_sees_only_them(
    conn: psycopg.Connection[TupleRow], endpoints: Endpoints
) -> None:
    a, b, other = (new_game(endpoints.postgres_dsn).game_id for _ in range(3))
    issued = tokens.create_token(conn, "  analyst one  ", [b, a, b])
    assert issued.name == "analyst one"
    assert (issued.all_games, issued.game_ids) == (False, (b, a))
    assert issued.token not in repr(issued)

    grant = tokens.resolve(conn, issued.token)
    assert grant == tokens.TokenGrant(issued.token_id, "analyst one", False, frozenset({a, b}))
    assert grant.sees(a)
    assert grant.sees(b)
    assert not grant.sees(other)
    assert not grant.sees(uuid.uuid4())


def test_token_for_all_games_sees_every_game(conn: psycopg.Connection[TupleRow]) -> None:
    issued = tokens.create_token(conn, "everything", None)
    assert (issued.all_games, issued.game_ids) == (True, ())
    grant = tokens.resolve(conn, issued.token)
    assert grant is not None
    assert (grant.all_games, grant.game_ids) == (True, frozenset())
    assert grant.sees(uuid.uuid4())  # games created later included


def test_list_shows_prefixes_and_games_never_hashes(
    conn: psycopg.Connection[TupleRow], endpoints: Endpoints
) -> None:
    game = new_game(endpoints.postgres_dsn).game_id
    some = tokens.create_token(conn, "some", [game])
    every = tokens.create_token(conn, "every", None)
    listed = {t.token_id: t for t in tokens.list_tokens(conn)}
    mine = listed[some.token_id]
    assert (mine.name, mine.display_prefix, mine.all_games, mine.game_ids) == (
        "some", some.token[:12], False, (game,),
    )  # fmt: skip
    assert (mine.revoked_at, mine.last_used_at) == (None, None)
    assert listed[every.token_id].all_games
    assert listed[every.token_id].game_ids == ()
    assert mine.created_at <= listed[every.token_id].created_at
    stored = conn.execute(
        "SELECT token_hash FROM analyst_tokens WHERE token_id = %s", (some.token_id,)
    ).fetchone()
    assert stored == (token_format.digest(some.token),)
    assert some.token.encode() not in stored[0]


def test_revoke_is_immediate_and_idempotent(conn: psycopg.Connection[TupleRow]) -> None:
    issued = tokens.create_token(conn, "to revoke", None)
    kept = tokens.create_token(conn, "kept", None)
    assert tokens.resolve(conn, issued.token) is not None
    assert tokens.revoke_token(conn, issued.token_id) is True
    assert tokens.resolve(conn, issued.token) is None
    assert tokens.revoke_token(conn, issued.token_id) is False
    revoked_at = info(conn, issued.token_id).revoked_at
    assert revoked_at is not None
    assert tokens.revoke_token(conn, issued.token_id) is False
    assert info(conn, issued.token_id).revoked_at == revoked_at  # not moved by a second revoke
    assert tokens.resolve(conn, kept.token) is not None
    assert info(conn, kept.token_id).revoked_at is None


def test_revoke_sends_a_notification(endpoints: Endpoints) -> None:
    with (
        psycopg.connect(endpoints.postgres_dsn, autocommit=True) as listener,
        psycopg.connect(endpoints.postgres_dsn, autocommit=True) as conn,
    ):
        issued = tokens.create_token(conn, "watched", None)
        listener.execute(f"LISTEN {tokens.TOKENS_CHANNEL}")
        tokens.revoke_token(conn, issued.token_id)
        heard = list(listener.notifies(timeout=10, stop_after=1))
    assert [n.channel for n in heard] == [tokens.TOKENS_CHANNEL]


def test_revoking_an_unknown_token_names_it(conn: psycopg.Connection[TupleRow]) -> None:
    missing = uuid.uuid4()
    with pytest.raises(tokens.TokenNotFound, match=f"no analyst token with id {missing}"):
        tokens.revoke_token(conn, missing)


def test_unknown_and_malformed_tokens_resolve_to_none(
    conn: psycopg.Connection[TupleRow], endpoints: Endpoints
) -> None:
    assert tokens.resolve(conn, token_format.generate()) is None  # well-formed, never issued
    issued = tokens.create_token(conn, "real", None)
    malformed = [
        "", "banana", "gma_", issued.token[:-1], issued.token + "A",
        "gmk_" + issued.token[4:], issued.token[:-1] + "\udc80", "gma_" + "x" * 10_000,
    ]  # fmt: skip
    # A closed connection fails any query: malformed tokens are refused before asking.
    closed = psycopg.connect(endpoints.postgres_dsn)
    closed.close()
    for text in malformed:
        assert tokens.resolve(closed, text) is None, text
    with pytest.raises(psycopg.OperationalError):
        tokens.resolve(closed, issued.token)


def test_resolve_async_matches_resolve(
    conn: psycopg.Connection[TupleRow], endpoints: Endpoints
) -> None:
    game = new_game(endpoints.postgres_dsn).game_id
    issued = tokens.create_token(conn, "async", [game])
    revoked = tokens.create_token(conn, "async revoked", None)
    tokens.revoke_token(conn, revoked.token_id)

    async def resolve_all() -> list[tokens.TokenGrant | None]:
        async with await psycopg.AsyncConnection.connect(
            endpoints.postgres_dsn, autocommit=True
        ) as aconn:
            return [
                await tokens.resolve_async(aconn, text)
                for text in (issued.token, revoked.token, token_format.generate(), "nonsense")
            ]

    grant, *nones = asyncio.run(resolve_all())
    assert grant == tokens.TokenGrant(issued.token_id, "async", False, frozenset({game}))
    assert grant == tokens.resolve(conn, issued.token)
    assert nones == [None, None, None]


def test_create_refuses_unknown_games_and_empty_scopes(
    conn: psycopg.Connection[TupleRow], endpoints: Endpoints
) -> None:
    real = new_game(endpoints.postgres_dsn).game_id
    ghost, ghost2 = uuid.uuid4(), uuid.uuid4()
    name = f"refused-{uuid.uuid4().hex[:8]}"
    with pytest.raises(GameNotFound, match=f"^no game with id {ghost}$"):
        tokens.create_token(conn, name, [real, ghost])
    with pytest.raises(GameNotFound, match=f"{ghost}, {ghost2}"):
        tokens.create_token(conn, name, [ghost, real, ghost2])
    with pytest.raises(ValueError, match="at least one game"):
        tokens.create_token(conn, name, [])
    with pytest.raises(ValueError, match="allowed 1 to 100"):
        tokens.create_token(conn, " ", None)
    with pytest.raises(ValueError, match="allowed 1 to 100"):
        tokens.create_token(conn, "x" * 101, [real])
    assert [t for t in tokens.list_tokens(conn) if t.name == name] == []  # nothing half-made


def test_deleting_a_game_removes_it_from_tokens(
    conn: psycopg.Connection[TupleRow], endpoints: Endpoints
) -> None:
    kept, deleted = (new_game(endpoints.postgres_dsn).game_id for _ in range(2))
    issued = tokens.create_token(conn, "two games", [kept, deleted])
    conn.execute("DELETE FROM games WHERE game_id = %s", (deleted,))
    grant = tokens.resolve(conn, issued.token)
    assert grant is not None
    assert grant.game_ids == frozenset({kept})
    assert not grant.sees(deleted)
    assert info(conn, issued.token_id).game_ids == (kept,)


def test_use_is_recorded_at_most_once_a_minute(conn: psycopg.Connection[TupleRow]) -> None:
    issued = tokens.create_token(conn, "used", None)
    tokens.resolve(conn, issued.token)
    first = info(conn, issued.token_id).last_used_at
    assert first is not None
    tokens.resolve(conn, issued.token)
    assert info(conn, issued.token_id).last_used_at == first
    conn.execute(
        "UPDATE analyst_tokens SET last_used_at = last_used_at - interval '2 minutes'"
        " WHERE token_id = %s",
        (issued.token_id,),
    )
    tokens.resolve(conn, issued.token)
    again = info(conn, issued.token_id).last_used_at
    assert again is not None
    assert again > first


def test_resolve_never_waits_for_a_locked_token(
    conn: psycopg.Connection[TupleRow], endpoints: Endpoints
) -> None:
    issued = tokens.create_token(conn, "busy", None)
    with psycopg.connect(endpoints.postgres_dsn) as holder:
        holder.execute(
            "SELECT 1 FROM analyst_tokens WHERE token_id = %s FOR UPDATE", (issued.token_id,)
        )
        conn.execute("SET lock_timeout = '2s'")  # waiting would fail the resolve, not hang
        try:
            grant = tokens.resolve(conn, issued.token)
        finally:
            conn.execute("RESET lock_timeout")
        holder.rollback()
    assert grant is not None
    assert grant.token_id == issued.token_id
    assert info(conn, issued.token_id).last_used_at is None  # skipped, recorded next time
