"""eventCounts (whole minutes from the rollup, edge minutes from raw events) and liveStats."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from apps.analytics.queries import event_counts, live_stats
from apps.analytics.results import EventCount
from apps.core.periods import Bucket
from tests.apps.analytics.queries.conftest import Store
from tests.apps.analytics.queries.rows import at, event

pytestmark = pytest.mark.anyio
Conn = psycopg.AsyncConnection[Any]


def table(rows: list[EventCount]) -> list[tuple[str, str, int]]:
    for r in rows:
        assert r.bucket.utcoffset() == timedelta(0)
    return [(r.bucket.isoformat(), r.type, r.count) for r in rows]


def write_counts(store: Store, game: uuid.UUID) -> None:
    times = {
        "2026-03-10T10:00:10": "b",  # before `from` (10:00:30), in its minute
        "2026-03-10T10:00:30": "b",  # exactly `from`: counts
        "2026-03-10T10:00:40": "a",
        "2026-03-10T10:05:00": "b",  # whole minutes, from the rollup
        "2026-03-10T10:05:59.999999": "b",
        "2026-03-10T10:59:00": "a",
        "2026-03-10T11:59:59": "a",
        "2026-03-10T12:00:05": "b",  # in the minute of `to` (12:00:15), before it
        "2026-03-10T12:00:15": "b",  # exactly `to`: excluded
        "2026-03-10T12:00:20": "a",
        "2026-03-11T00:00:00": "a",
    }
    store.write(
        *(event(game, t, "p1", stamp) for stamp, t in times.items()),
        event(uuid.uuid4(), "a", "p1", "2026-03-10T10:05:00"),
    )


async def test_event_counts_hour_minute_day(store: Store, game: uuid.UUID, conn: Conn) -> None:
    write_counts(store, game)
    start, end = at("2026-03-10T10:00:30"), at("2026-03-10T12:00:15")
    hours = await event_counts(conn, game, start, end, Bucket.HOUR, None)
    assert table(hours) == [
        ("2026-03-10T10:00:00+00:00", "a", 2),
        ("2026-03-10T10:00:00+00:00", "b", 3),
        ("2026-03-10T11:00:00+00:00", "a", 1),
        ("2026-03-10T12:00:00+00:00", "b", 1),
    ]
    minutes = await event_counts(conn, game, start, end, Bucket.MINUTE, None)
    assert table(minutes) == [
        ("2026-03-10T10:00:00+00:00", "a", 1),
        ("2026-03-10T10:00:00+00:00", "b", 1),
        ("2026-03-10T10:05:00+00:00", "b", 2),
        ("2026-03-10T10:59:00+00:00", "a", 1),
        ("2026-03-10T11:59:00+00:00", "a", 1),
        ("2026-03-10T12:00:00+00:00", "b", 1),
    ]
    days = await event_counts(conn, game, start, at("2026-03-12T00:00:00"), Bucket.DAY, None)
    assert table(days) == [
        ("2026-03-10T00:00:00+00:00", "a", 4),
        ("2026-03-10T00:00:00+00:00", "b", 5),
        ("2026-03-11T00:00:00+00:00", "a", 1),
    ]
    only_b = await event_counts(conn, game, start, end, Bucket.HOUR, ["b", "nothing"])
    assert table(only_b) == [
        ("2026-03-10T10:00:00+00:00", "b", 3),
        ("2026-03-10T12:00:00+00:00", "b", 1),
    ]
    assert await event_counts(conn, game, start, end, Bucket.HOUR, []) == []


async def test_event_counts_edges(store: Store, game: uuid.UUID, conn: Conn) -> None:
    write_counts(store, game)
    # inside one minute: raw events only
    inside = await event_counts(
        conn, game, at("2026-03-10T10:00:20"), at("2026-03-10T10:00:45"), Bucket.MINUTE, None
    )
    assert table(inside) == [
        ("2026-03-10T10:00:00+00:00", "a", 1),
        ("2026-03-10T10:00:00+00:00", "b", 1),
    ]
    # minute-aligned: the rollup only; `to` excludes its minute
    aligned = await event_counts(
        conn, game, at("2026-03-10T10:00:00"), at("2026-03-10T12:00:00"), Bucket.HOUR, None
    )
    assert table(aligned) == [
        ("2026-03-10T10:00:00+00:00", "a", 2),
        ("2026-03-10T10:00:00+00:00", "b", 4),
        ("2026-03-10T11:00:00+00:00", "a", 1),
    ]
    # the same range in another offset is the same instants
    plus2 = await event_counts(
        conn, game, at("2026-03-10T12:00:00+02:00"), at("2026-03-10T14:00:00+02:00"),
        Bucket.HOUR, None,
    )  # fmt: skip
    assert table(plus2) == table(aligned)
    empty = await event_counts(conn, game, at("2026-03-10T10:00:30"), at("2026-03-10T10:00:30"),
                               Bucket.MINUTE, None)  # fmt: skip
    assert empty == []
    # from 10:00:59 to 10:06:01: the edge minutes 10:00 and 10:06 are partial
    edges = await event_counts(
        conn, game, at("2026-03-10T10:00:59"), at("2026-03-10T10:06:01"), Bucket.MINUTE, None
    )
    assert table(edges) == [("2026-03-10T10:05:00+00:00", "b", 2)]


async def test_event_counts_buckets_are_utc_whatever_the_session_time_zone(
    store: Store, game: uuid.UUID, conn: Conn
) -> None:
    write_counts(store, game)
    start, end = at("2026-03-10T00:00:00"), at("2026-03-12T00:00:00")
    utc = await event_counts(conn, game, start, end, Bucket.DAY, None)
    await conn.execute("SET TIME ZONE 'Asia/Kolkata'")  # +05:30: its days start at 18:30 UTC
    assert await event_counts(conn, game, start, end, Bucket.DAY, None) == utc
    assert [r.bucket for r in utc] == [start, start, at("2026-03-11T00:00:00")]


def _second(t: datetime) -> datetime:
    return t.replace(microsecond=0)


async def test_live_stats_windows(store: Store, game: uuid.UUID, conn: Conn) -> None:
    """Seconds S-59 .. S count for now = S + 0.5 s; players seen in (now - 5 min, now]."""
    real_now = datetime.now(UTC)
    second = _second(real_now) - timedelta(minutes=2)
    now = second + timedelta(milliseconds=500)

    def received(player: str, offset: float) -> tuple[object, ...]:
        t = second + timedelta(seconds=offset)
        return event(game, "design", player, t, received=t)

    store.write(
        received("p1", -60 + 0.9),  # second S-60: out
        received("p1", -59 + 0.1),  # second S-59: in
        received("p1", -30),
        received("p1", 0.2),  # second S, before now: in
        received("p1", 0.7),  # second S, after now: in (whole seconds)
        received("p2", -299.4),  # last receipt 299.9 s before now: active
        received("p3", -300.6),  # 301.1 s before now: not
        received("p4", 1.2),  # second S+1, after now: out
    )
    got = await live_stats(conn, game, now)
    assert got.events_last_minute == 4
    assert got.events_per_second == pytest.approx(4 / 60)
    # p1 (latest receipt after now, but active before it too), p2; p4 counts as well: only
    # its latest receipt is kept, so a receipt after now cannot be told from one before
    assert got.active_players_last_5_minutes == 3
    earlier = await live_stats(conn, game, now - timedelta(seconds=30))
    # seconds S-89 .. S-30: p1's receipts at S-60+0.9, S-59+0.1 and S-30
    assert earlier.events_last_minute == 3
    assert earlier.active_players_last_5_minutes == 4  # p3 too (4.5 min before)


async def test_live_stats_at_the_database_now(store: Store, game: uuid.UUID, conn: Conn) -> None:
    other = uuid.uuid4()
    recent = datetime.now(UTC) - timedelta(seconds=5)
    store.write(
        *(event(game, "design", f"p{i % 3}", recent, received=recent) for i in range(7)),
        event(other, "design", "p9", recent, received=recent),
    )
    got = await live_stats(conn, game)
    assert (got.events_last_minute, got.active_players_last_5_minutes) == (7, 3)
    assert got.events_per_second == pytest.approx(7 / 60)
    nothing = await live_stats(conn, uuid.uuid4())
    assert (nothing.events_last_minute, nothing.events_per_second) == (0, 0.0)
    assert nothing.active_players_last_5_minutes == 0
