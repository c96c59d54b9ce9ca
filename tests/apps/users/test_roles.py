"""The role matrix and tenancy: every game endpoint, for every role, and across two games."""

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg
import pytest

from apps.core.roles import ROLES, Role, at_least
from apps.store import tokens
from tests.conftest import new_game
from tests.support.servers import Endpoints, UvicornThread
from tests.support.users import new_account, person


@dataclass(frozen=True)
class Op:
    method: str
    path: str
    """Formatted with game, account (another member), email (its email) and token (an analyst
    token of the game); so are the body's string values."""
    needed: Role
    ok: int
    body: dict[str, Any] | None = None


OPS = (
    Op("GET", "/v1/games/{game}", "viewer", 200),
    Op("PUT", "/v1/games/{game}/retention", "admin", 200, {"hot_days": 60, "archive_days": 0}),
    Op("GET", "/v1/games/{game}/members", "admin", 200),
    Op("PUT", "/v1/games/{game}/members/{account}", "admin", 200, {"role": "viewer"}),
    Op("DELETE", "/v1/games/{game}/members/{account}", "admin", 204),
    Op("POST", "/v1/games/{game}/members", "admin", 201, {"email": "{email}", "role": "viewer"}),
    # No event of the player: the role check passed when the answer names the player.
    Op("GET", "/v1/games/{game}/players/ana", "analyst", 404),
    Op("POST", "/v1/games/{game}/keys/rotate", "admin", 200, {"grace_seconds": 60}),
    Op("POST", "/v1/games/{game}/keys/revoke", "admin", 200, {}),
    Op("GET", "/v1/games/{game}/tokens", "admin", 200),
    Op("POST", "/v1/games/{game}/tokens", "admin", 201, {"name": "matrix"}),
    Op("DELETE", "/v1/games/{game}/tokens/{token}", "admin", 204),
    Op("GET", "/v1/audit?game_id={game}", "admin", 200),
    Op("POST", "/v1/games/{game}/players/ana/export", "admin", 202),
    Op("POST", "/v1/games/{game}/players/ana/erasure", "admin", 202, {"suppress": True}),
    Op("DELETE", "/v1/games/{game}/players/ana/suppression", "admin", 204),
)


@dataclass(frozen=True)
class Fixture:
    game: uuid.UUID
    account: uuid.UUID
    token: uuid.UUID
    email: str


def _world(dsn: str) -> Fixture:
    game = new_game(dsn).game_id
    account, email = new_account(dsn, {game: "viewer"})
    with psycopg.connect(dsn) as conn:
        token = tokens.create_token(conn, "matrix", [game]).token_id
    return Fixture(game, account, token, email)


def _send(url: str, op: Op, w: Fixture, auth: dict[str, str]) -> httpx.Response:
    names = {"game": w.game, "account": w.account, "token": w.token, "email": w.email}
    path = op.path.format(**names)
    body = None if op.body is None else {
        k: v.format(**names) if isinstance(v, str) else v for k, v in op.body.items()
    }  # fmt: skip
    return httpx.request(op.method, url + path, json=body, headers=auth, timeout=30)


@pytest.mark.parametrize("role", ROLES)
def test_each_role_may_do_exactly_what_the_matrix_says(
    users: UvicornThread, endpoints: Endpoints, role: Role
) -> None:
    w = _world(endpoints.postgres_dsn)
    caller = person(users.url, endpoints.postgres_dsn, {w.game: role})
    for op in OPS:
        r = _send(users.url, op, w, caller.auth)
        if at_least(role, op.needed):
            assert r.status_code == op.ok, (role, op, r.text)
            if r.status_code == 404:
                assert r.json()["field"] == "player_id", (role, op, r.text)
        else:
            assert r.status_code == 403, (role, op, r.text)
            assert r.json()["required_role"] == op.needed
            assert op.needed in r.json()["error"]


def _state(dsn: str, game: uuid.UUID) -> dict[str, Any]:
    """Everything of a game the endpoints could change."""
    with psycopg.connect(dsn) as conn:
        return {
            table: conn.execute(sql, (game,)).fetchall()
            for table, sql in {
                "games": "SELECT * FROM games WHERE game_id = %s",
                "keys": "SELECT * FROM ingest_keys WHERE game_id = %s ORDER BY key_id",
                "members": "SELECT * FROM memberships WHERE game_id = %s ORDER BY account_id",
                "tokens": "SELECT t.* FROM analyst_tokens t JOIN analyst_token_games g"
                " USING (token_id) WHERE g.game_id = %s ORDER BY token_id",
                "audit": "SELECT * FROM audit_log WHERE game_id = %s ORDER BY entry_id",
                "privacy_jobs": "SELECT * FROM privacy_jobs WHERE game_id = %s ORDER BY job_id",
                "suppressions": "SELECT * FROM privacy_suppressions WHERE game_id = %s"
                " ORDER BY player_digest",
            }.items()
        }


def test_an_owner_of_one_game_neither_reads_nor_changes_another(
    users: UvicornThread, endpoints: Endpoints
) -> None:
    dsn = endpoints.postgres_dsn
    mine, theirs = _world(dsn), _world(dsn)
    caller = person(users.url, dsn, {mine.game: "owner"})
    before = _state(dsn, theirs.game)
    for op in OPS:
        r = _send(users.url, op, theirs, caller.auth)
        assert r.status_code == 404, (op, r.text)
        assert r.json()["field"] == "game_id"
        assert str(theirs.game) in r.json()["error"]
    assert _state(dsn, theirs.game) == before
    # Their token and their member named under my game: not found there, untouched.
    other_member, _ = new_account(dsn, {theirs.game: "admin"})
    before = _state(dsn, theirs.game)
    mine_path = users.url + f"/v1/games/{mine.game}"
    r = httpx.delete(f"{mine_path}/tokens/{theirs.token}", headers=caller.auth)
    assert (r.status_code, r.json()["field"]) == (404, "token_id")
    r = httpx.delete(f"{mine_path}/members/{other_member}", headers=caller.auth)
    assert (r.status_code, r.json()["field"]) == (404, "account_id")
    r = httpx.get(users.url + "/v1/audit", headers=caller.auth)
    assert r.status_code == 200
    assert {e["game_id"] for e in r.json()["entries"]} <= {str(mine.game)}
    listed = httpx.get(users.url + "/v1/games", headers=caller.auth).json()["games"]
    assert [g["game_id"] for g in listed] == [str(mine.game)]
    assert _state(dsn, theirs.game) == before
