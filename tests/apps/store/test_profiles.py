"""apps/store/profiles.py: every player's profile equals a recomputation from the events sent.

Events go through the real pipeline (ingestion API -> Kafka -> processor ->
PostgreSQL); each player's profile, read by the sync and the async variant,
is compared with tests/support/profile_oracle.py over the bodies sent.
"""

import asyncio
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from apps.store import profiles
from tests.conftest import new_game
from tests.support.eventsets import LATE_HORIZON_DAYS, EventSet, body, deliver, event_sets
from tests.support.processor import ThreadedProcessor, processor_settings, processor_thread
from tests.support.profile_oracle import expected_profile, players, profile_differences
from tests.support.servers import Endpoints, UvicornThread

NOW = datetime.now(UTC)


@pytest.fixture(scope="module")
def processor(endpoints: Endpoints) -> Iterator[ThreadedProcessor]:
    settings_ = processor_settings(endpoints.postgres_dsn, endpoints.kafka_bootstrap)
    with processor_thread(settings_) as running:
        yield running


@pytest.fixture(scope="module")
def ingest_client(ingest: UvicornThread, processor: ThreadedProcessor) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=ingest.url, timeout=15) as c:
        yield c


def _delivered(client: httpx.Client, dsn: str, events: EventSet) -> uuid.UUID:
    game = new_game(dsn, late_horizon_days=LATE_HORIZON_DAYS)
    deliver(client, game.auth, game.game_id, events, dsn)
    return game.game_id


def as_answer(profile: profiles.PlayerProfile | None) -> dict[str, Any] | None:
    """The profile shaped like the oracle's (and the GraphQL answer's) dict."""
    if profile is None:
        return None
    fields = asdict(profile)
    names = {"player_id": "id"}
    out = {names.get(k, _camel(k)): v for k, v in fields.items() if k != "last_events"}
    out["lastEvents"] = [
        {"eventId": str(e.event_id), "type": e.type, "time": e.time, "properties": e.properties,
         "amount": e.amount, "currency": e.currency}
        for e in profile.last_events
    ]  # fmt: skip
    return out


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.capitalize() if p != "usd" else "Usd" for p in rest)


async def _read_async(dsn: str, game_id: uuid.UUID, ids: Sequence[str]) -> list[Any]:
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        return [await profiles.player_profile_async(conn, game_id, p) for p in ids]


def _compare(dsn: str, game_id: uuid.UUID, sent: Sequence[Mapping[str, Any]]) -> None:
    ids = [*sorted(players(sent)), "never-seen"]
    with psycopg.connect(dsn, autocommit=True) as conn:
        sync = [profiles.player_profile(conn, game_id, p) for p in ids]
    async_ = asyncio.run(_read_async(dsn, game_id, ids))
    assert async_ == sync
    problems = []
    for player, got in zip(ids, sync, strict=True):
        found = profile_differences(expected_profile(sent, player), as_answer(got), player)
        problems += found[:8]
    assert not problems, "\n".join(problems)
    assert sync[-1] is None


# No shrinking: each step is a new game through the whole pipeline.
@settings(
    max_examples=8,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_every_players_profile_equals_the_recomputation(
    endpoints: Endpoints, ingest_client: httpx.Client, data: st.DataObject
) -> None:
    events = data.draw(event_sets(NOW), label="events")
    game_id = _delivered(ingest_client, endpoints.postgres_dsn, events)
    _compare(endpoints.postgres_dsn, game_id, events.sent())


def _at(days: int, seconds: float) -> datetime:
    midnight = datetime.combine(NOW.date() - timedelta(days=days), datetime.min.time(), UTC)
    return midnight + timedelta(seconds=seconds)


def test_last_events_are_the_newest_fifty_newest_first_ties_by_event_id(
    endpoints: Endpoints, ingest_client: httpx.Client
) -> None:
    # 85 events over 4 days, 45 at one instant where the newest 50 end (ties decided by the
    # event id), late ones and a duplicate with other content (never stored) in the second wave.
    tied = _at(1, 3600)
    first = [body("design", "ana", tied, properties={"i": i}) for i in range(45)]
    first += [body("purchase", "ana", _at(2, i), amount=1.5 + i, currency="EUR") for i in range(20)]
    first += [body("session_end", "ana", _at(0, 60 + i), duration_seconds=10.25) for i in range(10)]
    again = {**first[0], "type": "error", "properties": {"other": True}}
    second = [again, *[body("design", "ana", _at(3, i), platform="ios") for i in range(10)]]
    sent = [*first, *second]
    waves = EventSet((tuple(first), tuple(second)))
    game_id = _delivered(ingest_client, endpoints.postgres_dsn, waves)
    _compare(endpoints.postgres_dsn, game_id, sent)
    with psycopg.connect(endpoints.postgres_dsn, autocommit=True) as conn:
        profile = profiles.player_profile(conn, game_id, "ana")
    assert profile is not None
    assert len(profile.last_events) == profiles.LAST_EVENTS
    assert profile.first_platform == "ios"  # the late events of day 3 are the first
    assert (profile.sessions, profile.purchases, profile.days_active) == (10, 20, 4)


def test_a_game_never_sees_another_games_player(
    endpoints: Endpoints, ingest_client: httpx.Client
) -> None:
    a = [body("purchase", "ana", _at(1, 10), amount=3.0, currency="USD", country="DE"),
         body("design", "bo", _at(1, 20))]  # fmt: skip
    b = [body("session_end", "ana", _at(2, 5), duration_seconds=42.0, platform="web")]
    game_a = _delivered(ingest_client, endpoints.postgres_dsn, EventSet((tuple(a),)))
    game_b = _delivered(ingest_client, endpoints.postgres_dsn, EventSet((tuple(b),)))
    _compare(endpoints.postgres_dsn, game_a, a)
    _compare(endpoints.postgres_dsn, game_b, b)
    with psycopg.connect(endpoints.postgres_dsn, autocommit=True) as conn:
        assert profiles.player_profile(conn, game_b, "bo") is None
        ana_b = profiles.player_profile(conn, game_b, "ana")
        assert profiles.player_profile(conn, uuid.uuid4(), "ana") is None
    assert ana_b is not None
    assert (ana_b.purchases, ana_b.revenue_usd) == (0, 0.0)


def test_revenue_uses_the_rates_given_and_names_a_currency_without_one(
    endpoints: Endpoints, ingest_client: httpx.Client
) -> None:
    sent = [body("purchase", "ana", _at(1, 10), amount=2.0, currency="EUR"),
            body("purchase", "ana", _at(1, 11), amount=500, currency="JPY")]  # fmt: skip
    game_id = _delivered(ingest_client, endpoints.postgres_dsn, EventSet((tuple(sent),)))
    with psycopg.connect(endpoints.postgres_dsn, autocommit=True) as conn:
        profile = profiles.player_profile(conn, game_id, "ana", {"EUR": 2.0, "JPY": 0.01})
        assert profile is not None
        assert profile.revenue_usd == pytest.approx(9.0)
        with pytest.raises(profiles.UnknownCurrency, match="JPY"):
            profiles.player_profile(conn, game_id, "ana", {"EUR": 2.0})
