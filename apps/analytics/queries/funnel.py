"""funnel: how many players reach each step, from raw events.

A player reaches step k when they have distinct events e1..ek of the step
types, in non-decreasing time order (equal times allowed), e1 on a day in
[first, last], and every later step within `window_seconds` of e1. Events
count only when they match the segment filter (their own attributes); later
steps may fall after `last`.

The database sends only the events of the step types in [first 00:00,
last + 1 day + window) for the game; the rest is `reached` per player, in
Python: for each step-1 event, the greedy chain that takes at every step the
earliest unused event at or after the previous one. Taking the earliest is
never worse (any chain can be rewritten to use it), so the best chain over
all step-1 events is the deepest step the player reaches. A later step-1
event can go further than an earlier one (its window ends later).
"""

import uuid
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final

from psycopg import sql
from psycopg.rows import tuple_row

from apps.analytics.queries.common import Conn, segment_condition
from apps.analytics.results import FunnelStep, ratio
from apps.core.errors import GameMetricsError
from apps.core.periods import Segment

MAX_FUNNEL_EVENTS: Final = 5_000_000
"""Most step events one funnel reads (a 7-day funnel of the benchmark reads about 410,000):
beyond it the answer would take too long and too much memory, and is refused."""
_CHUNK: Final = 200_000
_MICROS: Final = 1_000_000
_EXACT_SPAN: Final = timedelta(days=1000)
"""Times are exact in the query's encoding up to about 12 years; the limits allow 490 days."""


class FunnelTooLarge(GameMetricsError):
    """The funnel would read more than MAX_FUNNEL_EVENTS events."""

    def __init__(self) -> None:
        super().__init__(
            f"funnel: the steps' events in this range exceed {MAX_FUNNEL_EVENTS:,}; ask for a"
            " shorter range or window, fewer step types or a narrower filter"
        )
        self.limit = MAX_FUNNEL_EVENTS


# One int8 per event: microseconds since `origin` times 16, plus the index of its type in
# the distinct step types (< 16). Two columns instead of three: 20% faster end to end.
# Exact: at most 490 days (range + window) is 6.8e14 units, below 2^53, so the float8 of
# date_part is off by less than 0.1 unit and rounds back to the exact multiple of 16.
_EVENTS = """
SELECT player_id, (date_part('epoch', event_time - %(origin)s) * 16000000)::int8
                  + array_position(%(types)s::text[], event_type) - 1
FROM events
WHERE game_id = %(game)s AND event_type = ANY(%(types)s::text[])
  AND event_time >= %(origin)s AND event_time < %(end)s{segment}
"""


async def funnel(
    conn: Conn, game_id: uuid.UUID, first: date, last: date, steps: Sequence[str],
    window_seconds: int, segment: Segment,
) -> list[FunnelStep]:  # fmt: skip
    """One FunnelStep per step, in order. Step 1's conversions are 1.0 (0.0 with no users).

    Reads the events through a server-side cursor, in chunks, inside a transaction (a
    savepoint if the caller opened one); raises FunnelTooLarge past MAX_FUNNEL_EVENTS.
    """
    types = list(dict.fromkeys(steps))
    if len(types) >= 16 or last - first + timedelta(seconds=window_seconds) > _EXACT_SPAN:
        raise ValueError("funnel arguments past the limits the caller must check (periods)")
    origin = datetime.combine(first, time(), tzinfo=UTC)
    starts_before = datetime.combine(last + timedelta(days=1), time(), tzinfo=UTC)
    condition, params = segment_condition(segment, nullable=True)
    query = sql.SQL(_EVENTS).format(segment=condition)
    args: dict[str, Any] = {
        "game": game_id, "types": types, "origin": origin,
        "end": starts_before + timedelta(seconds=window_seconds), **params,
    }  # fmt: skip
    # Per type, each player's times: one dictionary step per row, the cheapest grouping
    # measured (about twice as fast as a list of per-type lists per player).
    by_type: list[defaultdict[str, list[int]]] = [defaultdict(list) for _ in types]
    read = 0
    async with (
        conn.transaction(),
        conn.cursor("funnel_events", binary=True, row_factory=tuple_row) as cur,
    ):
        await cur.execute(query, args)
        while rows := await cur.fetchmany(_CHUNK):
            read += len(rows)
            if read > MAX_FUNNEL_EVENTS:
                raise FunnelTooLarge
            for player, value in rows:
                by_type[value & 15][player].append(value >> 4)
    step_codes = [types.index(s) for s in steps]
    start_limit = (starts_before - origin) // timedelta(microseconds=1)
    reached = [0] * (len(steps) + 1)
    nothing: list[int] = []
    for player in by_type[step_codes[0]]:  # only players with a step-1 event can start
        lists = [of_type.get(player, nothing) for of_type in by_type]
        for times in lists:
            times.sort()
        reached[deepest(lists, step_codes, start_limit, window_seconds * _MICROS)] += 1
    return _steps(steps, reached)


def deepest(lists: Sequence[Sequence[int]], steps: Sequence[int], start_limit: int,
            window: int) -> int:  # fmt: skip
    """How many steps one player reaches (0 to len(steps)).

    `lists[t]` holds the player's event times of type t, ascending; `steps` the
    type of each step; step 1's event must be before `start_limit`, and every
    later one at most `window` after it.
    """
    m = len(steps)
    repeats = len(set(steps)) < m
    best = 0
    firsts = lists[steps[0]]
    for i0, t0 in enumerate(firsts):
        if t0 >= start_limit:
            break
        used = {(steps[0], i0)} if repeats else None
        depth, t, deadline, exhausted = 1, t0, t0 + window, False
        for k in range(1, m):
            typ = steps[k]
            times = lists[typ]
            i = bisect_left(times, t)
            if used is not None:
                while (typ, i) in used:
                    i += 1
            if i >= len(times):
                exhausted = True
                break
            if times[i] > deadline:
                break
            if used is not None:
                used.add((typ, i))
            t = times[i]
            depth += 1
        best = max(best, depth)
        # Without repeated types a later start's chain is never earlier, so once a step ran
        # out of events no later start gets past it.
        if best == m or (exhausted and not repeats):
            break
    return best


def _steps(steps: Sequence[str], reached: Sequence[int]) -> list[FunnelStep]:
    """Players reaching step k = those whose deepest step is k or more."""
    users = [sum(reached[k:]) for k in range(1, len(steps) + 1)]
    out: list[FunnelStep] = []
    for k, step in enumerate(steps):
        previous = users[k - 1] if k else users[0]
        out.append(FunnelStep(step, users[k], ratio(users[k], users[0]), ratio(users[k], previous)))
    return out
