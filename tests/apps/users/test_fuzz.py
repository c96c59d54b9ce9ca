"""Hostile input against the running users API: never a 5xx, only documented shapes, and
nothing of another game (its keys, tokens, members, audit entries) changes."""

import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.apps.users.test_roles import Fixture, _state, _world
from tests.support.servers import Endpoints, UvicornThread
from tests.support.users import Person, person

FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
ERROR_KEYS = {"error", "field", "required_role"}


@pytest.fixture(scope="module")
def fuzz_client(users: UvicornThread) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=users.url, timeout=30) as c:
        yield c


@pytest.fixture(scope="module")
def worlds(endpoints: Endpoints) -> tuple[Fixture, Fixture]:
    """The attacker's game and a bystander's."""
    return _world(endpoints.postgres_dsn), _world(endpoints.postgres_dsn)


@pytest.fixture(scope="module")
def attacker(users: UvicornThread, endpoints: Endpoints, worlds: tuple[Fixture, Fixture]) -> Person:
    return person(users.url, endpoints.postgres_dsn, {worlds[0].game: "owner"})


@pytest.fixture(scope="module", autouse=True)
def bystander_unchanged(endpoints: Endpoints, worlds: tuple[Fixture, Fixture]) -> Iterator[None]:
    before = _state(endpoints.postgres_dsn, worlds[1].game)
    yield
    assert _state(endpoints.postgres_dsn, worlds[1].game) == before


def _documented(r: httpx.Response) -> None:
    assert r.status_code < 500, (r.status_code, r.text)
    if r.status_code == 204:
        assert r.content == b""
        return
    if r.status_code == 307:  # Starlette's redirect of a trailing slash to the route without
        target = httpx.URL(r.headers["location"]).path
        assert target == r.url.path.rstrip("/"), r.headers
        return
    assert r.headers["content-type"] == "application/json", r.headers
    body = r.json()
    assert isinstance(body, dict), body
    if r.status_code >= 400:
        assert "error" in body, body
        assert set(body) <= ERROR_KEYS, body
        assert all(isinstance(v, str) and v for v in body.values()), body
    if r.status_code == 429:
        assert int(r.headers["Retry-After"]) > 0


def _paths(w: Fixture, b: Fixture) -> list[str]:
    """Every route, on the attacker's game and on the bystander's."""
    paths = ["/v1/sessions", "/v1/me", "/v1/me/password", "/v1/games", "/v1/audit"]
    for g in (w, b):
        base = f"/v1/games/{g.game}"
        paths += [base, f"{base}/members", f"{base}/members/{g.account}", f"{base}/keys/rotate",
                  f"{base}/keys/revoke", f"{base}/tokens", f"{base}/tokens/{g.token}",
                  f"{base}/players/ana", f"{base}/retention"]  # fmt: skip
    return paths


hostile_text = st.one_of(
    st.text(max_size=50),
    st.sampled_from(["\x00", "\ud800", "' OR 1=1 --", "%00", "../..", "a" * 5000, "owner",
                     "gmk_" + "A" * 43, "gma_" + "A" * 43, "gms_" + "A" * 43, "1e400"]),
)  # fmt: skip
hostile_json: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | hostile_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(hostile_text, inner, max_size=4),
    max_leaves=12,
)
FIELDS = ["email", "password", "name", "rate_limit_eps", "late_horizon_days", "role",
          "grace_seconds", "ingest_key", "current_password", "new_password", "hot_days",
          "archive_days"]  # fmt: skip
bodies = st.dictionaries(st.sampled_from(FIELDS) | hostile_text, hostile_json, max_size=4)


@FUZZ
@given(
    data=st.data(),
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"]),
    body=bodies,
)
def test_structured_hostile_bodies(
    fuzz_client: httpx.Client, worlds: tuple[Fixture, Fixture], attacker: Person,
    data: st.DataObject, method: str, body: dict[str, Any],
) -> None:  # fmt: skip
    path = data.draw(st.sampled_from(_paths(*worlds)))
    if method == "DELETE" and path == "/v1/sessions":
        return  # logging the attacker out would leave only 401s to explore
    headers = {**attacker.auth, "Content-Type": "application/json"}
    try:
        content = httpx.Request("POST", "/", json=body).content
    except (ValueError, UnicodeEncodeError):
        content = repr(body).encode("utf-8", "surrogatepass")
    _documented(fuzz_client.request(method, path, content=content, headers=headers))


@FUZZ
@given(
    data=st.data(),
    raw=st.binary(max_size=300),
    content_type=st.sampled_from(["application/json", "text/plain", "", "application/json; x"]),
    authorization=st.sampled_from(["own", "none", "garbage", "ingest key", "bystander token"]),
)
def test_raw_bytes_and_any_credentials(
    fuzz_client: httpx.Client, worlds: tuple[Fixture, Fixture], attacker: Person,
    data: st.DataObject, raw: bytes, content_type: str, authorization: str,
) -> None:  # fmt: skip
    path = data.draw(st.sampled_from([p for p in _paths(*worlds) if p != "/v1/sessions"]))
    method = data.draw(st.sampled_from(["GET", "POST", "PUT"]))
    headers = {"Content-Type": content_type} if content_type else {}
    headers |= {
        "own": attacker.auth,
        "none": {},
        "garbage": {"Authorization": "Bearer x" + raw.hex()[:40]},
        "ingest key": {"Authorization": "Bearer gmk_" + "B" * 43},
        "bystander token": {"Authorization": "Bearer gms_" + "C" * 43},
    }[authorization]
    _documented(fuzz_client.request(method, path, content=raw, headers=headers))


@FUZZ
@given(
    segment=st.text(st.characters(codec="utf-8"), max_size=40),
    query=st.dictionaries(
        st.sampled_from(["game_id", "since", "until", "cursor", "limit", "events", "x"]),
        hostile_text, max_size=4,
    ),
)  # fmt: skip
def test_hostile_paths_and_queries(
    fuzz_client: httpx.Client, worlds: tuple[Fixture, Fixture], attacker: Person,
    segment: str, query: dict[str, str],
) -> None:  # fmt: skip
    safe_query = {k: v.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
                  for k, v in query.items()}  # fmt: skip
    encoded = quote(segment.encode("utf-8", "surrogatepass"), safe="")
    own = worlds[0].game
    for path in (f"/v1/games/{encoded}", f"/v1/games/{encoded}/members/{uuid.uuid4()}",
                 "/v1/audit", f"/v1/{encoded}", f"/v1/games/{own}/players/{encoded}"):  # fmt: skip
        r = fuzz_client.get(path, params=safe_query, headers=attacker.auth)
        if r.status_code == 404 and "field" not in r.json():
            assert r.json() == {"error": "Not Found"}  # an unknown route: the edge's 404
        _documented(r)


def test_the_attacker_session_survived(fuzz_client: httpx.Client, attacker: Person) -> None:
    assert fuzz_client.get("/v1/me", headers=attacker.auth).status_code == 200
