"""retention: cohorts by first day (acquisition filter), returns on any event, by hand."""

import uuid
from datetime import date
from typing import Any

import psycopg
import pytest

from apps.analytics.queries import retention
from apps.analytics.results import Cohort
from apps.core.periods import ANY_SEGMENT, Segment
from tests.apps.analytics.queries.conftest import Store
from tests.apps.analytics.queries.rows import event

pytestmark = pytest.mark.anyio
Conn = psycopg.AsyncConnection[Any]
D = date


def table(cohorts: list[Cohort]) -> list[tuple[date, int, list[tuple[int, int, float]]]]:
    return [(c.cohort, c.size, [(p.day, p.users, p.rate) for p in c.retained]) for c in cohorts]


def write_cohorts(store: Store, game: uuid.UUID) -> None:
    """Cohort 03-01: a (ios), b (android), c (ios); cohort 03-02: d (ios).

    a returns on 03-02 (on android: any event counts) and 03-08; b on 03-02 twice,
    in two segments (one return); c never; d on 03-03. e (web) was first written
    on 03-03 and moved to the 03-01 cohort by a late event (below, in a later batch).
    z was first seen before the range and is active on every day of it.
    """
    store.write(
        event(game, "design", "z", "2026-02-27T10:00:00", platform="ios"),
        event(game, "design", "a", "2026-03-01T10:00:00", platform="ios"),
        event(game, "design", "b", "2026-03-01T11:00:00", platform="android"),
        event(game, "design", "c", "2026-03-01T23:59:59", platform="ios"),
        event(game, "design", "d", "2026-03-02T00:00:00", platform="ios"),
        event(game, "design", "a", "2026-03-02T09:00:00", platform="android"),
        event(game, "design", "b", "2026-03-02T09:00:00", platform="android"),
        event(game, "design", "b", "2026-03-02T10:00:00", platform="android", country="DE"),
        event(game, "design", "d", "2026-03-03T05:00:00", platform="ios"),
        event(game, "design", "e", "2026-03-03T05:00:00", platform="web"),
        event(game, "design", "a", "2026-03-08T23:00:00", platform="ios"),
        *(
            event(game, "design", "z", f"2026-03-0{d}T12:00:00", platform="ios")
            for d in range(1, 10)
        ),
    )
    store.write(event(game, "design", "e", "2026-03-01T00:00:00", platform="web"))


async def test_cohorts_sizes_returns_and_points_up_to_today(
    store: Store, game: uuid.UUID, conn: Conn
) -> None:
    write_cohorts(store, game)
    got = await retention(conn, game, D(2026, 3, 1), D(2026, 3, 4), [1, 2, 7, 30], ANY_SEGMENT,
                          today=D(2026, 3, 8))  # fmt: skip
    assert table(got) == [
        # a, b, c and e (moved here by its late event); 30 days later is after today
        (D(2026, 3, 1), 4, [(1, 2, 0.5), (2, 1, 0.25), (7, 1, 0.25)]),
        (D(2026, 3, 2), 1, [(1, 1, 1.0), (2, 0, 0.0)]),  # 03-09 is after today
        # e no longer belongs here; an empty cohort has rate 0
        (D(2026, 3, 3), 0, [(1, 0, 0.0), (2, 0, 0.0)]),
        (D(2026, 3, 4), 0, [(1, 0, 0.0), (2, 0, 0.0)]),
    ]


async def test_filter_on_acquisition_days_order_and_day_zero(
    store: Store, game: uuid.UUID, conn: Conn
) -> None:
    write_cohorts(store, game)
    ios = await retention(conn, game, D(2026, 3, 1), D(2026, 3, 2), [7, 0, 1],
                          Segment(platform="ios"), today=D(2026, 12, 31))  # fmt: skip
    # a and c (ios); a's return on android counts: retention filters on acquisition only
    assert table(ios) == [
        (D(2026, 3, 1), 2, [(7, 1, 0.5), (0, 2, 1.0), (1, 1, 0.5)]),
        (D(2026, 3, 2), 1, [(7, 0, 0.0), (0, 1, 1.0), (1, 1, 1.0)]),
    ]
    android = await retention(conn, game, D(2026, 3, 1), D(2026, 3, 1), [1],
                              Segment(platform="android"), today=D(2026, 12, 31))  # fmt: skip
    assert table(android) == [(D(2026, 3, 1), 1, [(1, 1, 1.0)])]
    web = await retention(conn, game, D(2026, 3, 1), D(2026, 3, 3), [2],
                          Segment(platform="web", country=""), today=D(2026, 12, 31))  # fmt: skip
    assert table(web) == [
        (D(2026, 3, 1), 1, [(2, 1, 1.0)]),
        (D(2026, 3, 2), 0, [(2, 0, 0.0)]),
        (D(2026, 3, 3), 0, [(2, 0, 0.0)]),
    ]


async def test_nothing_after_today(store: Store, game: uuid.UUID, conn: Conn) -> None:
    write_cohorts(store, game)
    got = await retention(conn, game, D(2026, 3, 1), D(2026, 3, 3), [0, 1], ANY_SEGMENT,
                          today=D(2026, 3, 2))  # fmt: skip
    assert table(got) == [
        (D(2026, 3, 1), 4, [(0, 4, 1.0), (1, 2, 0.5)]),
        (D(2026, 3, 2), 1, [(0, 1, 1.0)]),
        (D(2026, 3, 3), 0, []),
    ]
