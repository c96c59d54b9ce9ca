"""POST /v1/events over real HTTP against real PostgreSQL, Tansu and Redis, read back from Kafka."""

import gzip
import json
import uuid
from datetime import timedelta
from typing import Any

import httpx
import psycopg

from apps.core import limits
from apps.store import games
from tests.conftest import GameKey, new_game
from tests.support.factory import batch, event, iso, now
from tests.support.keys import refused_soon
from tests.support.servers import Endpoints
from tests.support.topic import events_of_game


def post(client: httpx.Client, game: GameKey, body: Any, **headers: str) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(
        "/v1/events",
        content=content,
        headers={**game.auth, "Content-Type": "application/json", **headers},
    )


def test_accepted_events_are_in_the_topic_when_the_api_answers(
    client: httpx.Client, game: GameKey, endpoints: Endpoints
) -> None:
    sent = [
        event("session_start", player_id="p-1", platform="ios", country="DE", app_version="1.4.2"),
        event("purchase", player_id="p-1", amount=2.99, currency="USD", item_id="sword"),
        event("progression", player_id="p-2", level=3, status="fail"),
        event("session_end", player_id="p-1"),
        event("ui.click", player_id="p-2", properties={"button": "play"}),
    ]
    r = post(client, game, batch(*sent))
    assert r.status_code == 202
    assert r.json() == {"accepted": 5, "rejected": []}
    stored = {str(e.event_id): e for e in events_of_game(endpoints.kafka_bootstrap, game.game_id)}
    assert set(stored) == {e["event_id"] for e in sent}
    purchase = stored[sent[1]["event_id"]]
    assert (purchase.amount, purchase.currency, purchase.item_id) == (2.99, "USD", "sword")
    start = stored[sent[0]["event_id"]]
    assert (start.platform, start.country, start.app_version) == ("ios", "DE", "1.4.2")
    assert stored[sent[2]["event_id"]].level == "3"
    assert json.loads(stored[sent[4]["event_id"]].properties) == {"button": "play"}
    assert all(e.received_at >= e.event_time for e in stored.values())


def test_invalid_events_are_named_and_only_valid_ones_reach_the_topic(
    client: httpx.Client, game: GameKey, endpoints: Endpoints
) -> None:
    good = event()
    bad_currency = event("purchase", currency="XYZ")
    no_player = event(player_id="")
    r = post(client, game, batch(bad_currency, good, no_player))
    assert r.status_code == 202
    assert r.json() == {
        "accepted": 1,
        "rejected": [
            {"index": 0, "field": "currency", "error": r.json()["rejected"][0]["error"]},
            {"index": 2, "field": "player_id", "error": "must be a string of 1..128 characters"},
        ],
    }
    assert "XYZ" in r.json()["rejected"][0]["error"]
    ids = [str(e.event_id) for e in events_of_game(endpoints.kafka_bootstrap, game.game_id)]
    assert ids == [good["event_id"]]


def test_no_valid_event_is_400_with_the_same_body(
    client: httpx.Client, game: GameKey, endpoints: Endpoints
) -> None:
    r = post(client, game, batch(event(event_id="nope"), event("session_start", session_id=None)))
    assert r.status_code == 400
    body = r.json()
    assert body["accepted"] == 0
    assert [(x["index"], x["field"]) for x in body["rejected"]] == [
        (0, "event_id"),
        (1, "session_id"),
    ]
    assert events_of_game(endpoints.kafka_bootstrap, game.game_id) == []


def test_malformed_json_and_envelope_are_400(client: httpx.Client, game: GameKey) -> None:
    for body, field in [
        (b'{"events": [', "body"),
        (b"{}", "events"),
        (b'{"events": []}', "events"),
    ]:
        r = post(client, game, body)
        assert r.status_code == 400, body
        assert r.json()["field"] == field
        assert r.json()["accepted"] == 0
        assert "Traceback" not in r.text


def test_missing_unknown_and_revoked_keys_are_401(
    client: httpx.Client, game: GameKey, endpoints: Endpoints
) -> None:
    body = json.dumps(batch(event())).encode()
    json_ct = {"Content-Type": "application/json"}
    assert client.post("/v1/events", content=body, headers=json_ct).status_code == 401
    for auth in ["Basic abc", "Bearer", f"Token {game.key}", "Bearer gmk_" + "x" * 43]:
        r = client.post("/v1/events", content=body, headers={**json_ct, "Authorization": auth})
        assert r.status_code == 401, auth
        assert r.headers["www-authenticate"].startswith("Bearer")
    assert post(client, game, batch(event())).status_code == 202
    with psycopg.connect(endpoints.postgres_dsn) as conn:
        games.revoke_keys(conn, game.game_id)
    # Running services learn of it by NOTIFY, delivered a moment after the commit.
    refused = refused_soon(lambda: post(client, game, batch(event())))
    assert refused.json()["error"] == "unknown or revoked ingest key"


def test_rotated_key_replaces_the_old_one(
    client: httpx.Client, game: GameKey, endpoints: Endpoints
) -> None:
    with psycopg.connect(endpoints.postgres_dsn) as conn:
        issued = games.rotate_key(conn, game.game_id)
    refused_soon(lambda: post(client, game, batch(event())))
    rotated = GameKey(game.game_id, issued.ingest_key)
    assert post(client, rotated, batch(event())).status_code == 202


def test_body_over_one_mebibyte_is_413(client: httpx.Client, game: GameKey) -> None:
    padding = {"pad": "x" * 7000}
    big = batch(*[event(properties=padding) for _ in range(160)])
    raw = json.dumps(big).encode()
    assert len(raw) > limits.MAX_BODY_BYTES
    r = post(client, game, raw)
    assert r.status_code == 413
    assert "1 MiB" in r.json()["error"]


def test_more_than_1000_events_is_413(client: httpx.Client, game: GameKey) -> None:
    one = event()
    r = post(client, game, batch(*[one] * 1001))
    assert r.status_code == 413
    assert r.json()["field"] == "events"
    assert post(client, game, batch(*[one] * 1000)).status_code == 202


def test_gzip_body_is_accepted(client: httpx.Client, game: GameKey, endpoints: Endpoints) -> None:
    sent = [event() for _ in range(50)]
    r = post(
        client,
        game,
        gzip.compress(json.dumps(batch(*sent)).encode()),
        **{"Content-Encoding": "gzip"},
    )
    assert r.status_code == 202
    assert r.json()["accepted"] == 50
    assert len(events_of_game(endpoints.kafka_bootstrap, game.game_id)) == 50


def test_gzip_bomb_is_413_without_inflating_it(client: httpx.Client, game: GameKey) -> None:
    # 64 MiB of zeros inside valid JSON compresses to about 64 KiB.
    bomb = gzip.compress(b'{"events": [], "pad": "' + b"0" * (64 * 1024 * 1024) + b'"}', 9)
    assert len(bomb) < limits.MAX_BODY_BYTES
    r = post(client, game, bomb, **{"Content-Encoding": "gzip"})
    assert r.status_code == 413
    assert "after decompression" in r.json()["error"]


def test_invalid_gzip_is_400(client: httpx.Client, game: GameKey) -> None:
    r = post(client, game, b"\x1f\x8b not really gzip", **{"Content-Encoding": "gzip"})
    assert r.status_code == 400
    assert "gzip" in r.json()["error"]


def test_other_content_types_and_encodings_are_415(client: httpx.Client, game: GameKey) -> None:
    body = json.dumps(batch(event())).encode()
    for headers in [
        {"Content-Type": "text/plain"},
        {"Content-Type": "application/x-www-form-urlencoded"},
        {"Content-Type": "application/json", "Content-Encoding": "br"},
    ]:
        r = client.post("/v1/events", content=body, headers={**game.auth, **headers})
        assert r.status_code == 415, headers
        assert r.json()["field"] in {"Content-Type", "Content-Encoding"}
    r = client.post("/v1/events", content=body, headers=game.auth)
    assert r.status_code == 415
    ok = {**game.auth, "Content-Type": "application/json; charset=utf-8"}
    assert client.post("/v1/events", content=body, headers=ok).status_code == 202


def test_clock_skew_is_corrected_with_sent_at(
    client: httpx.Client, game: GameKey, endpoints: Endpoints
) -> None:
    device_clock = now() - timedelta(hours=5)  # a device whose clock is 5 hours behind
    ev = event(timestamp=iso(device_clock - timedelta(seconds=30)))
    fast = now() + timedelta(hours=1)  # and one an hour ahead: in the future unless corrected
    ev_fast = event(timestamp=iso(fast))
    assert post(client, game, batch(ev, sent_at=iso(device_clock))).status_code == 202
    assert post(client, game, batch(ev_fast, sent_at=iso(fast))).status_code == 202
    r = post(client, game, batch(event(timestamp=iso(fast))))
    assert r.status_code == 400
    assert r.json()["rejected"][0]["field"] == "timestamp"
    assert "in the future" in r.json()["rejected"][0]["error"]
    stored = {str(e.event_id): e for e in events_of_game(endpoints.kafka_bootstrap, game.game_id)}
    slow = stored[ev["event_id"]]
    assert slow.client_time < slow.event_time
    assert abs(slow.received_at - slow.event_time - timedelta(seconds=30)) < timedelta(seconds=2)
    corrected = stored[ev_fast["event_id"]]
    assert abs(corrected.event_time - corrected.received_at) < timedelta(seconds=2)


def test_late_event_horizon_is_enforced(client: httpx.Client, game: GameKey) -> None:
    recent = event(timestamp=iso(now() - timedelta(days=29)))
    ancient = event(timestamp=iso(now() - timedelta(days=31)))
    r = post(client, game, batch(recent, ancient))
    assert r.status_code == 202
    assert r.json()["rejected"][0]["index"] == 1
    assert "late-event horizon of 30 days" in r.json()["rejected"][0]["error"]


def test_game_with_longer_horizon_accepts_older_events(
    client: httpx.Client, endpoints: Endpoints
) -> None:
    patient = new_game(endpoints.postgres_dsn, late_horizon_days=120)
    r = post(client, patient, batch(event(timestamp=iso(now() - timedelta(days=100)))))
    assert r.status_code == 202


def test_retries_with_the_same_event_id_are_accepted(
    client: httpx.Client, game: GameKey, endpoints: Endpoints
) -> None:
    ev = event()
    assert post(client, game, batch(ev)).json() == {"accepted": 1, "rejected": []}
    assert post(client, game, batch(ev)).json() == {"accepted": 1, "rejected": []}
    ids = [str(e.event_id) for e in events_of_game(endpoints.kafka_bootstrap, game.game_id)]
    assert ids == [ev["event_id"]] * 2  # the store keeps it once (processor)


def test_records_are_keyed_by_game_and_player(
    client: httpx.Client, game: GameKey, endpoints: Endpoints
) -> None:
    from tests.support.topic import read_all

    post(client, game, batch(event(player_id="alice"), event(player_id="bob")))
    keys = {k for k, v in read_all(endpoints.kafka_bootstrap) if str(game.game_id).encode() in v}
    assert keys == {f"{game.game_id}/alice".encode(), f"{game.game_id}/bob".encode()}


def test_unknown_paths_and_methods(client: httpx.Client, game: GameKey) -> None:
    assert client.get("/v1/events").status_code == 405
    assert client.post("/v2/events").status_code == 404
    bare = client.post("/", json=batch(event()), headers=game.auth)
    assert bare.status_code == 202


def test_health_readiness_and_metrics(client: httpx.Client, game: GameKey) -> None:
    assert client.get("/healthz").json() == {"status": "alive"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"postgres": "ok", "kafka": "ok"}

    def sample(text: str, name: str) -> float:
        for line in text.splitlines():
            if line.rsplit(" ", 1)[0] == name:
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    before = client.get("/metrics").text
    post(client, game, batch(event(), event(event_id="bad")))
    after = client.get("/metrics").text
    accepted = "gm_ingest_events_accepted_total"
    invalid = 'gm_ingest_events_rejected_total{reason="invalid_field"}'
    assert sample(after, accepted) - sample(before, accepted) >= 1
    assert sample(after, invalid) - sample(before, invalid) >= 1
    assert 'gm_ingest_requests_total{status="202"}' in after
    assert "gm_ingest_request_duration_seconds_bucket" in after
    assert "gm_ingest_producer_queue_depth" in after


def test_each_game_sees_only_its_key(client: httpx.Client, endpoints: Endpoints) -> None:
    a, b = new_game(endpoints.postgres_dsn), new_game(endpoints.postgres_dsn)
    ev = event()
    post(client, a, batch(ev))
    assert [str(e.event_id) for e in events_of_game(endpoints.kafka_bootstrap, a.game_id)] == [
        ev["event_id"]
    ]
    assert events_of_game(endpoints.kafka_bootstrap, b.game_id) == []
    assert uuid.UUID(str(a.game_id)) != b.game_id
