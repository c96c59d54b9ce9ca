"""activeUsers (events' own attributes) and newUsers (acquisition attributes), by hand."""

import uuid
from datetime import date
from typing import Any

import psycopg
import pytest

from apps.analytics.queries import active_users, new_users
from apps.analytics.results import TimeValue
from apps.core.periods import ANY_SEGMENT, Granularity, Segment
from apps.processor.records import Row
from tests.apps.analytics.queries.conftest import Store
from tests.apps.analytics.queries.rows import Attrs, event

pytestmark = pytest.mark.anyio
Conn = psycopg.AsyncConnection[Any]
D = date
DAY, WEEK, MONTH = Granularity.DAY, Granularity.WEEK, Granularity.MONTH
IOS: Attrs = {"platform": "ios", "country": "US", "app_version": "1.0"}


def values(points: list[TimeValue]) -> list[tuple[date, int]]:
    return [(p.bucket, p.value) for p in points]


def write_activity(store: Store, game: uuid.UUID) -> list[Row]:
    """2026-03-29 is a Sunday; 03-30 starts a week; 04-01 starts a month.

    p1: 03-29 ios, 03-30 ios (twice), 04-01 android.
    p2: 03-30 ios with app 1.0 and 1.1 (updated that day): two player_days rows.
    p3: 03-31 with no platform at all.
    Another game's player is active every day.
    """
    other = uuid.uuid4()
    rows = [
        event(game, "design", "p1", "2026-03-29T23:59:59.999999", **IOS),
        event(game, "design", "p1", "2026-03-30T00:00:00", **IOS),
        event(game, "session_start", "p1", "2026-03-30T12:00:00", **IOS),
        event(game, "design", "p1", "2026-04-01T08:00:00", platform="android"),
        event(game, "design", "p2", "2026-03-30T09:00:00", **IOS),
        event(
            game,
            "design",
            "p2",
            "2026-03-30T10:00:00",
            platform="ios",
            country="US",
            app_version="1.1",
        ),
        event(game, "design", "p3", "2026-03-31T10:00:00"),
        *(event(other, "design", "x", f"2026-03-{d}T10:00:00", **IOS) for d in range(25, 32)),
    ]
    store.write(*rows)
    return rows


async def test_active_users_per_day_with_zeros(store: Store, game: uuid.UUID, conn: Conn) -> None:
    rows = write_activity(store, game)
    expected = [
        (D(2026, 3, 28), 0), (D(2026, 3, 29), 1), (D(2026, 3, 30), 2),
        (D(2026, 3, 31), 1), (D(2026, 4, 1), 1), (D(2026, 4, 2), 0),
    ]  # fmt: skip
    got = await active_users(conn, game, D(2026, 3, 28), D(2026, 4, 2), DAY, ANY_SEGMENT)
    assert values(got) == expected
    store.replay(*rows[::-1])  # a redelivery changes nothing
    got = await active_users(conn, game, D(2026, 3, 28), D(2026, 4, 2), DAY, ANY_SEGMENT)
    assert values(got) == expected


async def test_active_users_week_and_month_count_only_days_in_range(
    store: Store, game: uuid.UUID, conn: Conn
) -> None:
    write_activity(store, game)
    week = await active_users(conn, game, D(2026, 3, 29), D(2026, 4, 1), WEEK, ANY_SEGMENT)
    # the week of 03-23 holds only 03-29 of the range; p1 counts once in the week of 03-30
    assert values(week) == [(D(2026, 3, 23), 1), (D(2026, 3, 30), 3)]
    month = await active_users(conn, game, D(2026, 3, 29), D(2026, 4, 1), MONTH, ANY_SEGMENT)
    assert values(month) == [(D(2026, 3, 1), 3), (D(2026, 4, 1), 1)]
    # 03-30 alone: p1 and p2, not p1's 03-29 or p3's 03-31 of the same week
    narrow = await active_users(conn, game, D(2026, 3, 30), D(2026, 3, 30), WEEK, ANY_SEGMENT)
    assert values(narrow) == [(D(2026, 3, 30), 2)]
    empty = await active_users(conn, game, D(2026, 5, 4), D(2026, 5, 20), WEEK, ANY_SEGMENT)
    assert values(empty) == [(D(2026, 5, 4), 0), (D(2026, 5, 11), 0), (D(2026, 5, 18), 0)]


async def test_active_users_filter_on_each_events_own_attributes(
    store: Store, game: uuid.UUID, conn: Conn
) -> None:
    write_activity(store, game)
    first, last = D(2026, 3, 29), D(2026, 4, 1)

    async def per_day(**segment: str) -> list[int]:
        got = await active_users(conn, game, first, last, DAY, Segment(**segment))
        return [p.value for p in got]

    assert await per_day(platform="ios") == [1, 2, 0, 0]
    assert await per_day(platform="android") == [0, 0, 0, 1]
    assert await per_day(platform="") == [0, 0, 1, 0]  # p3's events had no platform
    assert await per_day(app_version="1.1") == [0, 1, 0, 0]
    assert await per_day(platform="ios", country="US", app_version="1.0") == [1, 2, 0, 0]
    assert await per_day(country="FR") == [0, 0, 0, 0]
    week = await active_users(conn, game, first, last, WEEK, Segment(platform="ios"))
    assert values(week) == [(D(2026, 3, 23), 1), (D(2026, 3, 30), 2)]


async def test_new_users_filter_on_acquisition_and_follow_late_first_events(
    store: Store, game: uuid.UUID, conn: Conn
) -> None:
    write_activity(store, game)
    # p4 is first seen on 04-01 (android)...
    store.write(event(game, "design", "p4", "2026-04-01T10:00:00", platform="android"))
    first, last = D(2026, 3, 28), D(2026, 4, 2)
    got = await new_users(conn, game, first, last, DAY, ANY_SEGMENT)
    assert [p.value for p in got] == [0, 1, 1, 1, 1, 0]
    # ... until a late event from 03-28 (web) arrives: it is their first event now
    store.write(event(game, "design", "p4", "2026-03-28T10:00:00", platform="web"))
    got = await new_users(conn, game, first, last, DAY, ANY_SEGMENT)
    assert [p.value for p in got] == [1, 1, 1, 1, 0, 0]
    # acquisition: p1 is an ios player although active on android on 04-01; p4 is web now
    android = await new_users(conn, game, first, last, DAY, Segment(platform="android"))
    assert [p.value for p in android] == [0, 0, 0, 0, 0, 0]
    web = await new_users(conn, game, first, last, DAY, Segment(platform="web"))
    assert [p.value for p in web] == [1, 0, 0, 0, 0, 0]
    # p2's first event was on app 1.0 (09:00), not 1.1 (10:00)
    v11 = await new_users(conn, game, first, last, DAY, Segment(app_version="1.1"))
    assert sum(p.value for p in v11) == 0
    blank = await new_users(conn, game, first, last, DAY, Segment(platform=""))
    assert [p.value for p in blank] == [0, 0, 0, 1, 0, 0]  # p3
    week = await new_users(conn, game, first, last, WEEK, ANY_SEGMENT)
    assert values(week) == [(D(2026, 3, 23), 2), (D(2026, 3, 30), 2)]
    month = await new_users(conn, game, D(2026, 3, 30), D(2026, 4, 30), MONTH, ANY_SEGMENT)
    # p4's first day moved to 03-28, before the range: nobody new in April
    assert values(month) == [(D(2026, 3, 1), 2), (D(2026, 4, 1), 0)]
