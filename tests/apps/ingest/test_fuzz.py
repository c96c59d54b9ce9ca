"""Hostile input against the running ingestion API: never a 5xx, only documented shapes,
and nothing of another game's data changes (nor is anything accepted dead-lettered)."""

import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.core.topics import EVENTS_DLQ
from tests.conftest import GameKey, new_game
from tests.support.factory import batch, event, iso, now
from tests.support.processor import ThreadedProcessor, settle
from tests.support.recompute import game_state, stored_ids
from tests.support.servers import Endpoints, UvicornThread
from tests.support.topic import read_records

FUZZ = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
JSON = "application/json"


@pytest.fixture(scope="module")
def fuzz_client(ingest: UvicornThread) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=ingest.url, timeout=30) as c:
        yield c


@pytest.fixture(scope="module")
def target(endpoints: Endpoints) -> GameKey:
    """The game the hostile requests are sent as."""
    return new_game(endpoints.postgres_dsn)


@dataclass(frozen=True)
class Bystander:
    game: GameKey
    before: dict[str, list[Any]]
    """Its events and rollups before the fuzzing."""


@pytest.fixture(scope="module")
def bystander(
    endpoints: Endpoints, fuzz_client: httpx.Client, processor: ThreadedProcessor
) -> Bystander:
    """Another game with stored events: after the fuzzing, its data is exactly as before."""
    other = new_game(endpoints.postgres_dsn)
    sent = batch(
        event("session_start", player_id="calm", platform="ios", country="FR"),
        event("purchase", player_id="calm", amount=9.99, currency="EUR"),
        event("session_end", player_id="calm", duration_seconds=12.5),
    )
    r = fuzz_client.post("/v1/events", json=sent, headers=other.auth)
    assert r.status_code == 202, r.text
    settle(processor)
    before = game_state(endpoints.postgres_dsn, other.game_id)
    assert len(before["events"]) == 3
    assert len(before["daily_revenue"]) == 1
    return Bystander(other, before)


def _check_shape(r: httpx.Response) -> None:
    """Not a 5xx, and the body one of the documented shapes for its status."""
    assert r.status_code < 500, (r.status_code, r.text)
    body = r.json()
    assert isinstance(body, dict)
    if r.status_code in (202, 400) and "accepted" in body:
        assert isinstance(body["accepted"], int)
        assert (body["accepted"] > 0) == (r.status_code == 202)
        assert all(
            set(x) == {"index", "field", "error"}
            and isinstance(x["index"], int)
            and isinstance(x["field"], str)
            and isinstance(x["error"], str)
            for x in body["rejected"]
        ), body
        if "error" in body:  # the request as a whole: malformed JSON, bad envelope
            assert set(body) == {"accepted", "rejected", "error", "field"}
            assert (r.status_code, body["accepted"], body["rejected"]) == (400, 0, [])
            assert body["field"] in ("body", "events", "sent_at") or body["field"]
        else:
            assert set(body) == {"accepted", "rejected"}
        return
    assert r.status_code in (400, 401, 408, 413, 415, 429), (r.status_code, body)
    if r.status_code == 429:
        assert set(body) == {"error", "retry_after_seconds"}
        return
    assert set(body) == {"error", "field"}, body
    assert isinstance(body["error"], str)
    assert isinstance(body["field"], str)
    assert body["error"]
    assert body["field"]


def _post(
    client: httpx.Client, game: GameKey, content: bytes, headers: dict[str, str] | None = None
) -> httpx.Response:
    sent = {**game.auth, "Content-Type": JSON, **(headers or {})}
    r = client.post("/v1/events", content=content, headers=sent)
    _check_shape(r)
    return r


# Hostile pieces of JSON text, most of them valid JSON that something downstream could not
# take: deep nesting, numbers beyond a double or numeric, non-JSON number tokens, invalid
# UTF-8, lone and encoded surrogates, NUL and other control characters, giant strings.
_TOKENS = [
    b"NaN", b"Infinity", b"-Infinity", b"1e400", b"-1e400", b"1e-400", b"1e999999",
    b"9" * 5000, b"0." + b"0" * 5000 + b"1", b"18446744073709551616", b"-9223372036854775809",
    b"1.7976931348623157e308", b"5e-324", b"-0", b"true", b"null", b"[]", b"{}", b'""',
    b'"\\ud800"', b'"\\udc00x"', b'"\\ud800\\u0041"', b'"\xed\xa0\x80"', b'"\xff\xfe"',
    b'"\xc3"', b'"\\u0000"', b'"a\\u0001b"', b'"\x7f"', b'"\xc2\x85"', b'"line\\nbreak"',
    b'"' + b"x" * 300_000 + b'"', b'"' + b"\\u00e9" * 50_000 + b'"',
    b'"0001-01-01T00:00:00+23:59"', b'"9999-12-31T23:59:59-23:59"',
    b'"0001-01-01T00:00:00Z"', b'"9999-12-31T23:59:59.999999Z"', b'"2026-02-30T00:00:00Z"',
    b'"2026-01-01T24:00:00Z"', b'"2026-01-01T00:00:00"', b"253402300799999",
    b"253402300800000", b"-1", b"0", b"1.5", b'"XX"', b'"uk"', b'"de"', b'"EUR"', b'"eur"',
    b"2147483648", b"2147483647", b"1e12", b"1.0000001e12", b"2592000", b"2592001",
    b'"purchase"', b'"session_end"', b'"progression"', b'"complete"', b'"ui.click"',
]  # fmt: skip
_deep = st.integers(1, 4000).flatmap(
    lambda d: st.sampled_from([b"[" * d + b"]" * d, b'{"a":' * d + b"1" + b"}" * d])
)
_valid_values = st.one_of(
    st.uuids().map(lambda u: json.dumps(str(u)).encode()),
    st.text(max_size=30).map(lambda t: json.dumps(t).encode()),
    st.integers().map(lambda i: str(i).encode()),
    st.floats().map(lambda f: json.dumps(f).encode()),
    st.just(json.dumps(iso(now())).encode()),
)
_values = st.one_of(st.sampled_from(_TOKENS), _deep, _valid_values)
_FIELDS = [
    "event_id", "type", "player_id", "timestamp", "session_id", "platform", "country",
    "app_version", "properties", "duration_seconds", "amount", "currency", "item_id", "level",
    "status", "extra", "",
]  # fmt: skip


@st.composite
def _hostile_event(draw: st.DrawFn) -> bytes:
    """A valid event's fields, some replaced, added or repeated with hostile values."""
    base = event(draw(st.sampled_from(["design", "purchase", "session_end", "progression"])))
    pairs = [(k, json.dumps(v).encode()) for k, v in base.items()]
    for _ in range(draw(st.integers(0, 2))):  # none: a valid event among the hostile ones
        name = draw(st.sampled_from(_FIELDS))
        value = draw(_values)
        if name == "properties" and draw(st.booleans()):
            value = b'{"k": %s, "pad": "%s"}' % (value, b"p" * draw(st.integers(0, 400)))
        pairs.append((name, value))  # a repeated key: JSON with duplicate keys
    order = draw(st.permutations(pairs))
    return b"{" + b",".join(b'"%s":%s' % (k.encode(), v) for k, v in order) + b"}"


@st.composite
def _hostile_body(draw: st.DrawFn) -> bytes:
    events = draw(st.lists(_hostile_event() | _hostile_event() | _values, max_size=4))
    parts = [b'"events":[' + b",".join(events) + b"]"]
    envelope = draw(st.integers(0, 5))  # mostly a plain envelope, so events get judged
    if envelope == 1:
        parts.append(b'"sent_at":' + draw(_values))
    elif envelope == 2:
        parts.append(b'"sent_at":' + json.dumps(iso(now())).encode())
    elif envelope == 3:
        parts.append(draw(st.sampled_from([b'"events":[]', b'"extra":1', b'"events":null'])))
    return b"{" + b",".join(draw(st.permutations(parts))) + b"}"


def test_raw_bytes_never_get_a_5xx(
    fuzz_client: httpx.Client, target: GameKey, bystander: Bystander
) -> None:
    @FUZZ
    @given(st.binary(max_size=3000) | st.sampled_from([b"", b"{", b'{"events":[{}]}']))
    def send(body: bytes) -> None:
        _post(fuzz_client, target, body)

    send()


def test_hostile_json_never_gets_a_5xx(
    fuzz_client: httpx.Client, target: GameKey, bystander: Bystander
) -> None:
    @FUZZ
    @given(_hostile_body())
    def send(body: bytes) -> None:
        _post(fuzz_client, target, body)

    send()


_CONTENT_TYPES = [
    JSON, "application/json; charset=utf-8", "APPLICATION/JSON", "text/plain", "",
    "application/x-www-form-urlencoded", "application/json; charset=latin-1", "multipart/form-data",
    "application/jsonx", "application/json;;;", ";application/json",
]  # fmt: skip
_ENCODINGS = ["", "identity", "gzip", "x-gzip", "GZIP", "br", "deflate", "gzip, gzip", "zstd"]
_AUTH = ["good", "", "Bearer", "Bearer  x", "Basic abc", "Bearer gm_" + "x" * 40, "bearer good"]


def test_hostile_headers_never_get_a_5xx(
    fuzz_client: httpx.Client, target: GameKey, bystander: Bystander
) -> None:
    @FUZZ
    @given(
        content_type=st.just(JSON) | st.sampled_from(_CONTENT_TYPES),
        encoding=st.sampled_from(["", "gzip"]) | st.sampled_from(_ENCODINGS),
        compress=st.booleans(),
        auth=st.just("good") | st.sampled_from(_AUTH),
        body=_hostile_body() | st.just(json.dumps(batch(event())).encode()),
    )
    def send(content_type: str, encoding: str, compress: bool, auth: str, body: bytes) -> None:
        headers = {"Content-Type": content_type}
        if encoding:
            headers["Content-Encoding"] = encoding
        if auth == "good":
            headers["Authorization"] = target.auth["Authorization"]
        else:
            headers["Authorization"] = auth.replace("good", target.key)
        content = gzip.compress(body) if compress else body
        r = fuzz_client.post("/v1/events", content=content, headers=headers)
        _check_shape(r)
        if "good" not in auth:
            assert r.status_code == 401
            assert r.json()["field"] == "Authorization"

    send()


def test_after_the_fuzzing_another_games_data_is_unchanged_and_nothing_dead_lettered(
    endpoints: Endpoints, target: GameKey, bystander: Bystander, processor: ThreadedProcessor
) -> None:
    """Runs last: the bystander's events and rollups are as before, and what was answered
    202 was stored, not dead-lettered (validation is the only gate)."""
    settle(processor)
    assert game_state(endpoints.postgres_dsn, bystander.game.game_id) == bystander.before
    assert stored_ids(endpoints.postgres_dsn, target.game_id) != []  # some were accepted
    letters = [
        h for k, _, h in read_records(endpoints.kafka_bootstrap, EVENTS_DLQ.name)
        if k is not None and k.startswith(str(target.game_id).encode())
    ]  # fmt: skip
    assert letters == []
