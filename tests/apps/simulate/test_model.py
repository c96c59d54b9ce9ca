"""The traffic model, pure: one seed one traffic, retention decays, every event is valid."""

import random
import re
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from apps.core import currency, events, limits
from apps.core.validation import Rejection, TimePolicy, parse_batch
from apps.simulate import model, players
from apps.simulate.model import SimEvent
from apps.simulate.players import Player

NOW = datetime(2026, 11, 1, 12, 30, 15, 123456, tzinfo=UTC)
DAYS = 14


def population(seed: int, n: int, days: int) -> tuple[random.Random, list[Player]]:
    rng = random.Random(seed)
    return rng, players.make_population(rng, n, days)


def history(seed: int, n: int = 400, days: int = DAYS) -> list[SimEvent]:
    rng, people = population(seed, n, days)
    return list(model.Backfill(rng, people, days=days, now=NOW))


def send_times(count: int, rate: float = 300) -> list[datetime]:
    return [NOW + timedelta(seconds=i / rate) for i in range(count)]


def live(seed: int, n: int = 300, count: int = 6000) -> list[SimEvent]:
    rng, people = population(seed, n, model.LIVE_HISTORY_DAYS)
    traffic = model.LiveTraffic(rng, people, now=NOW, rate=300)
    return traffic.take(send_times(count))


def rejections(sent: Sequence[SimEvent], received_at: datetime) -> list[Rejection]:
    """What the API would say, with the client clock agreeing with the server's."""
    found: list[Rejection] = []
    for i in range(0, len(sent), limits.MAX_EVENTS_PER_BATCH):
        chunk = sent[i : i + limits.MAX_EVENTS_PER_BATCH]
        body = msgspec.json.encode({"sent_at": received_at, "events": [e.body for e in chunk]})
        result = parse_batch(body, game_id="g", received_at=received_at, policy=TimePolicy())
        assert len(result.accepted) + len(result.rejected) == len(chunk)
        found += result.rejected
    return found


@pytest.fixture(scope="module")
def past() -> list[SimEvent]:
    return history(seed=11)


@pytest.fixture(scope="module")
def present() -> list[SimEvent]:
    return live(seed=12, count=20_000)


def test_the_same_seed_gives_the_same_traffic() -> None:
    assert [e.body for e in history(3, n=60)] == [e.body for e in history(3, n=60)]
    assert [e.body for e in live(3, count=500)] == [e.body for e in live(3, count=500)]
    other = {e.body["event_id"] for e in history(4, n=60)}
    assert other.isdisjoint(e.body["event_id"] for e in history(3, n=60))


def test_event_ids_are_distinct_uuid4s(past: list[SimEvent], present: list[SimEvent]) -> None:
    ids = [e.body["event_id"] for e in [*past, *present]]
    assert len(set(ids)) == len(ids)
    assert all(getattr(i, "version", None) == 4 for i in ids)


def test_every_event_passes_validation(past: list[SimEvent], present: list[SimEvent]) -> None:
    assert rejections(past, received_at=NOW) == []
    assert rejections(present, received_at=present[-1].deliver_at) == []


def test_a_history_as_long_as_the_horizon_stays_inside_it_while_being_sent() -> None:
    rng, people = population(5, 150, 30)
    sent = list(model.Backfill(rng, people, days=30, now=NOW))
    assert NOW + timedelta(minutes=30) - model.backfill_start(30, NOW) < timedelta(days=30)
    assert min(e.timestamp for e in sent) < NOW - timedelta(days=29)
    assert rejections(sent, received_at=NOW + timedelta(minutes=30)) == []


def test_retention_decays_with_the_days_since_acquisition() -> None:
    rng, people = population(21, 1500, DAYS)
    start = model.backfill_start(DAYS, NOW)
    acquired = {p.player_id: p.acquired_day for p in people}
    active: dict[int, set[str]] = defaultdict(set)  # age in days -> players who played
    for e in model.Backfill(rng, people, days=DAYS, now=NOW):
        if e.body["type"] == events.SESSION_START:
            day = (e.timestamp - start) // model.DAY
            pid = str(e.body["player_id"])
            active[day - acquired[pid]].add(pid)
    cohort = {age: sum(1 for d in acquired.values() if d + age < DAYS) for age in range(DAYS)}
    share = {age: len(active[age]) / cohort[age] for age in range(DAYS)}
    assert share[0] > 0.99  # all but who start their first session within the hour after NOW
    assert 0.2 < share[1] < 0.6
    assert share[1] > share[3] > share[7] > share[12] > 0
    first = {p.player_id for p in people if p.acquired_day == 0}
    played = [len(first & {str(e) for e in active[d]}) for d in range(DAYS)]
    assert played[0] == len(first)
    assert played[DAYS - 1] < played[1] < played[0]


def test_late_events_are_delivered_minutes_to_hours_after_they_happened(
    past: list[SimEvent], present: list[SimEvent]
) -> None:
    for sent in (past, present):
        late = [e for e in sent if e.late]
        assert 0.005 < len(late) / len(sent) < 0.15
        delays = [e.deliver_at - e.timestamp for e in late]
        assert min(delays) >= timedelta(minutes=1)
        assert max(delays) > timedelta(hours=1)
        assert all(e.body["timestamp"] == e.timestamp for e in sent)
    deliveries = [e.deliver_at for e in past]
    assert deliveries == sorted(deliveries)
    assert max(deliveries) <= NOW


def test_live_events_are_stamped_with_the_time_they_are_sent(present: list[SimEvent]) -> None:
    for e, sent_at in zip(present, send_times(len(present)), strict=True):
        if not e.late:
            assert (
                e.timestamp
                == e.deliver_at
                == sent_at.replace(microsecond=sent_at.microsecond // 1000 * 1000)
            )


def test_sessions_start_and_end_and_say_how_long_they_lasted(
    past: list[SimEvent], present: list[SimEvent]
) -> None:
    for sent in (past, present):
        by_session: dict[object, list[SimEvent]] = defaultdict(list)
        for e in sent:
            by_session[e.body["session_id"]].append(e)
        ended = 0
        for session in by_session.values():
            session.sort(key=lambda e: e.timestamp)
            types = [e.body["type"] for e in session]
            assert types.count(events.SESSION_END) <= 1
            if types[-1] == events.SESSION_END and types[0] == events.SESSION_START:
                ended += 1
                length = (session[-1].timestamp - session[0].timestamp).total_seconds()
                assert session[-1].body["duration_seconds"] == pytest.approx(length)
            assert len({e.body["player_id"] for e in session}) == 1
        assert ended > len(by_session) / 2


def test_the_traffic_has_the_variety_of_a_real_game(
    past: list[SimEvent], present: list[SimEvent]
) -> None:
    for sent in (past, present):
        types = {str(e.body["type"]) for e in sent}
        assert types >= events.BUILTIN_TYPES
        custom = types - events.BUILTIN_TYPES
        assert {"ui.click", "tutorial.step"} <= custom
        assert all(re.fullmatch(limits.TYPE_PATTERN, t) for t in custom)
        assert {e.body["platform"] for e in sent} == {"android", "ios", "pc", "web"}
        assert len({e.body["country"] for e in sent}) >= 8
        assert len({e.body["app_version"] for e in sent}) >= 3
        statuses = {e.body["status"] for e in sent if e.body["type"] == events.PROGRESSION}
        assert statuses == {"start", "complete", "fail"}
    purchases = [e.body for e in past if e.body["type"] == events.PURCHASE]
    codes = {str(p["currency"]) for p in purchases}
    assert len(codes) >= 3
    assert all(currency.is_supported(c) for c in codes)
    assert all(isinstance(p["amount"], int | float) and p["amount"] > 0 for p in purchases)
    assert all(p["item_id"] for p in purchases)


def test_typed_fields_appear_only_on_their_own_types(past: list[SimEvent]) -> None:
    from apps.core.validation import TYPED_FIELDS

    for e in past:
        for name, types in TYPED_FIELDS.items():
            if name in e.body:
                assert e.body["type"] in types, (name, e.body)
