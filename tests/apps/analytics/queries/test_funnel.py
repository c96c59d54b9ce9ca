"""funnel: distinct events in non-decreasing time, within the window of a step-1 event."""

import importlib
import uuid
from datetime import date, datetime, timedelta
from typing import Any

import psycopg
import pytest

from apps.analytics.queries import FunnelTooLarge, funnel
from apps.analytics.queries.funnel import deepest
from apps.analytics.results import FunnelStep
from apps.core.periods import ANY_SEGMENT, Segment
from tests.apps.analytics.queries.conftest import Store
from tests.apps.analytics.queries.rows import Attrs, at, event

Conn = psycopg.AsyncConnection[Any]
D = date
# the module (the package exports its function under the same name)
funnel_module = importlib.import_module("apps.analytics.queries.funnel")
T = at("2026-03-10T12:00:00")
HOUR = 3600


def counts(steps: list[FunnelStep]) -> list[tuple[str, int]]:
    return [(s.step, s.users) for s in steps]


def s(seconds: float) -> datetime:
    return T + timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("lists", "steps", "window", "depth"),
    [
        ([[0], [5], [9]], [0, 1, 2], 10, 3),
        ([[0], [5], [11]], [0, 1, 2], 10, 2),  # the third step is past the window
        ([[0], [10], [10]], [0, 1, 2], 10, 3),  # exactly at the window's end counts
        ([[3], [3], [3]], [0, 1, 2], 0, 3),  # equal times, window 0
        ([[5], [4], []], [0, 1, 2], 10, 1),  # step 2 before step 1
        ([[], [1], [2]], [0, 1, 2], 10, 0),  # no step 1
        ([[0, 100], [105], [106]], [0, 1, 2], 10, 3),  # the later step-1 event succeeds
        ([[0], [1]], [0, 0, 1], 10, 1),  # a repeated type needs another event
        ([[0, 0], [0]], [0, 0, 1], 0, 3),  # ... which may have the same time
        ([[0, 5], [3]], [0, 0, 1], 10, 2),  # the 2nd "a" is at 5, "b" at 3 is too early
        ([[0, 5], [3, 7]], [0, 1, 0, 1], 10, 4),  # a b a b
        ([[0], [3, 7]], [0, 1, 0, 1], 10, 2),
        # greedy takes the earliest step-2 event: b@2, then c@4 (not b@8 then nothing)
        ([[0], [2, 8], [4]], [0, 1, 2], 10, 3),
        # exhausted at step 3 from the first start; a later start cannot go further
        ([[0, 1, 2], [5], []], [0, 1, 2], 10, 2),
    ],
)
def test_deepest(lists: list[list[int]], steps: list[int], window: int, depth: int) -> None:
    assert deepest(lists, steps, 1000, window) == depth


def test_deepest_starts_only_before_the_limit() -> None:
    assert deepest([[0, 25], [26]], [0, 1], 25, 10) == 1  # the a at 25 may not start
    assert deepest([[0, 25], [26]], [0, 1], 26, 10) == 2


@pytest.mark.anyio
async def test_funnel_by_hand(store: Store, endpoints: object, conn: Conn) -> None:
    game = uuid.uuid4()
    rows = [
        # p1 a b c; p2 a b; p3 a; p4 b c without a: 0
        *(event(game, t, "p1", s(i)) for i, t in enumerate("abc")),
        event(game, "a", "p2", s(0)), event(game, "b", "p2", s(HOUR)),
        event(game, "a", "p3", s(0)),
        event(game, "b", "p4", s(0)), event(game, "c", "p4", s(1)),
        # p5: b exactly at the window's end and c too: 3; p6: b 1 µs past it: 1
        event(game, "a", "p5", s(0)), event(game, "b", "p5", s(HOUR)),
        event(game, "c", "p5", s(HOUR)),
        event(game, "a", "p6", s(0)), event(game, "b", "p6", s(HOUR + 1e-6)),
        # p7: all at the same time: 3; p8: b before a, then c: 1
        *(event(game, t, "p7", s(0)) for t in "cba"),
        event(game, "b", "p8", s(0)), event(game, "a", "p8", s(1)), event(game, "c", "p8", s(2)),
        # p9: an a whose window ends before b, then an a whose window holds b and c: 3
        event(game, "a", "p9", s(-3 * HOUR)), event(game, "a", "p9", s(0)),
        event(game, "b", "p9", s(5)), event(game, "c", "p9", s(10)),
        # p10: a the day before `first`, b and c in range: 0 (step 1 must be in range)
        event(game, "a", "p10", at("2026-03-08T23:59:59.999999")),
        event(game, "b", "p10", at("2026-03-09T00:00:00")),
        # p11: a on `last` at 23:59:59, b and c after `last` within the window: 3
        event(game, "a", "p11", at("2026-03-11T23:59:59")),
        event(game, "b", "p11", at("2026-03-12T00:30:00")),
        event(game, "c", "p11", at("2026-03-12T00:59:59")),
        # p12: a on the day after `last`: 0
        event(game, "a", "p12", at("2026-03-12T00:00:00")),
        event(game, "b", "p12", at("2026-03-12T00:00:01")),
        # other types and another game change nothing
        event(game, "design", "p3", s(1)),
        event(uuid.uuid4(), "b", "p3", s(2)),
        event(uuid.uuid4(), "c", "p3", s(3)),
    ]  # fmt: skip
    store.write(*rows)
    got = await funnel(conn, game, D(2026, 3, 9), D(2026, 3, 11), ["a", "b", "c"], HOUR,
                       ANY_SEGMENT)  # fmt: skip
    # reached a: p1 p2 p3 p5 p6 p7 p8 p9 p11 = 9; b: p1 p2 p5 p7 p9 p11 = 6;
    # c: p1 p5 p7 p9 p11 = 5 (p2 has no c)
    assert counts(got) == [("a", 9), ("b", 6), ("c", 5)]
    assert [x.conversion_from_start for x in got] == pytest.approx([1.0, 6 / 9, 5 / 9])
    assert [x.conversion_from_previous for x in got] == pytest.approx([1.0, 6 / 9, 5 / 6])
    # with a one-minute window, p2, p5 and p11 stop at a
    short = await funnel(conn, game, D(2026, 3, 9), D(2026, 3, 11), ["a", "b", "c"], 60,
                         ANY_SEGMENT)  # fmt: skip
    assert counts(short) == [("a", 9), ("b", 3), ("c", 3)]  # p1, p7, p9
    only_a = await funnel(conn, game, D(2026, 3, 10), D(2026, 3, 10), ["a"], 0, ANY_SEGMENT)
    assert [(x.step, x.users, x.conversion_from_start) for x in only_a] == [("a", 8, 1.0)]
    nobody = await funnel(conn, game, D(2026, 4, 1), D(2026, 4, 2), ["a", "b"], HOUR,
                          ANY_SEGMENT)  # fmt: skip
    assert [(x.users, x.conversion_from_start, x.conversion_from_previous) for x in nobody] == [
        (0, 0.0, 0.0), (0, 0.0, 0.0),
    ]  # fmt: skip


@pytest.mark.anyio
async def test_funnel_repeated_types_and_filter(store: Store, conn: Conn) -> None:
    game = uuid.uuid4()
    ios: Attrs = {"platform": "ios"}
    store.write(
        # q1: a only once: a, a, b needs two: 1
        event(game, "a", "q1", s(0), **ios), event(game, "b", "q1", s(1), **ios),
        # q2: two a at the same time and b at that time too: 3
        event(game, "a", "q2", s(0), **ios), event(game, "a", "q2", s(0), **ios),
        event(game, "b", "q2", s(0), **ios),
        # q3: a, b, a: the second a is after b: 2
        event(game, "a", "q3", s(0), **ios), event(game, "b", "q3", s(1), **ios),
        event(game, "a", "q3", s(2), **ios),
        # q4: its second a is on android: with the ios filter it does not count
        event(game, "a", "q4", s(0), **ios), event(game, "a", "q4", s(1), platform="android"),
        event(game, "b", "q4", s(2), **ios),
        # q5: no platform at all: matches only ""
        event(game, "a", "q5", s(0)), event(game, "a", "q5", s(1)), event(game, "b", "q5", s(2)),
    )  # fmt: skip
    first = last = D(2026, 3, 10)
    everyone = await funnel(conn, game, first, last, ["a", "a", "b"], 10, ANY_SEGMENT)
    assert counts(everyone) == [("a", 5), ("a", 4), ("b", 3)]  # q2 q4 q5 reach b
    ios_only = await funnel(conn, game, first, last, ["a", "a", "b"], 10, Segment(platform="ios"))
    assert counts(ios_only) == [("a", 4), ("a", 2), ("b", 1)]  # q2 and q3 reach a twice
    blank = await funnel(conn, game, first, last, ["a", "a", "b"], 10, Segment(platform=""))
    assert counts(blank) == [("a", 1), ("a", 1), ("b", 1)]
    aba = await funnel(conn, game, first, last, ["a", "b", "a"], 10, ANY_SEGMENT)
    # q2: a b a at one time; q3: a b a; q4: a, a(1), b(2) has no a after b
    assert counts(aba) == [("a", 5), ("b", 5), ("a", 2)]


@pytest.mark.anyio
async def test_funnel_in_a_callers_transaction_and_its_event_limit(
    store: Store, conn: Conn, monkeypatch: pytest.MonkeyPatch
) -> None:
    game = uuid.uuid4()
    store.write(*(event(game, "a", f"r{i}", s(i)) for i in range(5)), event(game, "b", "r0", s(9)))
    first = last = D(2026, 3, 10)
    async with conn.transaction():  # the funnel runs in a savepoint of it
        got = await funnel(conn, game, first, last, ["a", "b"], 60, ANY_SEGMENT)
        assert counts(got) == [("a", 5), ("b", 1)]
    monkeypatch.setattr(funnel_module, "_CHUNK", 2)
    monkeypatch.setattr(funnel_module, "MAX_FUNNEL_EVENTS", 6)
    got = await funnel(conn, game, first, last, ["a", "b"], 60, ANY_SEGMENT)
    assert counts(got) == [("a", 5), ("b", 1)]
    monkeypatch.setattr(funnel_module, "MAX_FUNNEL_EVENTS", 5)
    with pytest.raises(FunnelTooLarge, match="exceed 5;"):
        await funnel(conn, game, first, last, ["a", "b"], 60, ANY_SEGMENT)
    # the connection is usable afterwards (the cursor's transaction was rolled back)
    got = await funnel(conn, game, first, last, ["a"], 60, ANY_SEGMENT)
    assert counts(got) == [("a", 5)]
