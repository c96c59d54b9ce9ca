"""The users API on real HTTP and PostgreSQL: logging in, games, members, keys, tokens."""

import logging
import uuid

import httpx
import psycopg
import pytest

from apps.core import keys
from apps.store import games
from tests.conftest import GameKey
from tests.support.servers import Endpoints, UvicornThread
from tests.support.users import PASSWORD, log_in, new_account, person


def test_logging_in_gives_a_session_token_that_me_accepts(
    users: UvicornThread, endpoints: Endpoints, game: GameKey
) -> None:
    account_id, email = new_account(endpoints.postgres_dsn, {game.game_id: "analyst"})
    r = log_in(users.url, email.upper())  # the email's case does not matter
    assert r.status_code == 201, r.text
    assert set(r.json()) == {"token", "expires_at"}
    token = r.json()["token"]
    assert token.startswith("gms_")
    me = httpx.get(users.url + "/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200, me.text
    assert me.json()["account_id"] == str(account_id)
    assert me.json()["email"] == email
    assert me.json()["games"] == [{"game_id": str(game.game_id), "role": "analyst"}]
    assert me.headers["X-Request-Id"]
    out = httpx.delete(users.url + "/v1/sessions", headers={"Authorization": f"Bearer {token}"})
    assert out.status_code == 204
    again = httpx.get(users.url + "/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert again.status_code == 401
    assert "session" in again.json()["error"]
    assert again.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_wrong_password_and_an_unknown_email_answer_alike(
    users: UvicornThread, endpoints: Endpoints
) -> None:
    _, email = new_account(endpoints.postgres_dsn)
    wrong = log_in(users.url, email, PASSWORD + "!")
    unknown = log_in(users.url, "nobody-" + email)
    assert (wrong.status_code, wrong.json()) == (401, {"error": "wrong email or password"})
    assert (unknown.status_code, unknown.json()) == (401, {"error": "wrong email or password"})
    assert PASSWORD not in wrong.text


@pytest.mark.parametrize(
    ("content", "content_type", "status", "field"),
    [
        (b'{"password": "x"}', "application/json", 400, "email"),
        (b'{"email": "a@b.co"}', "application/json", 400, "password"),
        (b'{"email": 5, "password": "x"}', "application/json", 400, "email"),
        (b'{"email": "a@b.co", "password": "x", "otp": 1}', "application/json", 400, "otp"),
        (b"[1]", "application/json", 400, "body"),
        (b"{not json", "application/json", 400, "body"),
        (b'{"email": "a@b.co", "password": "x"}', "text/plain", 415, "Content-Type"),
    ],
)
def test_bad_login_bodies_name_the_field(
    users: UvicornThread, content: bytes, content_type: str, status: int, field: str
) -> None:
    r = httpx.post(
        users.url + "/v1/sessions", content=content, headers={"Content-Type": content_type}
    )
    assert r.status_code == status, r.text
    assert r.json()["field"] == field


def test_unauthenticated_requests_are_refused_with_401(users: UvicornThread, game: GameKey) -> None:
    for headers in ({}, {"Authorization": "Basic abc"}, game.auth, {"Authorization": "Bearer x"}):
        r = httpx.get(users.url + f"/v1/games/{game.game_id}", headers=headers)
        assert r.status_code == 401, (headers, r.text)
        assert r.json()["error"]


def test_creating_a_game_makes_the_creator_its_owner(
    users: UvicornThread, endpoints: Endpoints
) -> None:
    me = person(users.url, endpoints.postgres_dsn)
    r = httpx.post(
        users.url + "/v1/games", json={"name": "  Space Tycoon ", "rate_limit_eps": 500},
        headers=me.auth,
    )  # fmt: skip
    assert r.status_code == 201, r.text
    made = r.json()
    game_id = uuid.UUID(made["game"]["game_id"])
    assert made["game"]["name"] == "Space Tycoon"
    assert made["game"]["rate_limit_eps"] == 500
    assert made["game"]["role"] == "owner"
    assert made["game"]["active_keys"] == 1
    with psycopg.connect(endpoints.postgres_dsn) as conn:
        assert games.game_of_key(conn, made["ingest_key"]) == game_id
    listed = httpx.get(users.url + "/v1/games", headers=me.auth).json()["games"]
    assert [g["game_id"] for g in listed] == [str(game_id)]
    one = httpx.get(users.url + f"/v1/games/{game_id}", headers=me.auth)
    assert one.json() == made["game"]
    members = httpx.get(users.url + f"/v1/games/{game_id}/members", headers=me.auth).json()
    assert [(m["account_id"], m["role"]) for m in members["members"]] == [
        (str(me.account_id), "owner")
    ]
    for bad, field in (({"name": ""}, "name"), ({"name": "x", "rate_limit_eps": 0},
                       "rate_limit_eps"), ({}, "name"), ({"name": "x", "late_horizon_days": 1.5},
                       "late_horizon_days")):  # fmt: skip
        r = httpx.post(users.url + "/v1/games", json=bad, headers=me.auth)
        assert (r.status_code, r.json()["field"]) == (400, field), r.text


def test_keys_rotate_with_grace_and_revoke(users: UvicornThread, endpoints: Endpoints) -> None:
    me = person(users.url, endpoints.postgres_dsn)
    made = httpx.post(users.url + "/v1/games", json={"name": "keys"}, headers=me.auth).json()
    gid, first = made["game"]["game_id"], made["ingest_key"]
    r = httpx.post(
        users.url + f"/v1/games/{gid}/keys/rotate", json={"grace_seconds": 3600}, headers=me.auth
    )
    assert r.status_code == 200, r.text
    second = r.json()["ingest_key"]
    assert keys.looks_like_key(second)
    assert second != first
    game = httpx.get(users.url + f"/v1/games/{gid}", headers=me.auth).json()
    assert game["active_keys"] == 2  # the old key works through its grace
    r = httpx.post(
        users.url + f"/v1/games/{gid}/keys/revoke", json={"ingest_key": first}, headers=me.auth
    )
    assert r.json() == {"game_id": gid, "revoked": 1}
    r = httpx.post(users.url + f"/v1/games/{gid}/keys/rotate", headers=me.auth)  # no body
    assert r.status_code == 200, r.text
    game = httpx.get(users.url + f"/v1/games/{gid}", headers=me.auth).json()
    assert game["active_keys"] == 1
    r = httpx.post(users.url + f"/v1/games/{gid}/keys/revoke", headers=me.auth)
    assert r.json() == {"game_id": gid, "revoked": 1}
    r = httpx.post(
        users.url + f"/v1/games/{gid}/keys/revoke", json={"ingest_key": "nope"}, headers=me.auth
    )
    assert (r.status_code, r.json()["field"]) == (400, "ingest_key")


def test_analyst_tokens_of_a_game_are_issued_listed_and_revoked(
    users: UvicornThread, endpoints: Endpoints, game: GameKey
) -> None:
    admin = person(users.url, endpoints.postgres_dsn, {game.game_id: "admin"})
    base = users.url + f"/v1/games/{game.game_id}/tokens"
    r = httpx.post(base, json={"name": "dashboard"}, headers=admin.auth)
    assert r.status_code == 201, r.text
    issued = r.json()
    assert issued["token"].startswith("gma_")
    listed = httpx.get(base, headers=admin.auth).json()["tokens"]
    assert [(t["token_id"], t["name"], t["revoked_at"]) for t in listed] == [
        (issued["token_id"], "dashboard", None)
    ]
    assert issued["token"] not in str(listed)
    assert httpx.delete(f"{base}/{issued['token_id']}", headers=admin.auth).status_code == 204
    listed = httpx.get(base, headers=admin.auth).json()["tokens"]
    assert listed[0]["revoked_at"] is not None
    r = httpx.delete(f"{base}/{uuid.uuid4()}", headers=admin.auth)
    assert (r.status_code, r.json()["field"]) == (404, "token_id")
    r = httpx.delete(f"{base}/not-a-uuid", headers=admin.auth)
    assert (r.status_code, r.json()["field"]) == (400, "token_id")
    r = httpx.post(base, json={"name": " "}, headers=admin.auth)
    assert (r.status_code, r.json()["field"]) == (400, "name")


def test_members_owner_rules_and_the_last_owner(
    users: UvicornThread, endpoints: Endpoints, game: GameKey
) -> None:
    dsn, gid = endpoints.postgres_dsn, game.game_id
    owner = person(users.url, dsn, {gid: "owner"})
    admin = person(users.url, dsn, {gid: "admin"})
    newcomer, _ = new_account(dsn)
    base = users.url + f"/v1/games/{gid}/members"
    r = httpx.put(f"{base}/{newcomer}", json={"role": "viewer"}, headers=admin.auth)
    assert r.status_code == 200, r.text
    assert (r.json()["account_id"], r.json()["role"]) == (str(newcomer), "viewer")
    r = httpx.put(f"{base}/{newcomer}", json={"role": "owner"}, headers=admin.auth)
    assert (r.status_code, r.json()["required_role"]) == (403, "owner")
    r = httpx.delete(f"{base}/{owner.account_id}", headers=admin.auth)
    assert (r.status_code, r.json()["required_role"]) == (403, "owner")
    r = httpx.put(f"{base}/{owner.account_id}", json={"role": "admin"}, headers=owner.auth)
    assert (r.status_code, r.json()["field"]) == (409, "role")
    r = httpx.put(f"{base}/{newcomer}", json={"role": "superuser"}, headers=owner.auth)
    assert (r.status_code, r.json()["field"]) == (400, "role")
    r = httpx.put(f"{base}/{uuid.uuid4()}", json={"role": "viewer"}, headers=owner.auth)
    assert (r.status_code, r.json()["field"]) == (404, "account_id")
    assert httpx.delete(f"{base}/{newcomer}", headers=admin.auth).status_code == 204
    r = httpx.delete(f"{base}/{newcomer}", headers=admin.auth)
    assert (r.status_code, r.json()["field"]) == (404, "account_id")
    # A removed role takes effect with the next request of the same session.
    assert httpx.delete(f"{base}/{admin.account_id}", headers=owner.auth).status_code == 204
    r = httpx.get(base, headers=admin.auth)
    assert (r.status_code, r.json()["field"]) == (404, "game_id")


def test_secrets_never_reach_the_logs(
    users: UvicornThread, endpoints: Endpoints, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # Another test may have quietened httpx's own logger: the capture must see the requests.
    caplog.set_level(logging.DEBUG, logger="httpx")
    _, email = new_account(endpoints.postgres_dsn)
    wrong = "a wrong but long password"
    assert log_in(users.url, email, wrong).status_code == 401
    token = log_in(users.url, email).json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    made = httpx.post(users.url + "/v1/games", json={"name": "logged"}, headers=auth).json()
    base = users.url + f"/v1/games/{made['game']['game_id']}"
    key = httpx.post(base + "/keys/rotate", headers=auth).json()["ingest_key"]
    analyst = httpx.post(base + "/tokens", json={"name": "x"}, headers=auth).json()["token"]
    httpx.post(base + "/keys/revoke", json={"ingest_key": key}, headers=auth)
    assert httpx.get(users.url + "/v1/me", headers=auth).status_code == 200
    assert "/v1/sessions" in caplog.text  # the capture saw the requests (httpx logs them)
    for secret in (wrong, PASSWORD, token, made["ingest_key"], key, analyst):
        assert secret not in caplog.text


def _audited(dsn: str, target: str) -> list[tuple[str, str | None, dict[str, object]]]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT action, request_id, details FROM audit_log WHERE target = %s ORDER BY entry_id",
            (target,),
        ).fetchall()
    return [(a, r, d) for a, r, d in rows]


def test_members_are_added_by_email_under_the_owner_rules(
    users: UvicornThread, endpoints: Endpoints, game: GameKey
) -> None:
    dsn, gid = endpoints.postgres_dsn, game.game_id
    owner = person(users.url, dsn, {gid: "owner"})
    admin = person(users.url, dsn, {gid: "admin"})
    newcomer, email = new_account(dsn)
    base = users.url + f"/v1/games/{gid}/members"
    headers = {**admin.auth, "X-Request-Id": "req-add"}
    r = httpx.post(base, json={"email": f"  {email.upper()} ", "role": "analyst"}, headers=headers)
    assert r.status_code == 201, r.text
    added = r.json()
    assert (added["account_id"], added["email"], added["role"]) == (str(newcomer), email, "analyst")
    listed = httpx.get(base, headers=admin.auth).json()["members"]
    assert added in listed
    assert _audited(dsn, f"account:{newcomer}") == [
        ("member.set", "req-add", {"role": "analyst", "previous_role": None})
    ]
    # Named again: the role changes (200), as PUT of its account id would.
    r = httpx.post(base, json={"email": email, "role": "viewer"}, headers=admin.auth)
    assert (r.status_code, r.json()["role"], r.json()["since"]) == (200, "viewer", added["since"])
    # Only an owner grants the owner role, or changes an owner's.
    r = httpx.post(base, json={"email": email, "role": "owner"}, headers=admin.auth)
    assert (r.status_code, r.json()["required_role"]) == (403, "owner")
    r = httpx.post(base, json={"email": owner.email, "role": "viewer"}, headers=admin.auth)
    assert (r.status_code, r.json()["required_role"]) == (403, "owner")
    r = httpx.post(base, json={"email": owner.email, "role": "admin"}, headers=owner.auth)
    assert (r.status_code, r.json()["field"]) == (409, "role")  # the last owner
    r = httpx.post(base, json={"email": email, "role": "owner"}, headers=owner.auth)
    assert (r.status_code, r.json()["role"]) == (200, "owner")
    assert len(_audited(dsn, f"account:{newcomer}")) == 3  # refusals leave no entry
    for bad, status, field in (
        ({"email": "nobody-" + email, "role": "viewer"}, 404, "email"),
        ({"email": "not an email", "role": "viewer"}, 400, "email"),
        ({"email": email, "role": "superuser"}, 400, "role"),
        ({"email": email}, 400, "role"),
        ({"role": "viewer"}, 400, "email"),
        ({"email": email, "role": "viewer", "account_id": str(newcomer)}, 400, "account_id"),
    ):
        r = httpx.post(base, json=bad, headers=owner.auth)
        assert (r.status_code, r.json()["field"]) == (status, field), (bad, r.text)
    # An analyst cannot probe for emails: 403 before any lookup, known email or not.
    analyst = person(users.url, dsn, {gid: "analyst"})
    for probe in (email, "nobody-" + email):
        r = httpx.post(base, json={"email": probe, "role": "viewer"}, headers=analyst.auth)
        assert (r.status_code, r.json()["required_role"]) == (403, "admin")


def test_changing_the_password_keeps_this_session_and_ends_the_others(
    users: UvicornThread, endpoints: Endpoints
) -> None:
    dsn = endpoints.postgres_dsn
    me = person(users.url, dsn)
    other = log_in(users.url, me.email).json()["token"]
    other_auth = {"Authorization": f"Bearer {other}"}
    url = users.url + "/v1/me/password"
    new = "another long enough password"
    for bad, field, says in (
        ({"current_password": PASSWORD + "!", "new_password": new}, "current_password",
         "not the account's current password"),
        ({"current_password": PASSWORD, "new_password": "short"}, "new_password",
         "allowed 12 to 256"),
        ({"current_password": PASSWORD, "new_password": "x" * 257}, "new_password",
         "allowed 12 to 256"),
        ({"current_password": PASSWORD, "new_password": PASSWORD}, "new_password",
         "is the current password"),
        ({"new_password": new}, "current_password", "required"),
        ({"current_password": PASSWORD}, "new_password", "required"),
        ({"current_password": PASSWORD, "new_password": new, "email": "x"}, "email", "unknown"),
    ):  # fmt: skip
        r = httpx.post(url, json=bad, headers=me.auth, timeout=30)
        assert (r.status_code, r.json()["field"]) == (400, field), (bad, r.text)
        assert says in r.json()["error"]
    assert httpx.get(users.url + "/v1/me", headers=other_auth).status_code == 200
    headers = {**me.auth, "X-Request-Id": "req-password"}
    r = httpx.post(url, json={"current_password": PASSWORD, "new_password": new}, headers=headers)
    assert (r.status_code, r.content) == (204, b""), r.text
    assert httpx.get(users.url + "/v1/me", headers=me.auth).status_code == 200
    assert httpx.get(users.url + "/v1/me", headers=other_auth).status_code == 401
    assert log_in(users.url, me.email).status_code == 401
    assert log_in(users.url, me.email, new).status_code == 201
    entries = _audited(dsn, f"account:{me.account_id}")
    assert entries[-1] == ("account.password", "req-password", {"other_sessions_ended": 1})
    with psycopg.connect(dsn) as conn:
        stored = conn.execute("SELECT audit_log::text FROM audit_log").fetchall()
    assert not any(new in row[0] or PASSWORD in row[0] for row in stored)
    r = httpx.post(url, json={"current_password": PASSWORD, "new_password": new}, headers=me.auth)
    assert (r.status_code, r.json()["field"]) == (400, "current_password")  # the old one


def test_wrong_current_passwords_are_throttled_like_logins(
    users: UvicornThread, endpoints: Endpoints
) -> None:
    me = person(users.url, endpoints.postgres_dsn)
    url = users.url + "/v1/me/password"
    wrong = {"current_password": "a wrong but long password", "new_password": PASSWORD + "?"}
    for _ in range(5):  # GAMEMETRICS_USERS_LOGIN_FAILURES_PER_ACCOUNT
        r = httpx.post(url, json=wrong, headers=me.auth, timeout=30)
        assert (r.status_code, r.json()["field"]) == (400, "current_password")
    right = {"current_password": PASSWORD, "new_password": PASSWORD + "?"}
    r = httpx.post(url, json=right, headers=me.auth, timeout=30)
    assert r.status_code == 429, r.text
    assert int(r.headers["Retry-After"]) > 0
    assert log_in(users.url, me.email).status_code == 429  # the same count as logins
    assert httpx.get(users.url + "/v1/me", headers=me.auth).status_code == 200
