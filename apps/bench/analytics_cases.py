"""What the analytics benchmark asks: one `Case` per query type and range.

A case draws its arguments at random within the data (seeded), and knows how
to ask the query layer, the raw-SQL reference and the GraphQL API the same
question. Headline cases carry the issue's p95 targets; the others are
extra rows (longer ranges, a filter, unaligned eventCounts bounds).
"""

import random
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final

from apps.analytics import results
from apps.bench import analytics_reference as ref
from apps.bench.analytics_data import FUNNEL_STEPS
from apps.core.periods import ANY_SEGMENT, Bucket, Granularity, Segment

Conn = ref.Conn
Args = dict[str, Any]
RETENTION_DAYS: Final = (1, 7, 30)
FUNNEL_WINDOW_SECONDS: Final = 86_400


@dataclass(frozen=True, slots=True)
class Context:
    """What the cases' arguments depend on."""

    game_id: uuid.UUID
    first_day: date
    days: int
    today: date
    live_now: datetime
    usd_per_unit: Mapping[str, float]

    def window(self, rng: random.Random, length: int) -> tuple[date, date]:
        """`length` consecutive days inside the data (all of it when it is shorter)."""
        length = min(length, self.days)
        first = self.first_day + timedelta(days=rng.randint(0, self.days - length))
        return first, first + timedelta(days=length - 1)


Ask = Callable[[Conn, Args], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class Case:
    name: str
    field: str
    """The Game field of the GraphQL API."""
    make: Callable[[random.Random], Args]
    layer: Ask
    raw: Ask
    document: str
    variables: Callable[[Args], dict[str, Any]]
    result: type
    many: bool = True
    target_ms: float | None = None
    """The p95 target, for headline cases."""
    headline: bool = True
    """One of the query types the issue asks for; the others are extra rows."""
    compare_http: bool = True
    """False when the API's answer depends on the moment it is asked (liveStats)."""


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def selection(cls: type) -> str:
    """The GraphQL selection of every field of a results dataclass (nested ones too)."""
    import typing
    from dataclasses import fields

    hints = typing.get_type_hints(cls)
    parts = []
    for f in fields(cls):
        inner = typing.get_args(hints[f.name])
        nested = inner[0] if inner and hasattr(inner[0], "__dataclass_fields__") else None
        parts.append(_camel(f.name) + (f" {{ {selection(nested)} }}" if nested else ""))
    return " ".join(parts)


def _document(field: str, params: str, arguments: str, result: type) -> str:
    head = f"query Bench($id: ID!{', ' if params else ''}{params})"
    call = f"{field}({arguments})" if arguments else field
    return f"{head} {{ game(id: $id) {{ {call} {{ {selection(result)} }} }} }}"


def _filter(segment: Segment) -> dict[str, str] | None:
    out = {
        key: value
        for key, value in (
            ("platform", segment.platform),
            ("country", segment.country),
            ("appVersion", segment.app_version),
        )
        if value is not None
    }
    return out or None


_DAYS_PARAMS: Final = "$from: Date!, $to: Date!, $g: Granularity!, $filter: SegmentFilter"
_DAYS_ARGS: Final = "from: $from, to: $to, granularity: $g, filter: $filter"


def _days_case(ctx: Context, field: str, length: int, granularity: Granularity,
               segment: Segment = ANY_SEGMENT, target_ms: float | None = None,
               headline: bool = False) -> Case:  # fmt: skip
    """activeUsers, newUsers, revenue or sessions over `length` days."""
    from apps.analytics import queries

    length = min(length, ctx.days)

    def make(rng: random.Random) -> Args:
        first, last = ctx.window(rng, length)
        return {"first": first, "last": last}

    game, g, seg = ctx.game_id, granularity, segment
    result: type
    if field == "revenue":
        rates = ctx.usd_per_unit
        layer: Ask = lambda c, a: queries.revenue(c, game, a["first"], a["last"], g, seg, rates)  # noqa: E731
        raw: Ask = lambda c, a: ref.revenue(c, game, a["first"], a["last"], g, seg, rates)  # noqa: E731
        result = results.RevenuePoint
    else:
        layer_fn = {"activeUsers": queries.active_users, "newUsers": queries.new_users,
                    "sessions": queries.sessions}[field]  # fmt: skip
        raw_fn = {"activeUsers": ref.active_users, "newUsers": ref.new_users,
                  "sessions": ref.sessions}[field]  # fmt: skip
        layer = lambda c, a: layer_fn(c, game, a["first"], a["last"], g, seg)  # noqa: E731
        raw = lambda c, a: raw_fn(c, game, a["first"], a["last"], g, seg)  # noqa: E731
        result = results.SessionPoint if field == "sessions" else results.TimeValue
    where = (
        ""
        if segment == ANY_SEGMENT
        else ", filter " + ", ".join(f"{k}={v}" for k, v in (_filter(segment) or {}).items())
    )
    return Case(
        name=f"{field} {granularity} {length} days{where}", field=field, make=make,
        layer=layer, raw=raw, document=_document(field, _DAYS_PARAMS, _DAYS_ARGS, result),
        variables=lambda a: {"id": str(game), "from": a["first"].isoformat(),
                             "to": a["last"].isoformat(), "g": str(g), "filter": _filter(seg)},
        result=result, target_ms=target_ms, headline=headline,
    )  # fmt: skip


def _retention(ctx: Context, target_ms: float | None) -> Case:
    from apps.analytics import queries

    game, today, days = ctx.game_id, ctx.today, list(RETENTION_DAYS)

    cohorts = min(30, ctx.days)

    def make(rng: random.Random) -> Args:
        first, last = ctx.window(rng, cohorts)
        return {"first": first, "last": last}

    return Case(
        name=f"retention {cohorts} cohorts x {list(RETENTION_DAYS)}", field="retention", make=make,
        layer=lambda c, a: queries.retention(c, game, a["first"], a["last"], days, ANY_SEGMENT,
                                             today),
        raw=lambda c, a: ref.retention(c, game, a["first"], a["last"], days, ANY_SEGMENT, today),
        document=_document("retention", "$from: Date!, $to: Date!, $days: [Int!]!",
                           "from: $from, to: $to, days: $days", results.Cohort),
        variables=lambda a: {"id": str(game), "from": a["first"].isoformat(),
                             "to": a["last"].isoformat(), "days": days},
        result=results.Cohort, target_ms=target_ms,
    )  # fmt: skip


def _funnel(ctx: Context, target_ms: float | None) -> Case:
    from apps.analytics import queries

    game, steps, window = ctx.game_id, list(FUNNEL_STEPS), FUNNEL_WINDOW_SECONDS

    length = min(7, ctx.days)

    def make(rng: random.Random) -> Args:
        first, last = ctx.window(rng, length)
        return {"first": first, "last": last}

    return Case(
        name=f"funnel {len(steps)} steps {length} days ({' -> '.join(steps)}, window {window:,} s)",
        field="funnel", make=make,
        layer=lambda c, a: queries.funnel(c, game, a["first"], a["last"], steps, window,
                                          ANY_SEGMENT),
        raw=lambda c, a: ref.funnel(c, game, a["first"], a["last"], steps, window, ANY_SEGMENT),
        document=_document("funnel", "$from: Date!, $to: Date!, $steps: [String!]!, $w: Int",
                           "from: $from, to: $to, steps: $steps, windowSeconds: $w",
                           results.FunnelStep),
        variables=lambda a: {"id": str(game), "from": a["first"].isoformat(),
                             "to": a["last"].isoformat(), "steps": steps, "w": window},
        result=results.FunnelStep, target_ms=target_ms,
    )  # fmt: skip


def _event_counts(ctx: Context, aligned: bool) -> Case:
    from apps.analytics import queries

    game, bucket = ctx.game_id, Bucket.HOUR

    def make(rng: random.Random) -> Args:
        first, _ = ctx.window(rng, 7)
        start = datetime.combine(first, time(), UTC)
        if not aligned:
            start += timedelta(seconds=rng.randrange(86_400), microseconds=rng.randrange(10**6))
        return {"start": start, "end": start + timedelta(days=7)}

    return Case(
        name="eventCounts HOUR 7 days" + ("" if aligned else ", bounds not minute-aligned"),
        field="eventCounts", make=make,
        layer=lambda c, a: queries.event_counts(c, game, a["start"], a["end"], bucket, None),
        raw=lambda c, a: ref.event_counts(c, game, a["start"], a["end"], bucket, None),
        document=_document("eventCounts", "$from: DateTime!, $to: DateTime!",
                           "from: $from, to: $to, bucket: HOUR", results.EventCount),
        variables=lambda a: {"id": str(game), "from": a["start"].isoformat(),
                             "to": a["end"].isoformat()},
        result=results.EventCount, headline=aligned,
    )  # fmt: skip


def _live_stats(ctx: Context) -> Case:
    from apps.analytics import queries

    game, now = ctx.game_id, ctx.live_now
    return Case(
        name="liveStats", field="liveStats", make=lambda rng: {},
        layer=lambda c, a: queries.live_stats(c, game, now),
        raw=lambda c, a: ref.live_stats(c, game, now),
        document=_document("liveStats", "", "", results.LiveStats),
        variables=lambda a: {"id": str(game)},
        result=results.LiveStats, many=False, compare_http=False,
    )  # fmt: skip


def cases(ctx: Context) -> list[Case]:
    """The headline cases (with their targets) first, then the extra rows."""
    out = [
        _days_case(ctx, field, 30, Granularity.DAY, target_ms=50.0, headline=True)
        for field in ("activeUsers", "newUsers", "revenue", "sessions")
    ]
    out += [_retention(ctx, 150.0), _funnel(ctx, 1000.0), _event_counts(ctx, aligned=True),
            _live_stats(ctx)]  # fmt: skip
    for granularity in (Granularity.WEEK, Granularity.MONTH):
        out += [
            _days_case(ctx, field, 90, granularity)
            for field in ("activeUsers", "newUsers", "revenue", "sessions")
        ]
    out += [
        _days_case(ctx, "activeUsers", 30, Granularity.DAY, Segment(country="US")),
        _days_case(ctx, "newUsers", 30, Granularity.DAY, Segment(platform="ios")),
        _event_counts(ctx, aligned=False),
    ]
    return out


def as_result(case: Case, data: Any) -> Any:
    """The GraphQL answer of `case` as the query layer's result types."""
    if case.many:
        return [from_json(case.result, item) for item in data]
    return from_json(case.result, data)


def from_json(cls: type, data: Mapping[str, Any]) -> Any:
    import typing
    from dataclasses import fields

    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for f in fields(cls):
        raw, hint = data[_camel(f.name)], hints[f.name]
        if hint is date:
            values[f.name] = date.fromisoformat(raw)
        elif hint is datetime:
            values[f.name] = datetime.fromisoformat(raw)
        elif hint is float:
            values[f.name] = float(raw)
        elif typing.get_origin(hint) is tuple:
            inner = typing.get_args(hint)[0]
            values[f.name] = tuple(from_json(inner, item) for item in raw)
        else:
            values[f.name] = raw
    return cls(**values)
