"""Every change through the API leaves one audit entry, with its request id and no secret;
`GET /v1/audit` filters by game and time and pages with a cursor."""

from datetime import datetime, timedelta

import httpx
import psycopg

from tests.support.servers import Endpoints, UvicornThread
from tests.support.users import new_account, person


def test_changes_are_audited_without_secrets_and_paged(
    users: UvicornThread, endpoints: Endpoints
) -> None:
    dsn = endpoints.postgres_dsn
    me = person(users.url, dsn)
    made = httpx.post(users.url + "/v1/games", json={"name": "audited"}, headers=me.auth).json()
    gid = made["game"]["game_id"]
    base = users.url + f"/v1/games/{gid}"
    secrets = [made["ingest_key"], me.token]
    other, _ = new_account(dsn)

    def send(method: str, path: str, request_id: str, **kwargs: object) -> httpx.Response:
        headers = {**me.auth, "X-Request-Id": request_id}
        r = httpx.request(method, base + path, headers=headers, timeout=30, **kwargs)  # type: ignore[arg-type]
        assert r.status_code < 300, r.text
        assert r.headers["X-Request-Id"] == request_id
        return r

    send("PUT", f"/members/{other}", "req-member-set", json={"role": "analyst"})
    secrets.append(send("POST", "/keys/rotate", "req-rotate", json={}).json()["ingest_key"])
    send("POST", "/keys/revoke", "req-revoke")
    token = send("POST", "/tokens", "req-token", json={"name": "t"}).json()
    secrets.append(token["token"])
    send("DELETE", f"/tokens/{token['token_id']}", "req-token-revoke")
    send("DELETE", f"/members/{other}", "req-member-remove")

    r = httpx.get(users.url + "/v1/audit", params={"game_id": gid}, headers=me.auth)
    assert r.status_code == 200, r.text
    page = r.json()
    assert page["next_cursor"] is None
    got = [(e["action"], e["target"], e["request_id"]) for e in reversed(page["entries"])]
    assert got[2:] == [
        ("member.set", f"account:{other}", "req-member-set"),
        ("key.rotate", f"game:{gid}", "req-rotate"),
        ("key.revoke", f"game:{gid}", "req-revoke"),
        ("token.create", f"token:{token['token_id']}", "req-token"),
        ("token.revoke", f"token:{token['token_id']}", "req-token-revoke"),
        ("member.remove", f"account:{other}", "req-member-remove"),
    ]
    assert [g[:2] for g in got[:2]] == [
        ("game.create", f"game:{gid}"),
        ("member.set", f"account:{me.account_id}"),
    ]
    assert {e["actor"] for e in page["entries"]} == {f"account:{me.account_id}"}
    assert page["entries"][-3]["details"] == {"role": "analyst", "previous_role": None}
    with psycopg.connect(dsn) as conn:
        stored = conn.execute("SELECT audit_log::text FROM audit_log").fetchall()
    for secret in secrets:
        assert not any(secret in row[0] for row in stored)

    # Paging: three at a time, newest first, the cursor leading on.
    seen: list[int] = []
    cursor = None
    while True:
        params = {"game_id": gid, "limit": "3", **({"cursor": cursor} if cursor else {})}
        r = httpx.get(users.url + "/v1/audit", params=params, headers=me.auth)
        seen += [e["entry_id"] for e in r.json()["entries"]]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == [e["entry_id"] for e in page["entries"]]
    # Time filters: nothing after the newest entry, everything since the oldest.
    newest = datetime.fromisoformat(page["entries"][0]["at"])
    oldest = page["entries"][-1]["at"]
    later = (newest + timedelta(seconds=1)).isoformat()
    r = httpx.get(users.url + "/v1/audit", params={"since": later}, headers=me.auth)
    assert r.json()["entries"] == []
    r = httpx.get(users.url + "/v1/audit", params={"since": oldest}, headers=me.auth)
    assert len(r.json()["entries"]) == len(page["entries"])
    for bad in ({"since": "yesterday"}, {"limit": "0"}, {"cursor": "x"}, {"game_id": "g"},
                {"since": later, "until": oldest}):  # fmt: skip
        r = httpx.get(users.url + "/v1/audit", params=bad, headers=me.auth)
        assert r.status_code == 400, (bad, r.text)
        assert r.json()["field"] in bad


def test_viewers_and_analysts_may_not_read_the_audit_log(
    users: UvicornThread, endpoints: Endpoints
) -> None:
    me = person(users.url, endpoints.postgres_dsn)
    gid = httpx.post(users.url + "/v1/games", json={"name": "a"}, headers=me.auth).json()
    gid = gid["game"]["game_id"]
    viewer = person(users.url, endpoints.postgres_dsn, {gid: "analyst"})
    r = httpx.get(users.url + "/v1/audit", params={"game_id": gid}, headers=viewer.auth)
    assert (r.status_code, r.json()["required_role"]) == (403, "admin")
    r = httpx.get(users.url + "/v1/audit", headers=viewer.auth)
    assert r.json() == {"entries": [], "next_cursor": None}
