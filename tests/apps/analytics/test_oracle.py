"""Every analytics query, through the real pipeline, answers what the oracle computes.

Each example: a fresh game, events sent over HTTP (ingestion API -> Kafka ->
processor -> PostgreSQL) in waves, then every query asked over HTTP (GraphQL,
several per request under aliases) and each field compared with
`tests/support/oracle.py` over the same events: counts exactly, floats to 1e-9
relative. Generated sets (hypothesis) and hand-written edge cases.
"""

from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.apps.analytics.oracle_pipeline import (
    Delivered,
    Stack,
    compare,
    compare_live,
    send,
    send_rest,
)
from tests.conftest import new_game
from tests.support.analytics import analyst_token, analytics_settings, running_analytics
from tests.support.eventsets import (
    EDGE_CASES,
    Case,
    EventSet,
    all_series,
    body,
    deliver,
    event_sets,
    query_plans,
    received_times,
)
from tests.support.oracle import EventCounts, Funnel, Oracle, Query, Retention, Series
from tests.support.poll import poll_until
from tests.support.processor import (
    ThreadedProcessor,
    module_processor,
)
from tests.support.servers import Endpoints, UvicornThread

NOW = datetime.now(UTC)


processor = pytest.fixture(scope="module", name="processor")(module_processor)


@pytest.fixture(scope="module")
def stack(
    endpoints: Endpoints,
    ingest: UvicornThread,
    analytics: UvicornThread,
    processor: ThreadedProcessor,
) -> Iterator[Stack]:
    with httpx.Client(base_url=ingest.url, timeout=15) as client:
        yield Stack(endpoints.postgres_dsn, client, analytics.url)


# ---- generated event sets ---------------------------------------------------------------


# No shrinking: each step would be a new game through the whole pipeline, and minutes of
# it would run into the test timeout; a failure names the queries that differ instead.
@settings(
    max_examples=10,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_generated_events_answer_as_the_oracle(stack: Stack, data: st.DataObject) -> None:
    events = data.draw(event_sets(NOW), label="events")
    queries = data.draw(query_plans(events.events(), NOW.date()), label="queries")
    if len(events.waves) > 1:
        # the same queries after the first wave, then after the rest: a cached answer
        # must not outlive the data it was computed from
        delivered = send(stack, events, stop=1)
        first_wave = Oracle(EventSet(events.waves[:1]).events())
        compare(stack.analytics_url, delivered, queries, first_wave)
        send_rest(stack, delivered, 1)
    else:
        delivered = send(stack, events)
    compare(stack.analytics_url, delivered, queries)
    # A slow example may have put receive times on a window's edge; the edges move on with
    # the clock, past the latest receive time within the time the example took to send.
    poll_until(
        lambda: compare_live(stack, delivered),
        timeout=120, what="liveStats to be determined (no receive time on a window's edge)",
        every=0.5,
    )  # fmt: skip


# ---- hand-written edge cases ------------------------------------------------------------


@pytest.mark.parametrize("make", EDGE_CASES, ids=lambda make: make.__name__.removesuffix("_case"))
def test_edge_case_answers_as_the_oracle(stack: Stack, make: Callable[[datetime], Case]) -> None:
    case = make(datetime.now(UTC))
    delivered = send(stack, case.events)
    compare(stack.analytics_url, delivered, case.queries)
    assert compare_live(stack, delivered), "liveStats were not determined right after sending"


# ---- configuration: another rate table --------------------------------------------------

RATES = {"USD": 1.0, "EUR": 2.0, "JPY": 0.01, "GBP": 1.5}


@pytest.fixture(scope="module")
def analytics_other_rates(endpoints: Endpoints) -> Iterator[UvicornThread]:
    settings = analytics_settings(endpoints, usd_rates=tuple(sorted(RATES.items())))
    with running_analytics(settings) as server:
        yield server


def test_revenue_follows_the_configured_rates_whatever_was_cached(
    stack: Stack, analytics_other_rates: UvicornThread
) -> None:
    day = NOW.date() - timedelta(days=4)
    at = datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=8)
    events = EventSet(
        (
            (
                body("purchase", "ana", at, amount=4.0, currency="EUR"),
                body("purchase", "bo", at, amount=500, currency="JPY", platform="ios"),
                body("purchase", "bo", at, amount=3.0, currency="GBP", platform="ios"),
            ),
        )
    )
    delivered = send(stack, events)
    queries: list[Query] = [
        *all_series(day - timedelta(days=1), day + timedelta(days=1)),
        Retention(day, day),
        Series("revenue", day, day),
    ]
    # the default table first (cached, perhaps), then the other server's table
    compare(stack.analytics_url, delivered, queries)
    compare(analytics_other_rates.url, delivered, queries, Oracle(events.events(), RATES))
    compare(stack.analytics_url, delivered, queries)


def test_a_game_with_no_events_answers_zeros(stack: Stack) -> None:
    game = new_game(stack.dsn)
    token = analyst_token(stack.dsn, [game.game_id])
    delivered = Delivered(game.game_id, token, EventSet(()))
    today = NOW.date()
    queries: list[Query] = [*all_series(today - timedelta(days=40), today), Retention(today, today)]
    compare(stack.analytics_url, delivered, queries, Oracle([]))


def test_days_are_those_of_the_skew_corrected_time(stack: Stack) -> None:
    """A client clock 2 days 3 hours behind: the server moves each event by the batch's skew
    (its receive time minus the batch's `sent_at`), and the analytics count the moved time."""
    skew = timedelta(days=2, hours=3)
    day = NOW.date() - timedelta(days=6)
    true = datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=22, minutes=30)
    stamps = [true - skew + timedelta(minutes=m) for m in (0, 5, 20, 40)]  # 19:30 two days back
    wave = (
        body("session_start", "ana", stamps[0], platform="ios"),
        body("purchase", "ana", stamps[1], platform="ios", amount=3, currency="EUR"),
        body("session_end", "ana", stamps[2], platform="ios", duration_seconds=1200),
        body("design", "bo", stamps[3], country="BR"),
    )
    events = EventSet((wave,))
    game = new_game(stack.dsn, late_horizon_days=30)
    token = analyst_token(stack.dsn, [game.game_id])
    sent_at = (datetime.now(UTC) - skew).isoformat()
    deliver(stack.ingest, game.auth, game.game_id, events, stack.dsn, sent_at=sent_at)
    received = received_times(stack.dsn, game.game_id)
    corrected = [
        replace(e, time=e.time + (received[e.event_id] - datetime.fromisoformat(sent_at)))
        for e in events.events()
    ]
    assert {e.day for e in corrected} == {day}  # not the day the client stamped
    queries: list[Query] = [
        *all_series(day - timedelta(days=3), day + timedelta(days=1)),
        Retention(day - timedelta(days=3), day, (0, 1, 2)),
        Funnel(day - timedelta(days=3), day, ("session_start", "purchase"), 300),
        EventCounts(true - skew - timedelta(hours=1), true + timedelta(hours=2), "HOUR"),
    ]
    delivered = Delivered(game.game_id, token, events)
    compare(stack.analytics_url, delivered, queries, Oracle(corrected))
