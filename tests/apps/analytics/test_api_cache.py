"""The Redis cache of metric answers: never older than the data, shared across tokens, optional."""

import re
import uuid
from datetime import UTC, date, datetime, timedelta

import httpx
import msgspec
import psycopg
import pytest

from apps.analytics import results
from apps.analytics.cache import cache_key
from apps.local.process import free_port
from tests.conftest import GameKey
from tests.support.analytics import (
    AnalystToken,
    analyst_token,
    analytics_settings,
    graphql,
    running_analytics,
)
from tests.support.factory import batch, event, now
from tests.support.poll import poll_until
from tests.support.processor import (
    module_processor,
)
from tests.support.servers import Endpoints, UvicornThread

processor = pytest.fixture(scope="module", name="processor")(module_processor)


def cache_counts(server: UvicornThread) -> dict[str, float]:
    text = httpx.get(server.url + "/metrics").text
    found = re.findall(r'^gm_analytics_cache_total\{result="(\w+)"\} (\S+)$', text, re.M)
    return {result: float(value) for result, value in found}


def version(dsn: str, game: GameKey) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT version FROM game_versions WHERE game_id = %s", (game.game_id,)
        ).fetchone()
    return int(row[0]) if row else 0


def active_users_today(server: UvicornThread, game: GameKey, token: AnalystToken) -> int:
    today = now().date()
    query = (
        f'{{ game(id: "{game.game_id}") {{ activeUsers(from: "{today - timedelta(days=1)}",'
        f' to: "{today}") {{ bucket value }} }} }}'
    )
    r = graphql(server.url, query, token)
    assert r.status_code == 200, r.text
    assert "errors" not in r.json(), r.json()
    return sum(p["value"] for p in r.json()["data"]["game"]["activeUsers"])


def send(client: httpx.Client, game: GameKey, player: str) -> None:
    r = client.post("/v1/events", json=batch(event("session_start", player_id=player)),
                    headers=game.auth)  # fmt: skip
    assert r.status_code == 202, r.text


@pytest.mark.usefixtures("processor")
def test_a_cached_answer_is_never_older_than_the_stored_events(
    analytics: UvicornThread, client: httpx.Client, endpoints: Endpoints, game: GameKey
) -> None:
    token = analyst_token(endpoints.postgres_dsn, [game.game_id])
    assert active_users_today(analytics, game, token) == 0

    send(client, game, "p-1")
    poll_until(lambda: version(endpoints.postgres_dsn, game) >= 1, timeout=30, what="stored")
    before = cache_counts(analytics)
    assert active_users_today(analytics, game, token) == 1  # a new version: computed
    assert active_users_today(analytics, game, token) == 1  # the same version: cached
    after = cache_counts(analytics)
    assert after["miss"] - before["miss"] == 1
    assert after["hit"] - before["hit"] == 1

    # Another token for the same game reads the same cached answer (access is checked first).
    other = analyst_token(endpoints.postgres_dsn, None)
    assert active_users_today(analytics, game, other) == 1
    assert cache_counts(analytics)["hit"] - after["hit"] == 1

    stored = version(endpoints.postgres_dsn, game)
    send(client, game, "p-2")
    poll_until(lambda: version(endpoints.postgres_dsn, game) > stored, timeout=30, what="stored")
    # The first query after the commit already answers from the new data.
    assert active_users_today(analytics, game, token) == 2


@pytest.mark.usefixtures("processor")
def test_live_stats_are_never_cached(
    analytics: UvicornThread, client: httpx.Client, endpoints: Endpoints, game: GameKey
) -> None:
    token = analyst_token(endpoints.postgres_dsn, [game.game_id])
    query = f'{{ game(id: "{game.game_id}") {{ liveStats {{ eventsLastMinute }} }} }}'
    before = cache_counts(analytics)
    first = graphql(analytics.url, query, token).json()["data"]["game"]["liveStats"]
    send(client, game, "p-live")
    poll_until(lambda: version(endpoints.postgres_dsn, game) >= 1, timeout=30, what="stored")
    second = graphql(analytics.url, query, token).json()["data"]["game"]["liveStats"]
    assert (first["eventsLastMinute"], second["eventsLastMinute"]) == (0, 1)
    assert cache_counts(analytics) == before


def test_without_redis_answers_are_computed_and_the_failures_counted(
    endpoints: Endpoints, game: GameKey
) -> None:
    dead = Endpoints(
        endpoints.postgres_dsn, endpoints.kafka_bootstrap, f"redis://127.0.0.1:{free_port()}/0"
    )
    token = analyst_token(endpoints.postgres_dsn, [game.game_id])
    with running_analytics(analytics_settings(dead)) as server:
        assert active_users_today(server, game, token) == 0
        assert active_users_today(server, game, token) == 0
        counts = cache_counts(server)
        assert counts["error"] >= 2
        assert counts["hit"] == counts["miss"] == 0


def test_every_cached_result_type_round_trips_exactly() -> None:
    day = date(2026, 3, 2)
    values: list[tuple[object, type]] = [
        ([results.TimeValue(day, 3)], list[results.TimeValue]),
        (
            [results.Cohort(day, 7, (results.RetentionPoint(1, 2, 2 / 7),))],
            list[results.Cohort],
        ),
        (
            [results.RevenuePoint(day, 0.1 + 0.2, 2, 3, 1 / 3, 0.15000000000000002)],
            list[results.RevenuePoint],
        ),
        ([results.SessionPoint(day, 4, 2, 321.5)], list[results.SessionPoint]),
        ([results.FunnelStep("a", 5, 1.0, 1 / 3)], list[results.FunnelStep]),
        (
            [results.EventCount(datetime(2026, 3, 2, 10, 5, tzinfo=UTC), "purchase", 9)],
            list[results.EventCount],
        ),
    ]
    for value, result_type in values:
        decoded: object = msgspec.json.decode(msgspec.json.encode(value), type=result_type)
        assert decoded == value
    game = uuid.uuid4()
    key = cache_key(game, 7, "activeUsers", {"from": day, "to": day})
    assert key.startswith(f"gm:analytics:v1:{game}:7:activeUsers:")
    assert key != cache_key(game, 8, "activeUsers", {"from": day, "to": day})
    assert key != cache_key(game, 7, "newUsers", {"from": day, "to": day})
    assert key == cache_key(game, 7, "activeUsers", {"to": day, "from": day})
