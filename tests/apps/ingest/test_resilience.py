"""Rate limiting per game, and 503 (nothing acknowledged) while the broker is down."""

import json

import httpx

from apps.kafka.admin import ensure_topics
from apps.local.process import free_port
from apps.local.servers import Tansu
from tests.conftest import GameKey, new_game
from tests.support.factory import batch, event
from tests.support.poll import poll_until
from tests.support.servers import Endpoints, ingest_settings, running_ingest
from tests.support.topic import events_of_game

JSON = {"Content-Type": "application/json"}


def send(client: httpx.Client, game: GameKey, n: int) -> tuple[httpx.Response, list[str]]:
    events = [event(player_id=f"p{i}") for i in range(n)]
    body = json.dumps(batch(*events)).encode()
    r = client.post("/v1/events", content=body, headers={**game.auth, **JSON})
    return r, [e["event_id"] for e in events]


def test_a_game_over_its_rate_gets_429_with_retry_after(
    client: httpx.Client, endpoints: Endpoints
) -> None:
    # 1 event/s: the bucket holds max(2 s of rate, one full batch) = 1,000 events, and what
    # refills while the test runs is far below one request of 250, however slow the machine.
    limited = new_game(endpoints.postgres_dsn, rate_limit_eps=1)
    other = new_game(endpoints.postgres_dsn)
    answers = [send(client, limited, 250)[0] for _ in range(5)]
    assert [r.status_code for r in answers] == [202, 202, 202, 202, 429]
    refused = answers[-1]
    # The deficit of 250 events at 1 event/s, less the little that refilled meanwhile.
    assert 100 < int(refused.headers["Retry-After"]) <= 250
    assert refused.json()["retry_after_seconds"] == int(refused.headers["Retry-After"])
    assert "rate limit of 1 events/s" in refused.json()["error"]
    # Nothing of the refused request was produced; another game is not affected.
    assert len(events_of_game(endpoints.kafka_bootstrap, limited.game_id)) == 1000
    assert send(client, other, 250)[0].status_code == 202
    # Tokens come back at the configured rate: one event is accepted again within seconds.
    poll_until(
        lambda: send(client, limited, 1)[0].status_code == 202,
        timeout=15, what="the bucket to refill one token", every=0.2,
    )  # fmt: skip


def test_broker_down_is_503_and_nothing_acknowledged_is_lost(
    endpoints: Endpoints, own_broker: Tansu
) -> None:
    settings = ingest_settings(endpoints, kafka_bootstrap=own_broker.url)
    game = new_game(endpoints.postgres_dsn)
    with (
        running_ingest(settings) as server,
        httpx.Client(base_url=server.url, timeout=20) as client,
    ):
        acknowledged: list[str] = []
        for _ in range(5):
            r, ids = send(client, game, 100)
            assert r.status_code == 202
            acknowledged += ids
        in_topic = {str(e.event_id) for e in events_of_game(own_broker.url, game.game_id)}
        assert set(acknowledged) <= in_topic

        own_broker.stop(5)
        # Answered within the delivery timeout (3 s); the client's 20 s timeout catches a hang.
        r, _ = send(client, game, 100)
        assert r.status_code == 503
        assert r.headers["Retry-After"] == "1"
        assert "nothing was accepted" in r.json()["error"]
        assert client.get("/readyz").status_code == 503
        assert client.get("/healthz").status_code == 200

        # The in-memory broker comes back empty; the API recovers without a restart.
        own_broker.start()
        ensure_topics(own_broker.url, "local")
        answers: list[tuple[httpx.Response, list[str]]] = []

        def recovered() -> bool:
            answers.append(send(client, game, 10))
            assert answers[-1][0].status_code in (202, 503), answers[-1][0].text
            return answers[-1][0].status_code == 202

        poll_until(recovered, timeout=30, what="ingestion to recover", every=0.2)
        stored = {str(e.event_id) for e in events_of_game(own_broker.url, game.game_id)}
        assert set(answers[-1][1]) <= stored


def test_redis_down_lets_requests_through_and_counts_it(endpoints: Endpoints) -> None:
    nowhere = f"redis://127.0.0.1:{free_port()}/0"
    game = new_game(endpoints.postgres_dsn, rate_limit_eps=1)
    with (
        running_ingest(ingest_settings(endpoints, redis_url=nowhere)) as server,
        httpx.Client(base_url=server.url, timeout=20) as client,
    ):
        for _ in range(3):
            assert send(client, game, 100)[0].status_code == 202
        metrics = client.get("/metrics").text
    name = "gm_ingest_rate_limiter_errors_total"
    [line] = [m for m in metrics.splitlines() if m.startswith(name)]
    assert float(line.split()[-1]) == 3
