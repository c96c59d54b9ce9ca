"""The paths that read daily_stats and cohort_activity, against counts over the written rows.

daily_stats answers activeUsers, sessions and revenue per day without a filter;
cohort_activity answers newUsers and retention. Their distinct counts change only
when a player-day gets its first row, first session_end or first purchase, which
can come in any batch and any segment; late events move players between cohorts.
"""

import random
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
import pytest

from apps.analytics.queries import active_users, new_users, retention, revenue, sessions
from apps.analytics.results import SessionPoint
from apps.core.periods import ANY_SEGMENT, Granularity, Segment
from apps.processor.records import COLUMNS, Row
from tests.apps.analytics.queries.conftest import Store
from tests.apps.analytics.queries.rows import Attrs, event

pytestmark = pytest.mark.anyio
Conn = psycopg.AsyncConnection[Any]
D = date
DAY, WEEK = Granularity.DAY, Granularity.WEEK
RATES = {"USD": 1.0, "EUR": 1.1}


async def test_a_player_day_counts_once_whatever_batch_or_segment_brings_it(
    store: Store, game: uuid.UUID, conn: Conn
) -> None:
    day = D(2026, 3, 30)
    p1_ios: Attrs = {"platform": "ios", "country": "US"}
    store.write(
        event(game, "design", "p1", "2026-03-30T10:00:00", **p1_ios),
        event(game, "design", "p2", "2026-03-30T10:00:00", platform="android"),
    )
    # p1's first session_end comes later and from another segment, then one from the first
    second = [
        event(game, "session_end", "p1", "2026-03-30T11:00:00", platform="android", duration=30),
        event(game, "session_end", "p1", "2026-03-30T12:00:00", duration=10, **p1_ios),
    ]
    store.write(*second)
    store.write(
        event(game, "purchase", "p1", "2026-03-30T13:00:00", platform="web", amount=2.0,
              currency="USD"),
        event(game, "purchase", "p2", "2026-03-30T13:00:00", platform="android", amount=1.0,
              currency="EUR"),
    )  # fmt: skip
    store.write(
        event(game, "purchase", "p1", "2026-03-30T14:00:00", amount=4.0, currency="USD", **p1_ios)
    )
    store.replay(*second)

    active = await active_users(conn, game, day, day, DAY, ANY_SEGMENT)
    assert [(p.bucket, p.value) for p in active] == [(day, 2)]
    got = await sessions(conn, game, day, day, DAY, ANY_SEGMENT)
    assert [(p.sessions, p.players, p.avg_length_seconds) for p in got] == [(2, 1, 20.0)]
    paid = await revenue(conn, game, day, day, DAY, ANY_SEGMENT, RATES)
    assert [(p.paying_users, p.purchases) for p in paid] == [(2, 3)]
    assert paid[0].revenue_usd == pytest.approx(7.1)
    assert paid[0].arpdau == pytest.approx(7.1 / 2)
    assert paid[0].arppu == pytest.approx(7.1 / 2)
    # the same numbers from player_days (a week bucket holding only this day)
    assert [p.value for p in await active_users(conn, game, day, day, WEEK, ANY_SEGMENT)] == [2]
    assert await sessions(conn, game, day, day, WEEK, ANY_SEGMENT) == [
        SessionPoint(day, 2, 1, 20.0)
    ]
    week = await revenue(conn, game, day, day, WEEK, ANY_SEGMENT, RATES)
    assert week[0].paying_users == 2
    assert week[0].arpdau == pytest.approx(7.1 / 2)


@dataclass
class Expected:
    """Counts over the rows written, in plain Python."""

    active: defaultdict[date, set[str]] = field(default_factory=lambda: defaultdict(set))
    played: defaultdict[date, set[str]] = field(default_factory=lambda: defaultdict(set))
    paid: defaultdict[date, set[str]] = field(default_factory=lambda: defaultdict(set))
    sessions: defaultdict[date, int] = field(default_factory=lambda: defaultdict(int))
    seconds: defaultdict[date, float] = field(default_factory=lambda: defaultdict(float))
    purchases: defaultdict[date, int] = field(default_factory=lambda: defaultdict(int))
    first: dict[str, tuple[datetime, uuid.UUID, tuple[str, str, str]]] = field(default_factory=dict)

    def add(self, row: Row) -> None:
        values = dict(zip(COLUMNS, row, strict=True))
        event_id, etype = values["event_id"], values["event_type"]
        player, t = values["player_id"], values["event_time"]
        assert isinstance(t, datetime)
        assert isinstance(player, str)
        assert isinstance(event_id, uuid.UUID)
        day = t.astimezone(UTC).date()
        self.active[day].add(player)
        if etype == "session_end":
            self.played[day].add(player)
            self.sessions[day] += 1
            duration = values["duration_seconds"]
            assert isinstance(duration, float)
            self.seconds[day] += duration
        if etype == "purchase":
            self.paid[day].add(player)
            self.purchases[day] += 1
        platform, country, app_version = (
            str(values[c] or "") for c in ("platform", "country", "app_version")
        )
        known = self.first.get(player)
        if known is None or (t, event_id) < known[:2]:
            self.first[player] = (t, event_id, (platform, country, app_version))

    def cohort(self, segment: Segment) -> defaultdict[date, set[str]]:
        members: defaultdict[date, set[str]] = defaultdict(set)
        for player, (t, _, (platform, country, app_version)) in self.first.items():
            wanted = (segment.platform, segment.country, segment.app_version)
            got = (platform, country, app_version)
            if all(w is None or w == v for w, v in zip(wanted, got, strict=True)):
                members[t.date()].add(player)
        return members


def random_batches(game: uuid.UUID, seed: int) -> list[list[Row]]:
    """Events over 8 days in random order (late ones included) of 16 players, player k
    active from day k % 8 on, their segment changing from event to event; every event
    time distinct."""
    rng = random.Random(seed)
    start = datetime(2026, 3, 1, tzinfo=UTC)
    seen: set[int] = set()
    rows: list[Row] = []
    while len(rows) < 400:
        player = rng.randrange(16)
        offset = rng.randrange(player % 8 * 86_400, 8 * 86_400)
        if offset in seen:
            continue
        seen.add(offset)
        etype = rng.choice(["design", "design", "session_end", "purchase"])
        purchase = etype == "purchase"
        row = event(
            game, etype, f"p{player}", start + timedelta(seconds=offset),
            platform=rng.choice(["ios", "android", None]), country=rng.choice(["US", "DE"]),
            duration=rng.choice([1.5, 30.0]) if etype == "session_end" else None,
            amount=1.0 if purchase else None, currency="USD" if purchase else None,
        )  # fmt: skip
        rows.append(row)
    batches: list[list[Row]] = []
    while rows:
        size = rng.randrange(1, 40)
        batches.append(rows[:size])
        rows = rows[size:]
    return batches


@pytest.mark.parametrize("seed", [1, 2])
async def test_rollup_answers_equal_counts_over_random_batches(
    store: Store, game: uuid.UUID, conn: Conn, seed: int
) -> None:
    expected = Expected()
    written: list[Row] = []
    for number, batch in enumerate(random_batches(game, seed)):
        store.write(*batch)
        written += batch
        for row in batch:
            expected.add(row)
        if number % 5 == 4:
            store.replay(*written[-15:])
    first, last = D(2026, 3, 1), D(2026, 3, 8)
    days = [first + timedelta(days=i) for i in range(8)]

    active = await active_users(conn, game, first, last, DAY, ANY_SEGMENT)
    assert [p.value for p in active] == [len(expected.active[d]) for d in days]
    got = await sessions(conn, game, first, last, DAY, ANY_SEGMENT)
    assert [(p.sessions, p.players) for p in got] == [
        (expected.sessions[d], len(expected.played[d])) for d in days
    ]
    assert [p.avg_length_seconds for p in got] == [
        pytest.approx(expected.seconds[d] / expected.sessions[d] if expected.sessions[d] else 0)
        for d in days
    ]
    paid = await revenue(conn, game, first, last, DAY, ANY_SEGMENT, RATES)
    assert [(p.paying_users, p.purchases) for p in paid] == [
        (len(expected.paid[d]), expected.purchases[d]) for d in days
    ]
    assert [p.arpdau for p in paid] == [
        pytest.approx(expected.purchases[d] / len(expected.active[d])) for d in days
    ]

    for segment in (ANY_SEGMENT, Segment(platform="ios"), Segment(platform="", country="DE")):
        cohort = expected.cohort(segment)
        new = await new_users(conn, game, first, last, DAY, segment)
        assert [p.value for p in new] == [len(cohort[d]) for d in days]
        weekly = await new_users(conn, game, first, last, WEEK, segment)
        assert sum(p.value for p in weekly) == sum(len(c) for c in cohort.values())
        got_cohorts = await retention(conn, game, first, last, [0, 1, 2, 5], segment, last)
        want = [
            (d, len(cohort[d]), [
                (n, len({p for p in cohort[d] if p in expected.active[d + timedelta(days=n)]}))
                for n in (0, 1, 2, 5) if d + timedelta(days=n) <= last
            ])
            for d in days
        ]  # fmt: skip
        assert [
            (c.cohort, c.size, [(p.day, p.users) for p in c.retained]) for c in got_cohorts
        ] == want
