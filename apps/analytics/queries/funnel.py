"""funnel: how many players reach each step, from raw events.

A player reaches step k when they have distinct events e1..ek of the step
types, in non-decreasing time order (equal times allowed), e1 on a day in
[first, last], and every later step within `window_seconds` of e1. Events
count only when they match the segment filter (their own attributes); later
steps may fall after `last`.

The database reads only the events of the step types in [first 00:00,
last + 1 day + window) for the game and sends one row per player who has a
step-1 event in [first, last]: that player's times of each step type. Days of
that span that only the archive holds (apps/analytics/queries/archived.py) are
read from it with the same filters, grouped the same way, and merged per player
with PostgreSQL's rows (a player's chain may cross from archived days into
PostgreSQL's): a player with a step-1 event in the archive is sent by
PostgreSQL too. The rest is `reached` per player, in Python: for each step-1
event, the greedy chain that takes at every step the earliest unused event at
or after the previous one. Taking the earliest is never worse (any chain can
be rewritten to use it), so the best chain over all step-1 events is the
deepest step the player reaches. A later step-1 event can go further than
an earlier one (its window ends later).
"""

import uuid
from bisect import bisect_left
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final

import pyarrow as pa
import pyarrow.compute as pc
from psycopg import sql
from psycopg.rows import tuple_row

from apps.analytics.queries import archived
from apps.analytics.queries.archived import Archive
from apps.analytics.queries.common import Conn, segment_condition
from apps.analytics.results import FunnelStep, ratio
from apps.core.errors import GameMetricsError
from apps.core.periods import Segment

MAX_FUNNEL_EVENTS: Final = 5_000_000
"""Most step events one funnel reads (a 7-day funnel of the benchmark reads about 410,000):
beyond it the answer would take too long and too much memory, and is refused."""
_CHUNK: Final = 20_000
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


# One row per player with a step-1 event that may start a chain: per step type, the times
# of the player's events of that type, in microseconds since `origin`. Grouping in the
# database makes Python's work and memory per player rather than per event: on the
# analytics benchmark's 7-day funnel (apps/bench/experiments/funnel_ab.py against
# 222b8e7), p50 703 -> 657 ms, p95 992 -> 892 ms; PostgreSQL's aggregation (serial in a
# server-side cursor) is now most of it. The arrays' order is not guaranteed
# without an ORDER BY, which would make PostgreSQL sort each group: Python sorts them
# (already sorted, as they usually are, that is a single pass in C). Exact: at most 490
# days (range + window) is 4.2e13 microseconds, far below 2^53, so the float8 of
# date_part rounds back to the exact microsecond.
_PLAYERS = """
SELECT player_id, {arrays}
FROM (SELECT player_id, array_position(%(types)s::text[], event_type) - 1 AS k,
             (date_part('epoch', event_time - %(origin)s) * 1000000)::int8 AS t
      FROM events
      WHERE game_id = %(game)s AND event_type = ANY(%(types)s::text[])
        AND event_time >= %(origin)s AND event_time < %(end)s{segment}) e
GROUP BY player_id
HAVING bool_or(k = %(first)s AND t < %(start_limit)s){also}
"""
_ALSO = " OR player_id = ANY(%(also)s::text[])"
"""The players whose step-1 event is on an archived day."""
_ARRAY = "array_agg(t) FILTER (WHERE k = {k})"


async def funnel(
    conn: Conn, game_id: uuid.UUID, first: date, last: date, steps: Sequence[str],
    window_seconds: int, segment: Segment, archive: Archive | None = None,
) -> list[FunnelStep]:  # fmt: skip
    """One FunnelStep per step, in order. Step 1's conversions are 1.0 (0.0 with no users).

    Reads the players through a server-side cursor, in chunks, inside a transaction (a
    savepoint if the caller opened one), and the archived days of the span from
    `archive` (None: no archive configured, today's expiry); raises FunnelTooLarge past
    MAX_FUNNEL_EVENTS (events of both), ArchiveReadError naming a day it cannot read.
    """
    types = list(dict.fromkeys(steps))
    if len(types) >= 16 or last - first + timedelta(seconds=window_seconds) > _EXACT_SPAN:
        raise ValueError("funnel arguments past the limits the caller must check (periods)")
    origin = datetime.combine(first, time(), tzinfo=UTC)
    starts_before = datetime.combine(last + timedelta(days=1), time(), tzinfo=UTC)
    start_limit = (starts_before - origin) // timedelta(microseconds=1)
    step_codes = [types.index(s) for s in steps]
    end = starts_before + timedelta(seconds=window_seconds)
    archive = archive or Archive(None, archived.today())
    days = await archive.days(conn, game_id, first, archived.last_day(end))
    from_archive: dict[str, list[list[int]]] = {}
    if days:
        from_archive = _grouped(
            await archive.read(
                game_id, days, ["player_id", "event_type", "event_time"],
                archived.all_of(
                    archived.of_types(types), archived.in_time(origin, end),
                    archived.in_segment(segment),
                ),
            ),
            types, origin,
        )  # fmt: skip
    starters = [
        p for p, lists in from_archive.items() if _starts(lists[step_codes[0]], start_limit)
    ]
    condition, params = segment_condition(segment, nullable=True)
    arrays = sql.SQL(", ").join(sql.SQL(_ARRAY.format(k=k)) for k in range(len(types)))
    also = sql.SQL(_ALSO if starters else "")
    query = sql.SQL(_PLAYERS).format(arrays=arrays, segment=condition, also=also)
    args: dict[str, Any] = {
        "game": game_id, "types": types, "origin": origin, "first": step_codes[0],
        "start_limit": start_limit, "end": end, "also": starters, **params,
    }  # fmt: skip
    window = window_seconds * _MICROS
    reached = [0] * (len(steps) + 1)
    nothing: list[int] = []
    read = 0
    async with (
        conn.transaction(),
        conn.cursor("funnel_players", binary=True, row_factory=tuple_row) as cur,
    ):
        await cur.execute(query, args)
        while rows := await cur.fetchmany(_CHUNK):
            for player, *of_type in rows:
                earlier = from_archive.pop(player, None)
                lists: list[list[int]] = []
                for k, times in enumerate(of_type):
                    if earlier is not None and earlier[k]:
                        times = (times or []) + earlier[k]
                    if times is None:
                        lists.append(nothing)
                    else:
                        times.sort()
                        read += len(times)
                        lists.append(times)
                reached[deepest(lists, step_codes, start_limit, window)] += 1
            if read > MAX_FUNNEL_EVENTS:
                raise FunnelTooLarge
    for lists in from_archive.values():  # players PostgreSQL holds no step event of
        if _starts(lists[step_codes[0]], start_limit):
            read += sum(len(times) for times in lists)
            reached[deepest(lists, step_codes, start_limit, window)] += 1
    if read > MAX_FUNNEL_EVENTS:
        raise FunnelTooLarge
    return _steps(steps, reached)


def _starts(firsts: Sequence[int], start_limit: int) -> bool:
    """Whether a player's step-1 times (ascending) hold one that may start a chain."""
    return bool(firsts) and firsts[0] < start_limit


def _grouped(rows: pa.Table, types: Sequence[str], origin: datetime) -> dict[str, list[list[int]]]:
    """Archived rows as PostgreSQL groups them: per player, per step type, the ascending
    times in microseconds since `origin`."""
    # A memory bound on the archived rows held at once; the limit itself is checked on the
    # events counted (those of players with a step-1 event), as PostgreSQL's are.
    if rows.num_rows > 2 * MAX_FUNNEL_EVENTS:
        raise FunnelTooLarge
    t = pc.subtract(archived.micros(rows.column("event_time")), archived.micros_of(origin))
    k = pc.index_in(rows.column("event_type"), value_set=pa.array(list(types), pa.string()))
    groups = (
        pa.table({"player": rows.column("player_id"), "k": k, "t": t})
        .group_by(["player", "k"])
        .aggregate([("t", "list")])
    )
    out: dict[str, list[list[int]]] = {}
    for player, typ, times in zip(
        groups.column("player").to_pylist(), groups.column("k").to_pylist(),
        groups.column("t_list").to_pylist(), strict=True,
    ):  # fmt: skip
        lists = out.get(player)
        if lists is None:
            lists = out[player] = [[] for _ in types]
        times.sort()
        lists[typ] = times
    return out


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
