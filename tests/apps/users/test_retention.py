"""PUT /v1/games/{game_id}/retention on real HTTP and PostgreSQL: either or both values,
the game answered and listed with them, every refusal naming its field, audited."""

import uuid
from typing import Any

import httpx
import psycopg

from apps.core import retention
from tests.support.servers import Endpoints, UvicornThread
from tests.support.users import Person, person


def _game(users: UvicornThread, owner: Person) -> str:
    made = httpx.post(users.url + "/v1/games", json={"name": "kept"}, headers=owner.auth)
    assert made.status_code == 201, made.text
    game_id: str = made.json()["game"]["game_id"]
    return game_id


def _put(users: UvicornThread, who: Person, game_id: str, body: Any) -> httpx.Response:
    return httpx.put(
        users.url + f"/v1/games/{game_id}/retention",
        json=body,
        headers={**who.auth, "X-Request-Id": "retention-test"},
        timeout=30,
    )


def test_either_or_both_values_change_and_the_game_answers_them(
    users: UvicornThread, endpoints: Endpoints
) -> None:
    owner = person(users.url, endpoints.postgres_dsn)
    gid, other = _game(users, owner), _game(users, owner)
    one = httpx.get(users.url + f"/v1/games/{gid}", headers=owner.auth).json()
    assert (one["hot_days"], one["archive_days"]) == (30, 730)

    r = _put(users, owner, gid, {"hot_days": 90})
    assert r.status_code == 200, r.text
    assert r.json() == {**one, "hot_days": 90}
    r = _put(users, owner, gid, {"archive_days": 0})
    assert (r.status_code, r.json()["hot_days"], r.json()["archive_days"]) == (200, 90, 0)
    r = _put(users, owner, gid, {"hot_days": 7, "archive_days": 3650})
    assert (r.status_code, r.json()["hot_days"], r.json()["archive_days"]) == (200, 7, 3650)
    assert httpx.get(users.url + f"/v1/games/{gid}", headers=owner.auth).json() == r.json()
    listed = {
        g["game_id"]: (g["hot_days"], g["archive_days"])
        for g in httpx.get(users.url + "/v1/games", headers=owner.auth).json()["games"]
    }
    assert listed == {gid: (7, 3650), other: (30, 730)}

    with psycopg.connect(endpoints.postgres_dsn) as conn:
        rows = conn.execute(
            "SELECT actor, target, request_id, details FROM audit_log"
            " WHERE game_id = %s AND action = 'game.retention' ORDER BY entry_id",
            (gid,),
        ).fetchall()
    actor, target = f"account:{owner.account_id}", f"game:{gid}"
    assert rows == [
        (actor, target, "retention-test", {"old": {"hot_days": 30, "archive_days": 730},
                                           "new": {"hot_days": 90, "archive_days": 730}}),
        (actor, target, "retention-test", {"old": {"hot_days": 90, "archive_days": 730},
                                           "new": {"hot_days": 90, "archive_days": 0}}),
        (actor, target, "retention-test", {"old": {"hot_days": 90, "archive_days": 0},
                                           "new": {"hot_days": 7, "archive_days": 3650}}),
    ]  # fmt: skip


def test_bad_values_are_400s_naming_the_field_and_change_nothing(
    users: UvicornThread, endpoints: Endpoints
) -> None:
    owner = person(users.url, endpoints.postgres_dsn)
    gid = _game(users, owner)
    (hot_low, hot_high), (archive_low, archive_high) = retention.BOUNDS.values()
    for body, field in (
        ({"hot_days": hot_low - 1}, "hot_days"),
        ({"hot_days": hot_high + 1}, "hot_days"),
        ({"archive_days": archive_low - 1}, "archive_days"),
        ({"archive_days": archive_high + 1}, "archive_days"),
        ({"hot_days": 1.5}, "hot_days"),
        ({"hot_days": "30"}, "hot_days"),
        ({"archive_days": True}, "archive_days"),
        ({"archive_days": 10**30}, "archive_days"),
        ({"hot_days": 30, "archive_days": [730]}, "archive_days"),
        ({}, "hot_days"),
        ({"hot_days": None}, "hot_days"),
        ({"keep_days": 30}, "keep_days"),
        ([30], "body"),
        # archive_days must exceed hot_days (or be 0): the value sent is named.
        ({"hot_days": 730}, "hot_days"),
        ({"archive_days": 30}, "archive_days"),
        ({"hot_days": 100, "archive_days": 50}, "archive_days"),
    ):
        r = _put(users, owner, gid, body)
        assert (r.status_code, r.json().get("field")) == (400, field), (body, r.text)
        assert r.json()["error"], body
    r = _put(users, owner, gid, {"hot_days": 0})
    assert r.json() == {"error": "0; allowed 1 to 3650", "field": "hot_days"}
    r = _put(users, owner, gid, {"hot_days": 730})
    assert "archive_days (730) must exceed hot_days (730)" in r.json()["error"]
    game = httpx.get(users.url + f"/v1/games/{gid}", headers=owner.auth).json()
    assert (game["hot_days"], game["archive_days"]) == (30, 730)
    with psycopg.connect(endpoints.postgres_dsn) as conn:
        audited = conn.execute(
            "SELECT count(*) FROM audit_log WHERE game_id = %s AND action = 'game.retention'",
            (gid,),
        ).fetchone()
    assert audited == (0,)


def test_an_unknown_game_is_404_naming_game_id(users: UvicornThread, endpoints: Endpoints) -> None:
    owner = person(users.url, endpoints.postgres_dsn)
    missing = str(uuid.uuid4())
    r = _put(users, owner, missing, {"hot_days": 10})
    assert (r.status_code, r.json()["field"]) == (404, "game_id")
    r = _put(users, owner, "nonsense", {"hot_days": 10})
    assert (r.status_code, r.json()["field"]) == (400, "game_id")
