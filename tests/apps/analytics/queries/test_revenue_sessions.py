"""revenue (several currencies, ARPDAU, ARPPU) and sessions, by hand."""

import uuid
from datetime import date
from typing import Any

import psycopg
import pytest

from apps.analytics.queries import UnknownCurrency, revenue, sessions
from apps.analytics.results import RevenuePoint, SessionPoint
from apps.core.currency import USD_PER_UNIT
from apps.core.periods import ANY_SEGMENT, Granularity, Segment
from tests.apps.analytics.queries.conftest import Store
from tests.apps.analytics.queries.rows import Attrs, event

pytestmark = pytest.mark.anyio
Conn = psycopg.AsyncConnection[Any]
D = date
DAY, WEEK, MONTH = Granularity.DAY, Granularity.WEEK, Granularity.MONTH
RATES = {"USD": 1.0, "EUR": 1.1, "JPY": 0.01, "GBP": 1.25}
US: Attrs = {"platform": "ios", "country": "US"}


def write_purchases(store: Store, game: uuid.UUID) -> None:
    """03-30 (a Monday): p1 pays 10 EUR + 5 USD, p2 1000 JPY, p3 only plays: 26 USD, 3 active.
    03-31: p1 pays 2 GBP from GB, p4 plays: 2.5 USD, 2 active. 04-01: nothing."""
    store.write(
        event(game, "purchase", "p1", "2026-03-30T10:00:00", amount=10.0, currency="EUR", **US),
        event(game, "purchase", "p1", "2026-03-30T11:00:00", amount=5.0, currency="USD", **US),
        event(game, "purchase", "p2", "2026-03-30T12:00:00", amount=1000.0, currency="JPY", **US),
        event(game, "design", "p3", "2026-03-30T12:00:00", **US),
        event(game, "purchase", "p1", "2026-03-31T10:00:00", amount=2.0, currency="GBP",
              platform="ios", country="GB"),
        event(game, "design", "p4", "2026-03-31T12:00:00", **US),
    )  # fmt: skip


def point(p: RevenuePoint) -> tuple[object, ...]:
    return (p.bucket, p.revenue_usd, p.paying_users, p.purchases, p.arpdau, p.arppu)


async def test_revenue_per_day_converts_each_currency(
    store: Store, game: uuid.UUID, conn: Conn
) -> None:
    write_purchases(store, game)
    got = await revenue(conn, game, D(2026, 3, 30), D(2026, 4, 1), DAY, ANY_SEGMENT, RATES)
    assert [point(p) for p in got] == [
        (D(2026, 3, 30), pytest.approx(26.0), 2, 3, pytest.approx(26.0 / 3), pytest.approx(13.0)),
        (D(2026, 3, 31), pytest.approx(2.5), 1, 1, pytest.approx(1.25), pytest.approx(2.5)),
        (D(2026, 4, 1), 0.0, 0, 0, 0.0, 0.0),
    ]
    shipped = await revenue(conn, game, D(2026, 3, 30), D(2026, 3, 30), DAY, ANY_SEGMENT,
                            USD_PER_UNIT)  # fmt: skip
    expected = 10 * USD_PER_UNIT["EUR"] + 5.0 + 1000 * USD_PER_UNIT["JPY"]
    assert shipped[0].revenue_usd == pytest.approx(expected, rel=1e-12)


async def test_revenue_week_month_and_filters(store: Store, game: uuid.UUID, conn: Conn) -> None:
    write_purchases(store, game)
    week = await revenue(conn, game, D(2026, 3, 29), D(2026, 4, 1), WEEK, ANY_SEGMENT, RATES)
    # ARPDAU's divisor is the sum of daily active users over the bucket's days in range: 3 + 2
    assert [point(p) for p in week] == [
        (D(2026, 3, 23), 0.0, 0, 0, 0.0, 0.0),
        (D(2026, 3, 30), pytest.approx(28.5), 2, 4, pytest.approx(28.5 / 5), pytest.approx(14.25)),
    ]
    month = await revenue(conn, game, D(2026, 3, 31), D(2026, 4, 1), MONTH, ANY_SEGMENT, RATES)
    assert [point(p) for p in month] == [
        (D(2026, 3, 1), pytest.approx(2.5), 1, 1, pytest.approx(1.25), pytest.approx(2.5)),
        (D(2026, 4, 1), 0.0, 0, 0, 0.0, 0.0),
    ]
    gb = await revenue(conn, game, D(2026, 3, 30), D(2026, 3, 31), DAY, Segment(country="GB"),
                       RATES)  # fmt: skip
    # p1 is active in GB only through the purchase on 03-31
    assert [point(p) for p in gb] == [
        (D(2026, 3, 30), 0.0, 0, 0, 0.0, 0.0),
        (D(2026, 3, 31), pytest.approx(2.5), 1, 1, pytest.approx(2.5), pytest.approx(2.5)),
    ]
    us = await revenue(conn, game, D(2026, 3, 30), D(2026, 3, 31), WEEK, Segment(country="US"),
                       RATES)  # fmt: skip
    # 26 USD; active US player-days: 3 on 03-30, 1 (p4) on 03-31
    assert [point(p) for p in us] == [
        (D(2026, 3, 30), pytest.approx(26.0), 2, 3, pytest.approx(26.0 / 4), pytest.approx(13.0)),
    ]


async def test_revenue_refuses_a_currency_without_rate(
    store: Store, game: uuid.UUID, conn: Conn
) -> None:
    write_purchases(store, game)
    rates = {k: v for k, v in RATES.items() if k != "JPY"}
    with pytest.raises(UnknownCurrency, match="JPY"):
        await revenue(conn, game, D(2026, 3, 30), D(2026, 3, 30), DAY, ANY_SEGMENT, rates)


def session(p: SessionPoint) -> tuple[object, ...]:
    return (p.bucket, p.sessions, p.players, p.avg_length_seconds)


async def test_sessions_count_session_end_events(store: Store, game: uuid.UUID, conn: Conn) -> None:
    """03-30: p1 two sessions (100 s, 200 s, the second from GB), p2 one (60 s), p3 only
    started one. 04-02: p2 one session of 0.5 s without platform."""
    store.write(
        event(game, "session_start", "p1", "2026-03-30T10:00:00", **US),
        event(game, "session_end", "p1", "2026-03-30T10:01:40", duration=100.0, **US),
        event(game, "session_end", "p1", "2026-03-30T11:00:00", duration=200.0,
              platform="ios", country="GB"),
        event(game, "session_end", "p2", "2026-03-30T23:59:59", duration=60.0, **US),
        event(game, "session_start", "p3", "2026-03-30T10:00:00", **US),
        event(game, "session_end", "p2", "2026-04-02T00:00:00", duration=0.5),
    )  # fmt: skip
    got = await sessions(conn, game, D(2026, 3, 29), D(2026, 4, 2), DAY, ANY_SEGMENT)
    assert [session(p) for p in got] == [
        (D(2026, 3, 29), 0, 0, 0.0),
        (D(2026, 3, 30), 3, 2, pytest.approx(120.0)),
        (D(2026, 3, 31), 0, 0, 0.0),
        (D(2026, 4, 1), 0, 0, 0.0),
        (D(2026, 4, 2), 1, 1, pytest.approx(0.5)),
    ]
    week = await sessions(conn, game, D(2026, 3, 29), D(2026, 4, 2), WEEK, ANY_SEGMENT)
    assert [session(p) for p in week] == [
        (D(2026, 3, 23), 0, 0, 0.0),
        (D(2026, 3, 30), 4, 2, pytest.approx(360.5 / 4)),
    ]
    us = await sessions(conn, game, D(2026, 3, 30), D(2026, 4, 2), MONTH, Segment(country="US"))
    assert [session(p) for p in us] == [
        (D(2026, 3, 1), 2, 2, pytest.approx(80.0)),
        (D(2026, 4, 1), 0, 0, 0.0),
    ]
    blank = await sessions(conn, game, D(2026, 4, 2), D(2026, 4, 2), DAY, Segment(platform=""))
    assert [session(p) for p in blank] == [(D(2026, 4, 2), 1, 1, pytest.approx(0.5))]
