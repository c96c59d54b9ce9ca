"""The analytics benchmark's generator: deterministic, exact in size, valid rows, a game's shape."""

import uuid
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta

import msgspec
import pytest

from apps.bench.analytics_data import (
    DataSpec,
    Shape,
    batches,
    generate,
    live_rows,
    player_ids_of,
)
from apps.core.currency import USD_PER_UNIT
from apps.core.events import encode_stored
from apps.core.validation import TimePolicy, parse_batch
from apps.processor.records import COLUMNS, Row, to_row

GAME = uuid.UUID("6a1e0000-0000-4000-8000-000000000001")
SPEC = DataSpec(GAME, date(2026, 3, 1), events=30_000, players=600, days=20, seed=7)
C = {name: i for i, name in enumerate(COLUMNS)}


@pytest.fixture(scope="module")
def days() -> list[list[Row]]:
    return list(generate(SPEC))


@pytest.fixture(scope="module")
def rows(days: list[list[Row]]) -> list[Row]:
    return [row for day in days for row in day]


def test_same_spec_same_rows_and_another_seed_other_rows(rows: list[Row]) -> None:
    again = [row for day in generate(SPEC) for row in day]
    assert again == rows
    other = DataSpec(GAME, SPEC.first_day, SPEC.events, SPEC.players, SPEC.days, seed=8)
    assert [row for day in generate(other) for row in day][:100] != rows[:100]


def test_exactly_the_events_asked_for_in_batches_of_the_size_asked(rows: list[Row]) -> None:
    assert len(rows) == SPEC.events
    sizes = [len(b) for b in batches(SPEC, 5_000)]
    assert sum(sizes) == SPEC.events
    assert all(size == 5_000 for size in sizes[:-1])
    assert len({row[C["event_id"]] for row in rows}) == SPEC.events


def test_rows_are_what_the_processor_makes_of_the_api_s_records(rows: list[Row]) -> None:
    """Each row, sent as the wire event, passes validation and decodes back to itself
    (client_time aside: the generator skews some clients' clocks)."""
    policy = TimePolicy(late_horizon=timedelta(days=3650))
    for row in rows[::97]:
        event = {
            name: row[C[name]]
            for name in (
                "event_id",
                "player_id",
                "session_id",
                "platform",
                "country",
                "app_version",
                "duration_seconds",
                "amount",
                "currency",
                "item_id",
            )
            if row[C[name]] is not None
        }
        event |= {"type": row[C["event_type"]], "timestamp": row[C["event_time"]],
                  "properties": msgspec.Raw(str(row[C["properties"]]).encode())}  # fmt: skip
        body = msgspec.json.encode({"events": [event]})
        received = row[C["received_at"]]
        assert isinstance(received, datetime)
        result = parse_batch(body, game_id=str(GAME), received_at=received, policy=policy)
        assert result.rejected == [], result.rejected
        again = to_row(encode_stored(result.accepted[0]))
        assert isinstance(again, tuple)
        skip = C["client_time"]
        assert again[:skip] + again[skip + 1 :] == row[:skip] + row[skip + 1 :]
        assert [type(v) for v in again] == [type(v) for v in row]


def test_event_ids_are_uuid7_of_the_event_time(rows: list[Row]) -> None:
    for row in rows[::101]:
        event_id, at = row[C["event_id"]], row[C["event_time"]]
        assert isinstance(event_id, uuid.UUID)
        assert isinstance(at, datetime)
        assert event_id.version == 7
        assert event_id.int >> 80 == (at - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(
            milliseconds=1
        )


def test_days_in_order_and_each_day_in_event_time_order(days: list[list[Row]]) -> None:
    assert len(days) == SPEC.days
    for offset, day in enumerate(days):
        times = [row[C["event_time"]] for row in day]
        assert times == sorted(times)  # type: ignore[type-var]
        assert {t.date() for t in times} == {SPEC.first_day + timedelta(offset)}  # type: ignore[attr-defined]


def test_sessions_start_end_and_last_on_one_day(rows: list[Row]) -> None:
    sessions: dict[object, list[Row]] = defaultdict(list)
    for row in rows:
        sessions[row[C["session_id"]]].append(row)
    per_player_day: Counter[tuple[object, object]] = Counter()
    for events in sessions.values():
        events.sort(key=lambda r: r[C["event_time"]])  # type: ignore[arg-type,return-value]
        first, last = events[0], events[-1]
        assert first[C["event_type"]] == "session_start"
        assert last[C["event_type"]] == "session_end"
        start, end = first[C["event_time"]], last[C["event_time"]]
        assert isinstance(start, datetime)
        assert isinstance(end, datetime)
        assert start.date() == end.date()
        duration = last[C["duration_seconds"]]
        assert isinstance(duration, float)
        assert duration == pytest.approx((end - start).total_seconds(), abs=0.001)
        per_player_day[first[C["player_id"]], start.date()] += 1
    assert set(per_player_day.values()) == {1, 2, 3}


def test_a_game_s_shape(rows: list[Row]) -> None:
    shape = Shape()
    assert sum(len(d) for d in generate(SPEC, shape)) == shape.events == SPEC.events
    types = Counter(row[C["event_type"]] for row in rows)
    assert types["session_start"] == types["session_end"] == shape.sessions
    assert types["tutorial_complete"] == SPEC.players
    assert {"level_start", "level_complete", "ui.click", "ad_impression", "resource"} < set(types)
    assert 0.005 < types["purchase"] / shape.sessions < 0.06
    assert len({row[C["player_id"]] for row in rows}) == SPEC.players
    purchases = [row for row in rows if row[C["event_type"]] == "purchase"]
    assert all(r[C["currency"]] in USD_PER_UNIT and r[C["amount"]] > 0 for r in purchases)  # type: ignore[operator]
    assert len({r[C["currency"]] for r in purchases}) >= 4
    assert shape.new_per_day[0] > 0
    assert sum(shape.new_per_day) == SPEC.players
    # Acquisition (first event) attributes differ from later events' for some players.
    assert 0.02 < shape.rows_with_other_attributes / shape.events < 0.6
    web = [row for row in rows if row[C["platform"]] == "web"]
    assert web
    assert all(row[C["app_version"]] is None for row in web)


def test_returns_fall_with_days_since_the_first(rows: list[Row]) -> None:
    first_day: dict[object, date] = {}
    active: set[tuple[object, int]] = set()
    for row in rows:
        player, at = row[C["player_id"]], row[C["event_time"]]
        assert isinstance(at, datetime)
        first_day.setdefault(player, at.date())
        active.add((player, (at.date() - first_day[player]).days))
    eligible = [p for p, d in first_day.items() if (SPEC.last_day - d).days >= 14]

    def rate(n: int) -> float:
        return sum((p, n) in active for p in eligible) / len(eligible)

    assert 0.2 < rate(1) < 0.6
    assert rate(1) > rate(7) > 0.03
    assert rate(7) > rate(14) * 0.8


def test_live_rows_are_received_in_the_minutes_before_now() -> None:
    now = datetime(2026, 3, 30, 12, 0, tzinfo=UTC)
    live = live_rows(SPEC, now, 500)
    assert len(live) == 500
    received = [row[C["received_at"]] for row in live]
    assert all(now - timedelta(minutes=5) < r < now for r in received)  # type: ignore[operator]
    assert {row[C["player_id"]] for row in live} <= set(player_ids_of(SPEC.seed, SPEC.players))
