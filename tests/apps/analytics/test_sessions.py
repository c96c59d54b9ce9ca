"""The analytics API accepts the users API's session tokens as it accepts analyst tokens:
a session sees the games its account has a role on, from the next request on."""

import asyncio
from datetime import timedelta
from typing import Any

import psycopg

from apps.store import accounts, sessions, tokens
from tests.conftest import new_game
from tests.support.analytics import AnalystToken, graphql, only_error
from tests.support.servers import Endpoints, UvicornThread
from tests.support.users import new_account

GAME_QUERY = "query($id: ID!) { game(id: $id) { id } }"


def test_a_session_token_sees_the_games_its_account_has_a_role_on(
    analytics: UvicornThread, endpoints: Endpoints
) -> None:
    dsn = endpoints.postgres_dsn
    viewed, analysed, other = (new_game(dsn).game_id for _ in range(3))
    account_id, _ = new_account(dsn, {viewed: "viewer", analysed: "analyst"})
    with psycopg.connect(dsn) as conn:
        issued = sessions.create_session(conn, account_id, timedelta(hours=1))
    session = AnalystToken(issued.session_id, issued.token)
    listed = graphql(analytics.url, "{ games { id } }", session).json()["data"]["games"]
    assert sorted(g["id"] for g in listed) == sorted([str(viewed), str(analysed)])
    for game in (viewed, analysed):
        r = graphql(analytics.url, GAME_QUERY, session, {"id": str(game)})
        assert r.json() == {"data": {"game": {"id": str(game)}}}
    r = graphql(analytics.url, GAME_QUERY, session, {"id": str(other)})
    assert only_error(r)["message"] == "game not found"
    # A role granted or removed counts from the next request on.
    with psycopg.connect(dsn) as conn:
        accounts.set_role(conn, other, account_id, "viewer")
        accounts.remove_member(conn, viewed, account_id)
    listed = graphql(analytics.url, "{ games { id } }", session).json()["data"]["games"]
    assert sorted(g["id"] for g in listed) == sorted([str(analysed), str(other)])
    with psycopg.connect(dsn) as conn:
        sessions.end_session(conn, issued.session_id)
    r = graphql(analytics.url, "{ games { id } }", session)
    assert r.status_code == 401
    assert only_error(r)["extensions"] == {"code": "UNAUTHENTICATED"}


def test_an_expired_session_is_refused(analytics: UvicornThread, endpoints: Endpoints) -> None:
    game = new_game(endpoints.postgres_dsn).game_id
    account_id, _ = new_account(endpoints.postgres_dsn, {game: "owner"})
    with psycopg.connect(endpoints.postgres_dsn) as conn:
        issued = sessions.create_session(conn, account_id, timedelta(microseconds=1))
    r = graphql(analytics.url, "{ games { id } }", AnalystToken(issued.session_id, issued.token))
    assert r.status_code == 401
    assert "expired" in only_error(r)["message"]


def test_the_grant_tells_viewers_from_profile_readers(endpoints: Endpoints) -> None:
    """What the profile field (issue 16, part B) asks: viewers read metrics only."""
    dsn = endpoints.postgres_dsn
    viewed, analysed = new_game(dsn).game_id, new_game(dsn).game_id
    account_id, _ = new_account(dsn, {viewed: "viewer", analysed: "analyst"})

    async def grant() -> object:
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
            with psycopg.connect(dsn) as sync:
                issued = sessions.create_session(sync, account_id, timedelta(hours=1))
            return await sessions.grant_async(conn, issued.token)

    found = asyncio.run(grant())
    assert isinstance(found, tokens.TokenGrant)
    assert found.sees(viewed)
    assert found.sees(analysed)
    assert not found.reads_profiles(viewed)
    assert found.reads_profiles(analysed)


def test_a_viewer_reads_metrics_but_not_player_profiles(
    analytics: UvicornThread, endpoints: Endpoints
) -> None:
    dsn = endpoints.postgres_dsn
    viewed, analysed, unseen = (new_game(dsn).game_id for _ in range(3))
    account_id, _ = new_account(dsn, {viewed: "viewer", analysed: "analyst"})
    with psycopg.connect(dsn) as conn:
        issued = sessions.create_session(conn, account_id, timedelta(hours=1))
    session = AnalystToken(issued.session_id, issued.token)
    query = (
        'query($id: ID!) { game(id: $id) { activeUsers(from: "2026-01-01", to: "2026-01-01")'
        ' { value } player(id: "p1") { firstSeen } } }'
    )
    r = graphql(analytics.url, query, session, {"id": str(analysed)}).json()
    assert r == {"data": {"game": {"activeUsers": [{"value": 0}], "player": None}}}
    r = graphql(analytics.url, query, session, {"id": str(viewed)}).json()
    assert r["data"]["game"]["activeUsers"] == [{"value": 0}]  # metrics, yes
    [error] = r["errors"]
    assert error["path"] == ["game", "player"]
    assert error["extensions"] == {"code": "FORBIDDEN", "required_role": "analyst"}
    assert error["message"] == "reading player profiles needs the analyst role on this game"
    # A game the account has no role on is not found, whatever is asked of it.
    r = graphql(analytics.url, query, session, {"id": str(unseen)}).json()
    assert only_error_json(r)["message"] == "game not found"


def only_error_json(body: dict[str, Any]) -> dict[str, Any]:
    [error] = body["errors"]
    assert isinstance(error, dict)
    return error
