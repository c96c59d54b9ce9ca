"""An independent computation of every analytics query, in plain Python over the events.

Written from the metric definitions of issue 4 (and the lead's recorded decisions
for what the issue leaves open) only: nothing here reads the analytics code,
its SQL or `apps/core/periods.py`, so that agreeing with the API means something.
It is deliberately naive: every answer is recomputed from the event list, with
no rollups and no shared helpers beyond the date arithmetic of the standard
library.

Input: the events the API accepted, after deduplication by event id (the first
received wins, `accepted`), each with the time the server stores. The events
are sent without `sent_at`, so no clock-skew correction applies and the stored
event time is the timestamp as sent (apps/core/validation.py: skew is zero
without `sent_at`).

Output: plain dicts and lists shaped like the GraphQL JSON answer of each
query (camelCase keys, ISO dates), so that a comparison is direct.
"""

import json
import math
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

from apps.core.currency import USD_PER_UNIT

DAY: Final = "DAY"
WEEK: Final = "WEEK"
MONTH: Final = "MONTH"
MINUTE: Final = "MINUTE"
HOUR: Final = "HOUR"
GRANULARITIES: Final = (DAY, WEEK, MONTH)
BUCKETS: Final = (MINUTE, HOUR, DAY)
DEFAULT_RETENTION_DAYS: Final = (1, 7, 30)
DEFAULT_WINDOW_SECONDS: Final = 86400
SESSION_END: Final = "session_end"
PURCHASE: Final = "purchase"
EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)

Json = Any
"""A JSON value as `json.loads` returns it."""


class AmbiguousFirstEvent(ValueError):
    """A player's earliest events tie in time but differ in acquisition attributes.

    The contract does not say which one is "first": event sets must avoid it.
    """


@dataclass(frozen=True, slots=True)
class Event:
    """One accepted event, as the analytics see it."""

    event_id: str
    type: str
    player_id: str
    time: datetime
    platform: str | None = None
    country: str | None = None
    app_version: str | None = None
    duration_seconds: float | None = None
    amount: float | None = None
    currency: str | None = None
    received_at: datetime | None = None

    @property
    def day(self) -> date:
        return self.time.astimezone(UTC).date()

    @property
    def segment(self) -> tuple[str, str, str]:
        """Platform, country, app version; '' where the event has none."""
        return (self.platform or "", self.country or "", self.app_version or "")


def parse_time(value: str | int) -> datetime:
    """An event timestamp as sent: RFC 3339 with an offset, or epoch milliseconds."""
    if isinstance(value, int):
        return EPOCH + timedelta(milliseconds=value)
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError(f"timestamp {value!r} has no UTC offset")
    return parsed.astimezone(UTC)


def event_from_body(body: Mapping[str, Any], received_at: datetime | None = None) -> Event:
    """The event a client sent (a `POST /v1/events` item), as the server stores it."""
    country = body.get("country")
    return Event(
        event_id=str(uuid.UUID(str(body["event_id"]))),
        type=body["type"],
        player_id=body["player_id"],
        time=parse_time(body["timestamp"]),
        platform=body.get("platform"),
        country=country.upper() if country is not None else None,
        app_version=body.get("app_version"),
        duration_seconds=_float(body.get("duration_seconds")),
        amount=_float(body.get("amount")),
        currency=body.get("currency"),
        received_at=received_at,
    )


def _float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


def accepted(sent: Iterable[Mapping[str, Any]]) -> list[Event]:
    """The events stored from bodies sent in this order: the first of each event id wins."""
    seen: dict[str, Event] = {}
    for body in sent:
        event = event_from_body(body)
        seen.setdefault(event.event_id, event)
    return list(seen.values())


# ---- calendar ---------------------------------------------------------------------------


def bucket_of(day: date, granularity: str) -> date:
    """The label of the bucket holding `day`: itself, its ISO week's Monday, its month's 1st."""
    if granularity == DAY:
        return day
    if granularity == WEEK:
        return day - timedelta(days=day.isoweekday() - 1)
    if granularity == MONTH:
        return day.replace(day=1)
    raise ValueError(f"unknown granularity {granularity!r}")


def days_between(first: date, last: date) -> list[date]:
    """Every day of [first, last]."""
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def bucket_days(first: date, last: date, granularity: str) -> dict[date, list[date]]:
    """Each bucket touching [first, last], in ascending order, with its days inside the range."""
    out: dict[date, list[date]] = {}
    for day in days_between(first, last):
        out.setdefault(bucket_of(day, granularity), []).append(day)
    return out


def truncate(t: datetime, bucket: str) -> datetime:
    """The start (UTC) of the MINUTE, HOUR or DAY holding `t`."""
    t = t.astimezone(UTC)
    if bucket == MINUTE:
        return t.replace(second=0, microsecond=0)
    if bucket == HOUR:
        return t.replace(minute=0, second=0, microsecond=0)
    if bucket == DAY:
        return t.replace(hour=0, minute=0, second=0, microsecond=0)
    raise ValueError(f"unknown bucket {bucket!r}")


# ---- filters ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Filter:
    """A SegmentFilter: each given value equals the stored one ('' = the attribute is absent)."""

    platform: str | None = None
    country: str | None = None
    app_version: str | None = None

    def matches(self, segment: tuple[str, str, str]) -> bool:
        wanted = (self.platform, self.country, self.app_version)
        return all(w is None or w == have for w, have in zip(wanted, segment, strict=True))

    def graphql(self) -> str:
        fields = [
            f"{name}: {json.dumps(value)}"
            for name, value in (
                ("platform", self.platform),
                ("country", self.country),
                ("appVersion", self.app_version),
            )
            if value is not None
        ]
        return "{" + ", ".join(fields) + "}"


ANY: Final = Filter()


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else 0.0


# ---- the oracle -------------------------------------------------------------------------


class Oracle:
    """Every query of the analytics API over one game's accepted events."""

    def __init__(
        self, events: Sequence[Event], usd_per_unit: Mapping[str, float] = USD_PER_UNIT
    ) -> None:
        ids = [e.event_id for e in events]
        if len(set(ids)) != len(ids):
            raise ValueError("events must be deduplicated (see `accepted`)")
        self.events = list(events)
        self.usd_per_unit = usd_per_unit
        self.first_events = self._first_events()

    def _first_events(self) -> dict[str, Event]:
        by_player: dict[str, list[Event]] = defaultdict(list)
        for e in self.events:
            by_player[e.player_id].append(e)
        first: dict[str, Event] = {}
        for player, evs in by_player.items():
            earliest = min(e.time for e in evs)
            tied = [e for e in evs if e.time == earliest]
            if len({e.segment for e in tied}) > 1:
                raise AmbiguousFirstEvent(f"player {player!r}: {len(tied)} first events differ")
            first[player] = tied[0]
        return first

    def _matching(self, flt: Filter | None) -> list[Event]:
        flt = flt or ANY
        return [e for e in self.events if flt.matches(e.segment)]

    # -- players ----------------------------------------------------------------------

    def active_users(
        self, first: date, last: date, granularity: str = DAY, flt: Filter | None = None
    ) -> Json:
        events = self._matching(flt)
        out = []
        for bucket, days in bucket_days(first, last, granularity).items():
            inside = set(days)
            players = {e.player_id for e in events if e.day in inside}
            out.append({"bucket": bucket.isoformat(), "value": len(players)})
        return out

    def new_users(
        self, first: date, last: date, granularity: str = DAY, flt: Filter | None = None
    ) -> Json:
        flt = flt or ANY
        firsts = [e for e in self.first_events.values() if flt.matches(e.segment)]
        out = []
        for bucket, days in bucket_days(first, last, granularity).items():
            inside = set(days)
            out.append(
                {"bucket": bucket.isoformat(), "value": sum(e.day in inside for e in firsts)}
            )
        return out

    def retention(
        self,
        first: date,
        last: date,
        days: Sequence[int] = DEFAULT_RETENTION_DAYS,
        flt: Filter | None = None,
        *,
        today: date,
    ) -> Json:
        flt = flt or ANY
        active_days: dict[str, set[date]] = defaultdict(set)
        for e in self.events:  # any event of a member counts, whatever its own segment
            active_days[e.player_id].add(e.day)
        out = []
        for cohort in days_between(first, last):
            members = [
                p
                for p, e in self.first_events.items()
                if e.day == cohort and flt.matches(e.segment)
            ]
            size = len(members)
            retained = []
            for n in days:
                day = cohort + timedelta(days=n)
                if day > today:
                    continue
                users = sum(day in active_days[p] for p in members)
                retained.append({"day": n, "users": users, "rate": _ratio(users, size)})
            out.append({"cohort": cohort.isoformat(), "size": size, "retained": retained})
        return out

    # -- money and time ---------------------------------------------------------------

    def revenue(
        self, first: date, last: date, granularity: str = DAY, flt: Filter | None = None
    ) -> Json:
        events = self._matching(flt)
        out = []
        for bucket, days in bucket_days(first, last, granularity).items():
            inside = set(days)
            purchases = [e for e in events if e.type == PURCHASE and e.day in inside]
            amounts: dict[str, list[float]] = defaultdict(list)
            for e in purchases:
                if e.currency is None or e.amount is None:
                    raise ValueError(f"purchase {e.event_id} without amount or currency")
                amounts[e.currency].append(e.amount)
            revenue = math.fsum(
                math.fsum(values) * self.usd_per_unit[cur] for cur, values in amounts.items()
            )
            paying = len({e.player_id for e in purchases})
            daily_active = sum(len({e.player_id for e in events if e.day == day}) for day in days)
            out.append(
                {
                    "bucket": bucket.isoformat(),
                    "revenueUsd": revenue,
                    "payingUsers": paying,
                    "purchases": len(purchases),
                    "arpdau": _ratio(revenue, daily_active),
                    "arppu": _ratio(revenue, paying),
                }
            )
        return out

    def sessions(
        self, first: date, last: date, granularity: str = DAY, flt: Filter | None = None
    ) -> Json:
        events = self._matching(flt)
        out = []
        for bucket, days in bucket_days(first, last, granularity).items():
            inside = set(days)
            ends = [e for e in events if e.type == SESSION_END and e.day in inside]
            total = math.fsum(e.duration_seconds or 0.0 for e in ends)
            out.append(
                {
                    "bucket": bucket.isoformat(),
                    "sessions": len(ends),
                    "players": len({e.player_id for e in ends}),
                    "avgLengthSeconds": _ratio(total, len(ends)),
                }
            )
        return out

    # -- funnel -----------------------------------------------------------------------

    def funnel(
        self,
        first: date,
        last: date,
        steps: Sequence[str],
        window_seconds: int = DEFAULT_WINDOW_SECONDS,
        flt: Filter | None = None,
    ) -> Json:
        by_player: dict[str, list[Event]] = defaultdict(list)
        for e in self._matching(flt):
            by_player[e.player_id].append(e)
        reached = [0] * len(steps)
        window = timedelta(seconds=window_seconds)
        for evs in by_player.values():
            depth = deepest_step(evs, steps, first, last, window)
            for k in range(depth):
                reached[k] += 1
        out = []
        for k, step in enumerate(steps):
            previous = reached[k - 1] if k else reached[0]
            out.append(
                {
                    "step": step,
                    "users": reached[k],
                    "conversionFromStart": _ratio(reached[k], reached[0]),
                    "conversionFromPrevious": _ratio(reached[k], previous),
                }
            )
        return out

    # -- counts -----------------------------------------------------------------------

    def event_counts(
        self,
        start: datetime,
        end: datetime,
        bucket: str = HOUR,
        types: Sequence[str] | None = None,
    ) -> Json:
        counts: dict[tuple[datetime, str], int] = defaultdict(int)
        for e in self.events:
            if start <= e.time < end and (types is None or e.type in types):
                counts[truncate(e.time, bucket), e.type] += 1
        return [
            {"bucket": t.isoformat(), "type": etype, "count": n}
            for (t, etype), n in sorted(counts.items())
        ]

    def live_stats(self, now: datetime) -> Json:
        """By receive time: events received in (now - 60 s, now], players in (now - 5 min, now]."""
        received = [(e.received_at, e.player_id) for e in self.events if e.received_at]
        if len(received) != len(self.events):
            raise ValueError("live stats need every event's received_at")
        minute = sum(now - timedelta(seconds=60) < at <= now for at, _ in received)
        players = {p for at, p in received if now - timedelta(minutes=5) < at <= now}
        return {
            "eventsLastMinute": minute,
            "eventsPerSecond": minute / 60,
            "activePlayersLast5Minutes": len(players),
        }


def deepest_step(
    events: Sequence[Event], steps: Sequence[str], first: date, last: date, window: timedelta
) -> int:
    """How many steps one player reaches (0..len(steps)), by exhaustive search.

    A player reaches step k with distinct events e1..ek of types steps[0..k-1],
    times non-decreasing, e1 on a day in [first, last], and ek - e1 <= window.
    """
    if not steps:
        return 0
    ordered = sorted(events, key=lambda e: e.time)

    def extend(k: int, at: datetime, limit: datetime, used: frozenset[int]) -> int:
        if k == len(steps):
            return 0
        best = 0
        for i, e in enumerate(ordered):
            if i in used or e.type != steps[k] or e.time < at or e.time > limit:
                continue
            best = max(best, 1 + extend(k + 1, e.time, limit, used | {i}))
            if k + best == len(steps):
                break
        return best

    best = 0
    for i, e in enumerate(ordered):
        if e.type == steps[0] and first <= e.day <= last:
            best = max(best, 1 + extend(1, e.time, e.time + window, frozenset({i})))
            if best == len(steps):
                break
    return best


# ---- queries: their GraphQL text and the oracle's answer -----------------------------------

SERIES_FIELDS: Final = {
    "activeUsers": "bucket value",
    "newUsers": "bucket value",
    "revenue": "bucket revenueUsd payingUsers purchases arpdau arppu",
    "sessions": "bucket sessions players avgLengthSeconds",
}
"""Every field of each series query's result type."""


def _range_args(first: date, last: date) -> list[str]:
    return [f'from: "{first.isoformat()}"', f'to: "{last.isoformat()}"']


def _field(name: str, args: Sequence[str], selection: str) -> str:
    return f"{name}({', '.join(args)}) {{ {selection} }}"


@dataclass(frozen=True)
class Series:
    """activeUsers, newUsers, revenue or sessions; None arguments are left to their defaults."""

    metric: str
    first: date
    last: date
    granularity: str | None = None
    flt: Filter | None = None

    def graphql(self) -> str:
        args = _range_args(self.first, self.last)
        if self.granularity is not None:
            args.append(f"granularity: {self.granularity}")
        if self.flt is not None:
            args.append(f"filter: {self.flt.graphql()}")
        return _field(self.metric, args, SERIES_FIELDS[self.metric])

    def expect(self, oracle: Oracle, today: date) -> Json:
        compute = {
            "activeUsers": oracle.active_users,
            "newUsers": oracle.new_users,
            "revenue": oracle.revenue,
            "sessions": oracle.sessions,
        }[self.metric]
        return compute(self.first, self.last, self.granularity or DAY, self.flt)


@dataclass(frozen=True)
class Retention:
    first: date
    last: date
    days: tuple[int, ...] | None = None
    flt: Filter | None = None

    def graphql(self) -> str:
        args = _range_args(self.first, self.last)
        if self.days is not None:
            args.append(f"days: {list(self.days)}")
        if self.flt is not None:
            args.append(f"filter: {self.flt.graphql()}")
        return _field("retention", args, "cohort size retained { day users rate }")

    def expect(self, oracle: Oracle, today: date) -> Json:
        days = DEFAULT_RETENTION_DAYS if self.days is None else self.days
        return oracle.retention(self.first, self.last, days, self.flt, today=today)


@dataclass(frozen=True)
class Funnel:
    first: date
    last: date
    steps: tuple[str, ...]
    window_seconds: int | None = None
    flt: Filter | None = None

    def graphql(self) -> str:
        args = [*_range_args(self.first, self.last), f"steps: {json.dumps(list(self.steps))}"]
        if self.window_seconds is not None:
            args.append(f"windowSeconds: {self.window_seconds}")
        if self.flt is not None:
            args.append(f"filter: {self.flt.graphql()}")
        return _field("funnel", args, "step users conversionFromStart conversionFromPrevious")

    def expect(self, oracle: Oracle, today: date) -> Json:
        window = DEFAULT_WINDOW_SECONDS if self.window_seconds is None else self.window_seconds
        return oracle.funnel(self.first, self.last, self.steps, window, self.flt)


@dataclass(frozen=True)
class EventCounts:
    """`start` and `end` are aware; they are sent in their own offset (RFC 3339)."""

    start: datetime
    end: datetime
    bucket: str | None = None
    types: tuple[str, ...] | None = None

    def graphql(self) -> str:
        args = [f'from: "{self.start.isoformat()}"', f'to: "{self.end.isoformat()}"']
        if self.bucket is not None:
            args.append(f"bucket: {self.bucket}")
        if self.types is not None:
            args.append(f"types: {json.dumps(list(self.types))}")
        return _field("eventCounts", args, "bucket type count")

    def expect(self, oracle: Oracle, today: date) -> Json:
        return oracle.event_counts(self.start, self.end, self.bucket or HOUR, self.types)


Query = Series | Retention | Funnel | EventCounts

LIVE_STATS: Final = "liveStats { eventsLastMinute eventsPerSecond activePlayersLast5Minutes }"


def game_document(game_id: object, fields: Mapping[str, str]) -> str:
    """One GraphQL request asking, for one game, each field under its alias."""
    body = " ".join(f"{alias}: {text}" for alias, text in fields.items())
    return f'query {{ game(id: "{game_id}") {{ {body} }} }}'


# ---- comparing with the API -------------------------------------------------------------

FLOAT_TOLERANCE: Final = 1e-9


def differences(expected: Json, got: Json, path: str = "$") -> list[str]:
    """Where `got` differs from `expected`: ints exactly, floats to 1e-9 relative, the rest equal.

    A string that is a date-time (with a 'T') compares as an instant, so "Z" and
    "+00:00" agree.
    """
    if isinstance(expected, dict):
        if not isinstance(got, dict) or set(got) != set(expected):
            return [f"{path}: expected keys {sorted(expected)}, got {_short(got)}"]
        return [d for k in expected for d in differences(expected[k], got[k], f"{path}.{k}")]
    if isinstance(expected, list):
        if not isinstance(got, list) or len(got) != len(expected):
            return [f"{path}: expected {_short(expected)}, got {_short(got)}"]
        return [
            d
            for i, (e, g) in enumerate(zip(expected, got, strict=True))
            for d in differences(e, g, f"{path}[{i}]")
        ]
    if isinstance(expected, bool) or expected is None:
        return [] if got is expected else [f"{path}: expected {expected!r}, got {got!r}"]
    if isinstance(expected, int):
        ok = isinstance(got, int) and not isinstance(got, bool) and got == expected
        return [] if ok else [f"{path}: expected {expected!r}, got {got!r}"]
    if isinstance(expected, float):
        ok = (
            isinstance(got, int | float)
            and not isinstance(got, bool)
            and math.isclose(got, expected, rel_tol=FLOAT_TOLERANCE, abs_tol=0.0)
        )
        return [] if ok else [f"{path}: expected {expected!r}, got {got!r}"]
    if isinstance(expected, str) and "T" in expected and isinstance(got, str):
        instant = _instant(expected)
        if instant is not None:
            ok = _instant(got) == instant
            return [] if ok else [f"{path}: expected {expected!r}, got {got!r}"]
    return [] if got == expected else [f"{path}: expected {expected!r}, got {got!r}"]


def _instant(text: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _short(value: Json) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 300 else text[:300] + "..."
