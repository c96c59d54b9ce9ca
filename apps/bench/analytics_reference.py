"""The analytics metrics computed by plain SQL over the raw `events` table (no rollups).

The benchmark's yardstick: the same answers as `apps.analytics.queries`, in the
same result types, written the way one would without the rollups, so the
benchmark can check the query layer against them and print the speed-up. Every
metric reads `events` only; buckets come from `generate_series`. A filter
matches each event's own attributes, except for newUsers and retention,
which filter on the player's first event (ties: the smallest event id), as
the contract says. Funnel steps must be distinct event types here.
"""

import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import fields, is_dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final

import psycopg
from psycopg import sql

from apps.analytics.results import (
    Cohort,
    EventCount,
    FunnelStep,
    LiveStats,
    RetentionPoint,
    RevenuePoint,
    SessionPoint,
    TimeValue,
    ratio,
)
from apps.core.periods import BUCKET_WIDTH, Bucket, Granularity, Segment

Conn = psycopg.AsyncConnection[Any]
_Rows = list[tuple[Any, ...]]
REL_TOLERANCE: Final = 1e-9

_DAY: Final = sql.SQL("(event_time AT TIME ZONE 'UTC')::date")
_E_DAY: Final = sql.SQL("(e.event_time AT TIME ZONE 'UTC')::date")
_UNIT: Final = {Granularity.DAY: "day", Granularity.WEEK: "week", Granularity.MONTH: "month"}
_ORIGIN: Final = datetime(2000, 1, 1, tzinfo=UTC)


def _start(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


def _bucket(day: sql.Composable, granularity: Granularity) -> sql.Composable:
    """The first day of the bucket of the `date` expression `day` (ISO weeks start Monday)."""
    return sql.SQL("date_trunc({}, ({})::timestamp)::date").format(
        sql.Literal(_UNIT[granularity]), day
    )


def _series(granularity: Granularity) -> sql.Composable:
    """Every bucket touching [%(first)s, %(last)s], as rows of `bucket date`."""
    unit = sql.Literal(_UNIT[granularity])
    return sql.SQL(
        "SELECT generate_series(date_trunc({u}, %(first)s::timestamp), %(last)s::timestamp,"
        " ('1 ' || {u})::interval)::date AS bucket"
    ).format(u=unit)


def _segment(segment: Segment, alias: str = "") -> tuple[sql.Composable, dict[str, str]]:
    """` AND coalesce(col, '') = %(col)s` per attribute the segment sets (NULL stored as '')."""
    parts: list[sql.Composable] = []
    params: dict[str, str] = {}
    for column in ("platform", "country", "app_version"):
        value = getattr(segment, column)
        if value is not None:
            ident = sql.Identifier(alias, column) if alias else sql.Identifier(column)
            parts.append(
                sql.SQL(" AND coalesce({}, '') = {}").format(ident, sql.Placeholder(column))
            )
            params[column] = value
    return sql.Composed(parts), params


def _days(game_id: uuid.UUID, first: date, last: date) -> dict[str, Any]:
    return {"game": game_id, "first": first, "last": last, "start": _start(first),
            "end": _start(last + timedelta(days=1))}  # fmt: skip


async def _rows(conn: Conn, query: sql.SQL | sql.Composed, params: Mapping[str, Any]) -> _Rows:
    cur = await conn.execute(query, params)
    rows: _Rows = await cur.fetchall()
    return rows


async def active_users(
    conn: Conn, game_id: uuid.UUID, first: date, last: date, granularity: Granularity,
    segment: Segment,
) -> list[TimeValue]:  # fmt: skip
    cond, params = _segment(segment)
    query = sql.SQL("""
        WITH a AS (
            SELECT {bucket} AS bucket, count(DISTINCT player_id) AS n FROM events
            WHERE game_id = %(game)s AND event_time >= %(start)s AND event_time < %(end)s{cond}
            GROUP BY 1)
        SELECT s.bucket, coalesce(a.n, 0) FROM ({series}) s LEFT JOIN a USING (bucket)
        ORDER BY 1""").format(bucket=_bucket(_DAY, granularity), cond=cond,
                              series=_series(granularity))  # fmt: skip
    rows = await _rows(conn, query, {**_days(game_id, first, last), **params})
    return [TimeValue(b, int(n)) for b, n in rows]


def _firsts(segment: Segment) -> tuple[sql.Composable, dict[str, str]]:
    """Players whose first-ever event is in [start, end), with its day (`player_id, day`)."""
    if segment == Segment():
        return sql.SQL("""
            SELECT player_id, (min(event_time) AT TIME ZONE 'UTC')::date AS day FROM events
            WHERE game_id = %(game)s AND event_time < %(end)s
            GROUP BY player_id HAVING min(event_time) >= %(start)s"""), {}
    # Each player's first time, then the first event at that time (ties: the smallest id).
    cond, params = _segment(segment, "f")
    return sql.SQL("""
        SELECT f.player_id, f.day FROM (
            SELECT DISTINCT ON (e.player_id) e.player_id, {day} AS day,
                   e.platform, e.country, e.app_version
            FROM events e JOIN (
                SELECT player_id, min(event_time) AS t FROM events
                WHERE game_id = %(game)s AND event_time < %(end)s
                GROUP BY player_id HAVING min(event_time) >= %(start)s) m
              ON m.player_id = e.player_id AND m.t = e.event_time
            WHERE e.game_id = %(game)s AND e.event_time >= %(start)s AND e.event_time < %(end)s
            ORDER BY e.player_id, e.event_id) f
        WHERE true{cond}""").format(day=_E_DAY, cond=cond), params


async def new_users(
    conn: Conn, game_id: uuid.UUID, first: date, last: date, granularity: Granularity,
    segment: Segment,
) -> list[TimeValue]:  # fmt: skip
    firsts, params = _firsts(segment)
    query = sql.SQL("""
        WITH a AS (SELECT {bucket} AS bucket, count(*) AS n FROM ({firsts}) f GROUP BY 1)
        SELECT s.bucket, coalesce(a.n, 0) FROM ({series}) s LEFT JOIN a USING (bucket)
        ORDER BY 1""").format(bucket=_bucket(sql.SQL("day"), granularity), firsts=firsts,
                              series=_series(granularity))  # fmt: skip
    rows = await _rows(conn, query, {**_days(game_id, first, last), **params})
    return [TimeValue(b, int(n)) for b, n in rows]


async def retention(
    conn: Conn, game_id: uuid.UUID, first: date, last: date, days: Sequence[int],
    segment: Segment, today: date,
) -> list[Cohort]:  # fmt: skip
    firsts, params = _firsts(segment)
    query = sql.SQL("""
        WITH cohort AS ({firsts}),
        active AS (
            SELECT DISTINCT player_id, {day} AS day FROM events
            WHERE game_id = %(game)s AND event_time >= %(active_start)s
              AND event_time < %(active_end)s),
        n AS (SELECT DISTINCT unnest(%(days)s::int[]) AS n)
        SELECT c.day, n.n, count(*) FROM cohort c CROSS JOIN n
        JOIN active a ON a.player_id = c.player_id AND a.day = c.day + n.n
        GROUP BY 1, 2""").format(firsts=firsts, day=_DAY)  # fmt: skip
    sizes_query = sql.SQL("SELECT day, count(*) FROM ({firsts}) f GROUP BY 1").format(firsts=firsts)
    base = {**_days(game_id, first, last), **params}
    active_end = min(last + timedelta(days=max(days)), today) + timedelta(days=1)
    hits = {
        (d, int(n)): int(users)
        for d, n, users in await _rows(
            conn,
            query,
            {
                **base,
                "days": list(days),
                "active_start": _start(first + timedelta(min(days))),
                "active_end": _start(active_end),
            },
        )
    }
    sizes = {d: int(n) for d, n in await _rows(conn, sizes_query, base)}
    out: list[Cohort] = []
    day = first
    while day <= last:
        size = sizes.get(day, 0)
        points = tuple(
            RetentionPoint(n, hits.get((day, n), 0), ratio(hits.get((day, n), 0), size))
            for n in days
            if day + timedelta(days=n) <= today
        )
        out.append(Cohort(day, size, points))
        day += timedelta(days=1)
    return out


async def revenue(
    conn: Conn, game_id: uuid.UUID, first: date, last: date, granularity: Granularity,
    segment: Segment, usd_per_unit: Mapping[str, float],
) -> list[RevenuePoint]:  # fmt: skip
    cond, params = _segment(segment)
    bucket = _bucket(sql.SQL("day"), granularity)
    query = sql.SQL("""
        WITH ev AS (
            SELECT {day} AS day, player_id, event_type, amount, currency FROM events
            WHERE game_id = %(game)s AND event_time >= %(start)s AND event_time < %(end)s{cond}),
        dau AS (
            SELECT {bucket} AS bucket, day, count(DISTINCT player_id) AS n FROM ev GROUP BY 2),
        rates AS (
            SELECT * FROM unnest(%(codes)s::text[], %(rates)s::float8[]) AS r(currency, rate)),
        buys AS (
            SELECT {bucket} AS bucket, currency, sum(amount) AS amount, count(*) AS purchases
            FROM ev WHERE event_type = 'purchase' GROUP BY 1, 2),
        usd AS (
            SELECT bucket, sum(b.amount * r.rate) AS usd, sum(b.purchases) AS purchases
            FROM buys b JOIN rates r USING (currency) GROUP BY 1),
        payers AS (
            SELECT {bucket} AS bucket, count(DISTINCT player_id) AS n FROM ev
            WHERE event_type = 'purchase' GROUP BY 1),
        active AS (SELECT bucket, sum(n) AS n FROM dau GROUP BY 1)
        SELECT s.bucket, coalesce(usd.usd, 0), coalesce(payers.n, 0), coalesce(usd.purchases, 0),
               coalesce(active.n, 0)
        FROM ({series}) s LEFT JOIN usd USING (bucket) LEFT JOIN payers USING (bucket)
        LEFT JOIN active USING (bucket) ORDER BY 1""").format(
        day=_DAY, cond=cond, bucket=bucket, series=_series(granularity)
    )  # fmt: skip
    codes = sorted(usd_per_unit)
    rows = await _rows(conn, query, {**_days(game_id, first, last), **params, "codes": codes,
                                     "rates": [usd_per_unit[c] for c in codes]})  # fmt: skip
    return [
        RevenuePoint(
            b,
            float(usd),
            int(payers),
            int(purchases),
            ratio(float(usd), int(active)),
            ratio(float(usd), int(payers)),
        )
        for b, usd, payers, purchases, active in rows
    ]


async def sessions(
    conn: Conn, game_id: uuid.UUID, first: date, last: date, granularity: Granularity,
    segment: Segment,
) -> list[SessionPoint]:  # fmt: skip
    cond, params = _segment(segment)
    query = sql.SQL("""
        WITH a AS (
            SELECT {bucket} AS bucket, count(*) AS n, count(DISTINCT player_id) AS players,
                   sum(duration_seconds) AS seconds
            FROM events WHERE game_id = %(game)s AND event_type = 'session_end'
              AND event_time >= %(start)s AND event_time < %(end)s{cond}
            GROUP BY 1)
        SELECT s.bucket, coalesce(a.n, 0), coalesce(a.players, 0), coalesce(a.seconds, 0)
        FROM ({series}) s LEFT JOIN a USING (bucket) ORDER BY 1""").format(
        bucket=_bucket(_DAY, granularity), cond=cond, series=_series(granularity)
    )  # fmt: skip
    rows = await _rows(conn, query, {**_days(game_id, first, last), **params})
    return [
        SessionPoint(b, int(n), int(players), ratio(float(seconds), int(n)))
        for b, n, players, seconds in rows
    ]


async def funnel(
    conn: Conn, game_id: uuid.UUID, first: date, last: date, steps: Sequence[str],
    window_seconds: int, segment: Segment,
) -> list[FunnelStep]:  # fmt: skip
    """Greedy per start event: the earliest next step is never worse for the steps after it."""
    if len(set(steps)) != len(steps):
        raise ValueError("the reference funnel needs distinct step types")
    cond, params = _segment(segment)
    ctes: list[sql.Composable] = []
    for k in range(len(steps)):
        upper = "event_time < %(end)s" if k == 0 else "event_time < %(end)s + %(window)s"
        ctes.append(sql.SQL("""s{k} AS (
            SELECT player_id, event_time AS t FROM events
            WHERE game_id = %(game)s AND event_type = {step} AND event_time >= %(start)s
              AND {upper}{cond})""").format(
            k=sql.SQL(str(k)), step=sql.Placeholder(f"step{k}"), upper=sql.SQL(upper), cond=cond
        ))  # fmt: skip
    ctes.append(sql.SQL("r0 AS (SELECT player_id, t AS t1, t AS tk FROM s0)"))
    # r{k}: per step-1 event still in the chain, the earliest step-k event that continues it.
    ctes += [
        sql.SQL("""r{k} AS (
            SELECT r.player_id, r.t1, min(s.t) AS tk FROM r{p} r
            JOIN s{k} s ON s.player_id = r.player_id AND s.t >= r.tk
             AND s.t <= r.t1 + %(window)s
            GROUP BY 1, 2)""").format(k=sql.SQL(str(k)), p=sql.SQL(str(k - 1)))
        for k in range(1, len(steps))
    ]
    counts = sql.SQL(", ").join(
        sql.SQL("(SELECT count(DISTINCT player_id) FROM r{})").format(sql.SQL(str(k)))
        for k in range(len(steps))
    )
    query = sql.SQL("WITH {} SELECT {}").format(sql.SQL(",\n").join(ctes), counts)
    row = (await _rows(conn, query, {
        **_days(game_id, first, last), **params, "window": timedelta(seconds=window_seconds),
        **{f"step{k}": step for k, step in enumerate(steps)},
    }))[0]  # fmt: skip
    users = [int(n) for n in row]
    return [
        FunnelStep(step, n, ratio(n, users[0]), ratio(n, users[k - 1] if k else users[0]))
        for k, (step, n) in enumerate(zip(steps, users, strict=True))
    ]


async def event_counts(
    conn: Conn, game_id: uuid.UUID, start: datetime, end: datetime, bucket: Bucket,
    types: Sequence[str] | None,
) -> list[EventCount]:  # fmt: skip
    only = sql.SQL(" AND event_type = ANY(%(types)s)") if types is not None else sql.SQL("")
    query = sql.SQL("""
        SELECT date_bin(%(width)s, event_time, %(origin)s) AS bucket, event_type, count(*)
        FROM events
        WHERE game_id = %(game)s AND event_time >= %(start)s AND event_time < %(end)s{only}
        GROUP BY 1, 2 ORDER BY 1, event_type COLLATE "C"
        """).format(only=only)  # fmt: skip
    rows = await _rows(conn, query, {"game": game_id, "start": start, "end": end,
                                     "width": BUCKET_WIDTH[bucket], "origin": _ORIGIN,
                                     "types": list(types or ())})  # fmt: skip
    return [EventCount(b.astimezone(UTC), t, int(n)) for b, t, n in rows]


async def live_stats(conn: Conn, game_id: uuid.UUID, now: datetime) -> LiveStats:
    """Events received in the 60 whole seconds up to `now`'s (s with now - 60 s < s <= now,
    the resolution liveStats keeps) and players with an event received in (now - 5 min, now]."""
    row = (await _rows(conn, sql.SQL("""
        SELECT count(*) FILTER (WHERE date_trunc('second', received_at)
                                      > %(now)s - interval '60 seconds'
                                  AND date_trunc('second', received_at) <= %(now)s),
               count(DISTINCT player_id) FILTER (WHERE received_at > %(now)s - interval '5 minutes'
                                                   AND received_at <= %(now)s)
        FROM events WHERE game_id = %(game)s"""), {"game": game_id, "now": now}))[0]  # fmt: skip
    last_minute = int(row[0])
    return LiveStats(last_minute, last_minute / 60, int(row[1]))


def differences(expected: object, actual: object, path: str = "") -> list[str]:
    """Where two answers differ: counts and other values exactly, floats to REL_TOLERANCE."""
    if isinstance(expected, float) or isinstance(actual, float):
        if not isinstance(expected, int | float) or not isinstance(actual, int | float):
            return [f"{path}: {expected!r} != {actual!r}"]
        close = math.isclose(expected, actual, rel_tol=REL_TOLERANCE, abs_tol=0.0)
        return [] if close or expected == actual else [f"{path}: {expected!r} != {actual!r}"]
    if is_dataclass(expected) and not isinstance(expected, type):
        if type(expected) is not type(actual):
            return [f"{path}: {type(expected).__name__} != {type(actual).__name__}"]
        out: list[str] = []
        for f in fields(expected):
            out += differences(getattr(expected, f.name), getattr(actual, f.name),
                               f"{path}.{f.name}")  # fmt: skip
        return out
    if isinstance(expected, list | tuple) and isinstance(actual, list | tuple):
        if len(expected) != len(actual):
            return [f"{path}: {len(expected)} items != {len(actual)}"]
        out = []
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            out += differences(e, a, f"{path}[{i}]")
        return out
    return [] if expected == actual else [f"{path}: {expected!r} != {actual!r}"]
