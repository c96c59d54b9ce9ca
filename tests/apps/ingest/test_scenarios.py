"""A running ingestion API under operators' changes and a Redis outage.

Key rotation with a grace period and a new rate limit are made with the
`gamemetrics games` CLI, as an operator would, while the API runs; Redis is
stopped and started again under a running API. Nothing is restarted but what
the scenario says.
"""

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
import pytest

from apps.core import keys
from apps.local.process import free_port
from apps.local.servers import EmbeddedRedis
from tests.conftest import GameKey, new_game
from tests.support.cli import gamemetrics
from tests.support.factory import batch, event
from tests.support.servers import Endpoints, ingest_settings, running_ingest

JSON = {"Content-Type": "application/json"}
GRACE_SECONDS = 3


def post(client: httpx.Client, key: str, n: int = 1) -> httpx.Response:
    body = json.dumps(batch(*(event(player_id=f"p{i}") for i in range(n)))).encode()
    auth = {"Authorization": f"Bearer {key}"}
    return client.post("/v1/events", content=body, headers={**auth, **JSON})


def expires_at(dsn: str, key: str) -> datetime:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT expires_at FROM ingest_keys WHERE key_hash = %s", (keys.digest(key),)
        ).fetchone()
    assert row is not None
    assert row[0] is not None, "the old key was given no expiry"
    expiry: datetime = row[0]
    return expiry


def test_rotated_key_keeps_working_through_its_grace_then_is_refused(
    endpoints: Endpoints, client: httpx.Client, game: GameKey
) -> None:
    dsn = endpoints.postgres_dsn
    assert post(client, game.key).status_code == 202  # the grant is cached by the API now

    rotated = gamemetrics(
        dsn, "games", "rotate-key", str(game.game_id), "--grace-seconds", str(GRACE_SECONDS)
    )
    new_key = rotated["ingest_key"]
    assert rotated["game_id"] == str(game.game_id)
    assert new_key != game.key
    ends = expires_at(dsn, game.key)

    # During the grace both keys are accepted.
    assert post(client, game.key).status_code == 202
    assert post(client, new_key).status_code == 202
    assert datetime.now(UTC) < ends, "the grace ended before both keys were tried"

    # After it the old key is refused (polled: the API's cached grant must expire with it).
    deadline = ends + timedelta(seconds=5)
    while (r := post(client, game.key)).status_code == 202:
        assert datetime.now(UTC) < deadline, "the old key still works 5 s after its grace"
        time.sleep(0.05)
    refused_at = datetime.now(UTC)
    assert r.status_code == 401
    assert r.json()["error"] == "unknown or revoked ingest key"
    assert refused_at >= ends, "the old key was refused before its grace ended"
    assert post(client, new_key).status_code == 202


def _until_limited(client: httpx.Client, game: GameKey, *, most: int) -> httpx.Response:
    """Send 100-event batches until one is refused with 429; at most `most` accepted first."""
    for _ in range(most):
        r = post(client, game.key, 100)
        if r.status_code == 429:
            return r
        assert r.status_code == 202, r.text
    raise AssertionError(f"{most} batches of 100 events accepted and none refused")


def test_set_rate_limit_reaches_a_running_api_both_ways(
    endpoints: Endpoints, client: httpx.Client, game: GameKey
) -> None:
    dsn, game_id = endpoints.postgres_dsn, str(game.game_id)
    for _ in range(5):  # the default 20,000 events/s
        assert post(client, game.key, 100).status_code == 202

    lowered = gamemetrics(dsn, "games", "set-rate-limit", game_id, "50")
    assert lowered == {"game_id": game_id, "rate_limit_eps": 50}
    # The bucket at 50 events/s holds one full batch (1,000 events); a lease taken at the
    # old rate may add 2,000 more for 0.1 s. Beyond that, 429.
    r = _until_limited(client, game, most=35)
    assert r.json()["error"] == "rate limit of 50 events/s exceeded; retry later"
    assert int(r.headers["Retry-After"]) >= 1

    gamemetrics(dsn, "games", "set-rate-limit", game_id, "20000")
    deadline = time.monotonic() + 10
    while post(client, game.key, 100).status_code == 429:
        assert time.monotonic() < deadline, "still refused 10 s after the limit was raised"
        time.sleep(0.05)
    # 2,000 events at once: more than 50 events/s could ever let through now.
    started = time.monotonic()
    for _ in range(20):
        assert post(client, game.key, 100).status_code == 202
    assert time.monotonic() - started < 20


def limiter_errors(client: httpx.Client) -> float:
    name = "gm_ingest_rate_limiter_errors_total"
    [line] = [m for m in client.get("/metrics").text.splitlines() if m.startswith(name)]
    return float(line.split()[-1])


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    redis = EmbeddedRedis("redis", tmp_path / "redis.log", data_dir=tmp_path / "redis",
                          port=free_port())  # fmt: skip
    redis.start()
    yield redis
    redis.stop(5)


def test_redis_down_fails_open_and_limits_again_once_back(
    endpoints: Endpoints, own_redis: EmbeddedRedis
) -> None:
    game = new_game(endpoints.postgres_dsn, rate_limit_eps=50)
    settings = ingest_settings(endpoints, redis_url=own_redis.url)
    with (
        running_ingest(settings) as server,
        httpx.Client(base_url=server.url, timeout=20) as client,
    ):
        _until_limited(client, game, most=15)
        assert limiter_errors(client) == 0

        own_redis.stop(5)
        deadline = time.monotonic() + 10
        while (r := post(client, game.key, 100)).status_code == 429:
            assert time.monotonic() < deadline, "still refused 10 s after Redis went down"
        assert r.status_code == 202
        # 1,000 more events at once: far over 50 events/s, let through while Redis is down.
        for _ in range(10):
            assert post(client, game.key, 100).status_code == 202
        during = limiter_errors(client)
        assert during >= 11

        # Redis comes back (empty: a full bucket); the same API limits again, unrestarted.
        own_redis.start()
        deadline = time.monotonic() + 20
        while True:
            r = post(client, game.key, 100)
            if r.status_code == 429:
                break
            assert r.status_code == 202, r.text
            assert time.monotonic() < deadline, "no 429 within 20 s of Redis coming back"
        assert r.json()["error"] == "rate limit of 50 events/s exceeded; retry later"
        recovered = limiter_errors(client)
        assert post(client, game.key, 100).status_code == 429
        assert limiter_errors(client) == recovered, "Redis was back but still failing"
