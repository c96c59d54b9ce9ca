"""The oracle itself, on tiny cases computed by hand, so that it is not trusted blindly.

Also: the generated and hand-written event sets are valid for the real ingestion
validator (nothing would be rejected), and the validator stores what the oracle
assumes (time, segment, typed fields).
"""

import itertools
import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.core.validation import TimePolicy, parse_batch
from tests.support.eventsets import (
    EDGE_CASES,
    LATE_HORIZON_DAYS,
    TYPES,
    Case,
    EventSet,
    body,
    event_sets,
    query_plans,
)
from tests.support.oracle import (
    AmbiguousFirstEvent,
    Event,
    Filter,
    Oracle,
    accepted,
    bucket_days,
    deepest_step,
    differences,
    event_from_body,
)

D = date


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def ev(
    event_id: str,
    etype: str,
    player: str,
    time: str,
    platform: str | None = None,
    *,
    country: str | None = None,
    duration_seconds: float | None = None,
    amount: float | None = None,
    currency: str | None = None,
) -> Event:
    return Event(
        event_id, etype, player, at(time), platform=platform, country=country,
        duration_seconds=duration_seconds, amount=amount, currency=currency,
    )  # fmt: skip


# 2025-12-29 is a Monday; 2026-01-05 the next one. Currencies: EUR 1.08, JPY 0.0066.
EVENTS = [
    ev("e1", "design", "ana", "2025-12-30T10:00:00Z", "ios", country="DE"),
    ev("e2", "purchase", "ana", "2026-01-02T12:00:00Z", "ios", country="DE", amount=10.0,
       currency="EUR"),
    ev("e3", "session_end", "bo", "2025-12-31T23:59:59Z", duration_seconds=30.0),
    ev("e4", "session_end", "bo", "2026-01-01T00:00:00Z", "android", duration_seconds=90.0),
    ev("e5", "purchase", "cy", "2026-01-05T08:00:00Z", "web", amount=1000.0, currency="JPY"),
    ev("e6", "design", "ana", "2026-01-06T09:00:00Z", "android"),
    ev("e7", "purchase", "bo", "2026-01-01T05:00:00Z", "android", amount=5.0, currency="USD"),
]  # fmt: skip
ORACLE = Oracle(EVENTS)


def tv(*pairs: tuple[str, int]) -> list[dict[str, object]]:
    return [{"bucket": b, "value": v} for b, v in pairs]


def test_buckets_touch_the_range_and_count_only_its_days() -> None:
    weeks = bucket_days(D(2025, 12, 31), D(2026, 1, 6), "WEEK")
    assert weeks == {
        D(2025, 12, 29): [D(2025, 12, 31), D(2026, 1, 1), D(2026, 1, 2), D(2026, 1, 3),
                          D(2026, 1, 4)],
        D(2026, 1, 5): [D(2026, 1, 5), D(2026, 1, 6)],
    }  # fmt: skip
    months = bucket_days(D(2026, 1, 30), D(2026, 3, 1), "MONTH")
    assert list(months) == [D(2026, 1, 1), D(2026, 2, 1), D(2026, 3, 1)]
    assert len(months[D(2026, 2, 1)]) == 28
    assert list(bucket_days(D(2026, 12, 31), D(2027, 1, 1), "WEEK")) == [D(2026, 12, 28)]


def test_active_users() -> None:
    first, last = D(2025, 12, 30), D(2026, 1, 5)
    assert ORACLE.active_users(first, last) == tv(
        ("2025-12-30", 1), ("2025-12-31", 1), ("2026-01-01", 1), ("2026-01-02", 1),
        ("2026-01-03", 0), ("2026-01-04", 0), ("2026-01-05", 1),
    )  # fmt: skip
    assert ORACLE.active_users(first, last, "WEEK") == tv(("2025-12-29", 2), ("2026-01-05", 1))
    assert ORACLE.active_users(first, last, "MONTH") == tv(("2025-12-01", 2), ("2026-01-01", 3))
    ios = ORACLE.active_users(first, last, "DAY", Filter(platform="ios"))
    assert [p["value"] for p in ios] == [1, 0, 0, 1, 0, 0, 0]
    none = ORACLE.active_users(first, last, "DAY", Filter(platform=""))
    assert [p["value"] for p in none] == [0, 1, 0, 0, 0, 0, 0]
    both = ORACLE.active_users(first, last, "WEEK", Filter(platform="ios", country="DE"))
    assert both == tv(("2025-12-29", 1), ("2026-01-05", 0))


def test_new_users_by_first_event_and_its_segment() -> None:
    first, last = D(2025, 12, 31), D(2026, 1, 6)
    assert ORACLE.new_users(first, last, "WEEK") == tv(("2025-12-29", 1), ("2026-01-05", 1))
    # ana's first event (ios) is before the range; her later android event changes nothing
    assert ORACLE.new_users(first, last, "WEEK", Filter(platform="ios")) == tv(
        ("2025-12-29", 0), ("2026-01-05", 0)
    )
    assert ORACLE.new_users(first, last, "WEEK", Filter(platform="android")) == tv(
        ("2025-12-29", 0), ("2026-01-05", 0)
    )
    assert ORACLE.new_users(first, last, "WEEK", Filter(platform="")) == tv(
        ("2025-12-29", 1), ("2026-01-05", 0)
    )


def test_retention_leaves_out_points_after_today() -> None:
    got = ORACLE.retention(D(2025, 12, 30), D(2025, 12, 31), (1, 2, 7), today=D(2026, 1, 6))
    assert got == [
        {"cohort": "2025-12-30", "size": 1, "retained": [
            {"day": 1, "users": 0, "rate": 0.0}, {"day": 2, "users": 0, "rate": 0.0},
            {"day": 7, "users": 1, "rate": 1.0}]},
        {"cohort": "2025-12-31", "size": 1, "retained": [
            {"day": 1, "users": 1, "rate": 1.0}, {"day": 2, "users": 0, "rate": 0.0}]},
    ]  # fmt: skip
    android = ORACLE.retention(
        D(2025, 12, 30), D(2025, 12, 31), (1, 7), Filter(platform="android"), today=D(2026, 1, 6)
    )
    assert android == [
        {"cohort": "2025-12-30", "size": 0, "retained": [
            {"day": 1, "users": 0, "rate": 0.0}, {"day": 7, "users": 0, "rate": 0.0}]},
        {"cohort": "2025-12-31", "size": 0, "retained": [{"day": 1, "users": 0, "rate": 0.0}]},
    ]  # fmt: skip
    ios = ORACLE.retention(D(2025, 12, 30), D(2025, 12, 30), (7,), Filter(platform="ios"),
                           today=D(2026, 1, 6))  # fmt: skip
    # the day-7 event is android: activity counts whatever its own segment
    assert ios == [{"cohort": "2025-12-30", "size": 1, "retained": [
        {"day": 7, "users": 1, "rate": 1.0}]}]  # fmt: skip


def test_revenue_converts_and_divides_by_summed_daily_actives() -> None:
    got = ORACLE.revenue(D(2025, 12, 29), D(2026, 1, 5), "WEEK")
    expected = [
        {"bucket": "2025-12-29", "revenueUsd": 15.8, "payingUsers": 2, "purchases": 2,
         "arpdau": 15.8 / 4, "arppu": 7.9},
        {"bucket": "2026-01-05", "revenueUsd": 6.6, "payingUsers": 1, "purchases": 1,
         "arpdau": 6.6, "arppu": 6.6},
    ]  # fmt: skip
    assert differences(expected, got) == []
    android = ORACLE.revenue(D(2026, 1, 1), D(2026, 1, 2), "DAY", Filter(platform="android"))
    assert android == [
        {"bucket": "2026-01-01", "revenueUsd": 5.0, "payingUsers": 1, "purchases": 1,
         "arpdau": 5.0, "arppu": 5.0},
        {"bucket": "2026-01-02", "revenueUsd": 0.0, "payingUsers": 0, "purchases": 0,
         "arpdau": 0.0, "arppu": 0.0},
    ]  # fmt: skip
    overridden = Oracle(EVENTS, {"EUR": 2.0, "USD": 1.0, "JPY": 0.01})
    assert overridden.revenue(D(2026, 1, 2), D(2026, 1, 2))[0]["revenueUsd"] == 20.0


def test_sessions() -> None:
    assert ORACLE.sessions(D(2025, 12, 31), D(2026, 1, 1), "MONTH") == [
        {"bucket": "2025-12-01", "sessions": 1, "players": 1, "avgLengthSeconds": 30.0},
        {"bucket": "2026-01-01", "sessions": 1, "players": 1, "avgLengthSeconds": 90.0},
    ]
    assert ORACLE.sessions(D(2025, 12, 29), D(2026, 1, 4), "WEEK") == [
        {"bucket": "2025-12-29", "sessions": 2, "players": 1, "avgLengthSeconds": 60.0},
    ]
    assert ORACLE.sessions(D(2026, 1, 3), D(2026, 1, 3)) == [
        {"bucket": "2026-01-03", "sessions": 0, "players": 0, "avgLengthSeconds": 0.0},
    ]


def test_funnel_window_and_conversions() -> None:
    steps = ("session_end", "purchase")
    day = D(2025, 12, 31)
    assert ORACLE.funnel(day, day, steps) == [
        {"step": "session_end", "users": 1, "conversionFromStart": 1.0,
         "conversionFromPrevious": 1.0},
        {"step": "purchase", "users": 1, "conversionFromStart": 1.0,
         "conversionFromPrevious": 1.0},
    ]  # fmt: skip
    short = ORACLE.funnel(day, day, steps, 3600)
    assert [s["users"] for s in short] == [1, 0]
    assert short[1]["conversionFromStart"] == 0.0
    # bo's step-1 event on 2026-01-01 is outside [from, to]
    assert [s["users"] for s in ORACLE.funnel(D(2026, 1, 1), D(2026, 1, 1), steps)] == [1, 1]
    assert [s["users"] for s in ORACLE.funnel(D(2026, 1, 2), D(2026, 1, 9), steps)] == [0, 0]
    three_days = ORACLE.funnel(D(2025, 12, 30), D(2025, 12, 30), ("design", "purchase"))
    assert [s["users"] for s in three_days] == [1, 0]
    four_days = ORACLE.funnel(D(2025, 12, 30), D(2025, 12, 30), ("design", "purchase"), 4 * 86400)
    assert [s["users"] for s in four_days] == [1, 1]
    nobody = ORACLE.funnel(day, day, ("never", "purchase"))
    assert nobody == [
        {"step": "never", "users": 0, "conversionFromStart": 0.0, "conversionFromPrevious": 0.0},
        {"step": "purchase", "users": 0, "conversionFromStart": 0.0,
         "conversionFromPrevious": 0.0},
    ]  # fmt: skip


def test_funnel_half_way() -> None:
    evs = [
        ev("a1", "a", "p", "2026-01-01T00:00:00Z"), ev("a2", "b", "p", "2026-01-01T00:00:00Z"),
        ev("b1", "a", "q", "2026-01-01T00:00:00Z"),
        ev("c1", "a", "r", "2026-01-01T00:00:00Z"), ev("c2", "b", "r", "2026-01-01T01:00:00Z"),
        ev("c3", "c", "r", "2026-01-01T02:00:00Z"),
    ]  # fmt: skip
    got = Oracle(evs).funnel(D(2026, 1, 1), D(2026, 1, 1), ("a", "b", "c"))
    assert differences(
        [
            {"step": "a", "users": 3, "conversionFromStart": 1.0, "conversionFromPrevious": 1.0},
            {"step": "b", "users": 2, "conversionFromStart": 2 / 3,
             "conversionFromPrevious": 2 / 3},
            {"step": "c", "users": 1, "conversionFromStart": 1 / 3,
             "conversionFromPrevious": 0.5},
        ],
        got,
    ) == []  # fmt: skip


def test_funnel_steps_need_distinct_events_in_time_order() -> None:
    t = "2026-01-01T12:00:00Z"
    one = [ev("x", "design", "p", t)]
    two_same_time = [ev("x", "design", "p", t), ev("y", "design", "p", t)]
    day, w = D(2026, 1, 1), timedelta(days=1)
    assert deepest_step(one, ("design", "design"), day, day, w) == 1
    assert deepest_step(two_same_time, ("design", "design"), day, day, w) == 2
    assert deepest_step(two_same_time, ("design",) * 3, day, day, w) == 2
    backwards = [ev("x", "b", "p", t), ev("y", "a", "p", "2026-01-01T12:00:01Z")]
    assert deepest_step(backwards, ("a", "b"), day, day, w) == 1
    exact = [ev("x", "a", "p", t), ev("y", "b", "p", "2026-01-02T12:00:00Z")]
    assert deepest_step(exact, ("a", "b"), day, day, w) == 2
    assert deepest_step(exact, ("a", "b"), day, day, w - timedelta(seconds=1)) == 1
    # the later step may fall after `to`; step 1 may not fall before `from`
    assert deepest_step(exact, ("a", "b"), day, day, w) == 2
    assert deepest_step(exact, ("a", "b"), D(2026, 1, 2), D(2026, 1, 2), w) == 0


_EVENT_TIMES = st.integers(0, 6).map(
    lambda n: datetime(2026, 1, 1, 23, 59, tzinfo=UTC) + timedelta(seconds=30 * n)
)


@given(
    st.lists(st.tuples(st.sampled_from("abc"), _EVENT_TIMES), max_size=6),
    st.lists(st.sampled_from("abc"), min_size=1, max_size=3),
    st.integers(0, 200),
)
def test_funnel_search_equals_brute_force(
    raw: list[tuple[str, datetime]], steps: list[str], window: int
) -> None:
    events = [Event(str(i), t, "p", at) for i, (t, at) in enumerate(raw)]
    day = D(2026, 1, 1)
    limit = timedelta(seconds=window)

    def reaches(k: int) -> bool:
        for chosen in itertools.permutations(events, k):
            times = [e.time for e in chosen]
            if (
                [e.type for e in chosen] == steps[:k]
                and chosen[0].day == day
                and times == sorted(times)
                and times[-1] - times[0] <= limit
            ):
                return True
        return False

    expected = max((k for k in range(1, len(steps) + 1) if reaches(k)), default=0)
    assert deepest_step(events, steps, day, day, limit) == expected


def test_event_counts_half_open_truncated_and_ordered() -> None:
    start, end = at("2025-12-31T23:00:00Z"), at("2026-01-01T05:00:00Z")
    assert ORACLE.event_counts(start, end) == [
        {"bucket": "2025-12-31T23:00:00+00:00", "type": "session_end", "count": 1},
        {"bucket": "2026-01-01T00:00:00+00:00", "type": "session_end", "count": 1},
    ]
    later = ORACLE.event_counts(start, end + timedelta(seconds=1), "DAY")
    assert later == [
        {"bucket": "2025-12-31T00:00:00+00:00", "type": "session_end", "count": 1},
        {"bucket": "2026-01-01T00:00:00+00:00", "type": "purchase", "count": 1},
        {"bucket": "2026-01-01T00:00:00+00:00", "type": "session_end", "count": 1},
    ]
    purchases = ORACLE.event_counts(at("2025-12-29T00:00:00Z"), at("2026-01-07T00:00:00Z"), "DAY",
                                    ["purchase"])  # fmt: skip
    assert [p["bucket"][:10] for p in purchases] == ["2026-01-01", "2026-01-02", "2026-01-05"]
    minute = ORACLE.event_counts(at("2025-12-31T23:59:59Z"), at("2026-01-01T00:00:01Z"), "MINUTE")
    assert [(m["bucket"][11:16], m["count"]) for m in minute] == [("23:59", 1), ("00:00", 1)]


def test_live_stats_by_receive_time() -> None:
    now = at("2026-01-10T12:00:00Z")
    evs = [
        Event("1", "design", "a", at("2026-01-01T00:00:00Z"), received_at=now),
        Event("2", "design", "a", now, received_at=now - timedelta(seconds=59)),
        Event("3", "design", "b", now, received_at=now - timedelta(seconds=60)),
        Event("4", "design", "c", now, received_at=now - timedelta(seconds=299)),
        Event("5", "design", "d", now, received_at=now - timedelta(seconds=300)),
    ]
    assert Oracle(evs).live_stats(now) == {
        "eventsLastMinute": 2, "eventsPerSecond": 2 / 60, "activePlayersLast5Minutes": 3,
    }  # fmt: skip


def test_first_received_wins_and_ties_must_agree() -> None:
    a = body("design", "p", at("2026-01-01T00:00:00Z"), platform="ios")
    b = {**a, "event_id": a["event_id"].upper(), "platform": "web"}
    assert [e.platform for e in accepted([a, b])] == ["ios"]
    tie = body("design", "p", at("2026-01-01T00:00:00Z"), platform="web")
    with pytest.raises(AmbiguousFirstEvent):
        Oracle(accepted([a, tie]))
    same = body("purchase", "p", at("2026-01-01T00:00:00Z"), platform="ios")
    assert Oracle(accepted([a, same])).first_events["p"].platform == "ios"


def test_differences_are_exact_for_ints_and_relative_for_floats() -> None:
    assert differences({"a": 1, "b": 0.1 + 0.2}, {"a": 1, "b": 0.3}) == []
    assert differences({"a": 1}, {"a": 1.0}) != []
    assert differences({"a": 1.0}, {"a": 1}) == []
    assert differences({"a": 1.0}, {"a": 1.0 + 1e-8}) != []
    assert differences({"a": 0.0}, {"a": 1e-300}) != []
    assert differences([1, 2], [1]) != []
    assert differences({"a": 1}, {"a": 1, "b": 2}) != []
    assert differences("2026-01-01T00:00:00+00:00", "2026-01-01T00:00:00Z") == []
    assert differences("2026-01-01T00:00:00+00:00", "2026-01-01T01:00:00+01:00") == []
    assert differences("2026-01-01T00:00:00+00:00", "2026-01-01T00:00:01Z") != []
    assert differences("2026-01-01", "2026-1-1") != []


# ---- the event sets: valid for the real validator, stored as the oracle assumes -----------

NOW = datetime.now(UTC)
POLICY = TimePolicy(late_horizon=timedelta(days=LATE_HORIZON_DAYS))


def check_valid(events: EventSet) -> None:
    for wave in events.waves:
        raw = json.dumps({"events": list(wave)}).encode()
        result = parse_batch(raw, game_id="g", received_at=NOW, policy=POLICY)
        assert result.rejected == []
        for sent, stored in zip(wave, result.accepted, strict=True):
            mine = event_from_body(sent)
            assert str(stored.event_id) == mine.event_id
            assert (stored.event_time, stored.type, stored.player_id) == (
                mine.time, mine.type, mine.player_id
            )  # fmt: skip
            assert (stored.platform, stored.country, stored.app_version) == (
                mine.platform, mine.country, mine.app_version
            )  # fmt: skip
            assert (stored.amount, stored.currency, stored.duration_seconds) == (
                mine.amount, mine.currency, mine.duration_seconds
            )  # fmt: skip


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_generated_event_sets_are_valid_and_answerable(data: st.DataObject) -> None:
    events = data.draw(event_sets(NOW))
    check_valid(events)
    accepted_events = events.events()
    for n in range(1, len(events.waves)):  # what the API holds after n waves
        Oracle(EventSet(events.waves[:n]).events())
    oracle = Oracle(accepted_events)
    assert sum(len(ids) for ids in events.new_ids()) == len(accepted_events)
    for query in data.draw(query_plans(accepted_events, NOW.date())):
        query.expect(oracle, NOW.date())
    assert set(TYPES) >= {e.type for e in accepted_events}


@pytest.mark.parametrize("case", EDGE_CASES, ids=lambda c: c.__name__)
def test_edge_cases_are_valid_and_answerable(case: Callable[[datetime], Case]) -> None:
    built = case(NOW)
    check_valid(built.events)
    oracle = Oracle(built.events.events())
    assert built.queries
    for query in built.queries:
        query.expect(oracle, NOW.date())
