"""Event sets for one game, to send through the real pipeline and to give to the oracle.

An `EventSet` is what a game's clients send, in order: waves of event bodies,
each wave one request, the next sent only once the previous one is stored, so
that "arrived later" really means later (late events, a player's first event
arriving after their later ones, a duplicate sent again after the original
was stored). `event_sets` generates them with hypothesis; `query_plans`
generates the queries to ask about one; `EDGE_CASES` are hand-written sets,
each about one hazard, with the queries that look at it.

Every generated time lies in the past (the ingestion API refuses times more
than 10 minutes ahead) and within `LATE_HORIZON_DAYS`, the late horizon the
test game is created with. A player's events at one instant share one
segment, so whichever waves have arrived, no player's earliest events tie with
different segments: the contract does not say which one would be first.
"""

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta, timezone
from functools import partial
from typing import Any, Final

import httpx
import psycopg
from hypothesis import strategies as st

from tests.support.oracle import (
    BUCKETS,
    GRANULARITIES,
    Event,
    EventCounts,
    Filter,
    Funnel,
    Query,
    Retention,
    Series,
    accepted,
)
from tests.support.poll import poll_until

LATE_HORIZON_DAYS: Final = 400
OLDEST_DAYS: Final = 110
"""How far back (in days before today) generated events go, at most."""
NOT_AFTER: Final = timedelta(minutes=2)
"""Generated times stay this far before the generation's `now`."""

PLAYERS: Final = ("ana", "bo", "cy", "dee", "ed", "fé 6")
PLATFORMS: Final = ("ios", "android", "web")
COUNTRIES: Final = ("DE", "US", "br")
"""As sent: 'br' is stored (and filtered) as 'BR'."""
VERSIONS: Final = ("1.0.0", "1.1.0")
CURRENCIES: Final = ("USD", "EUR", "JPY", "GBP", "KRW", "BRL")
TYPES: Final = (
    "session_start", "session_end", "purchase", "progression", "design", "ui.click", "level_up",
)  # fmt: skip
SERIES_METRICS: Final = ("activeUsers", "newUsers", "revenue", "sessions")

Body = dict[str, Any]


@dataclass(frozen=True)
class EventSet:
    """Waves of event bodies: each wave is one request, sent once the previous one is stored.

    A duplicate (an event id sent before) must be followed in its wave by a new
    event of the same player: that event's arrival in PostgreSQL proves the
    duplicate, ahead of it in the same Kafka partition, was processed.
    """

    waves: tuple[tuple[Body, ...], ...]

    def __post_init__(self) -> None:
        sent: set[str] = set()
        for number, wave in enumerate(self.waves):
            if not wave:
                raise ValueError(f"wave {number} is empty")
            pending: set[str] = set()
            for body in wave:
                event_id = _event_id(body)
                if event_id in sent:
                    pending.add(body["player_id"])
                else:
                    pending.discard(body["player_id"])
                    sent.add(event_id)
            if pending:
                raise ValueError(f"wave {number}: duplicates of {pending} not followed by news")

    def sent(self) -> list[Body]:
        return [body for wave in self.waves for body in wave]

    def events(self) -> list[Event]:
        """What the API accepts: the first body sent with each event id."""
        return accepted(self.sent())

    def new_ids(self) -> list[set[str]]:
        """Per wave, the event ids sent for the first time in it (what PostgreSQL will gain)."""
        seen: set[str] = set()
        out = []
        for wave in self.waves:
            ids = {_event_id(b) for b in wave} - seen
            seen |= ids
            out.append(ids)
        return out


def _event_id(body: Body) -> str:
    return str(uuid.UUID(str(body["event_id"])))


# ---- rendering one event ----------------------------------------------------------------


def render_time(t: datetime, fmt: str) -> str | int:
    """`t` as a client may send it: 'Z', an offset like '+05:30', or 'millis' (epoch ms)."""
    if fmt == "millis":
        return (t - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)
    if fmt == "Z":
        return t.astimezone(UTC).isoformat().replace("+00:00", "Z")
    sign = -1 if fmt[0] == "-" else 1
    hours, minutes = int(fmt[1:3]), int(fmt[4:6])
    return t.astimezone(timezone(sign * timedelta(hours=hours, minutes=minutes))).isoformat()


TYPED: Final[dict[str, tuple[str, ...]]] = {
    "session_start": ("session_id",),
    "session_end": ("session_id", "duration_seconds"),
    "purchase": ("amount", "currency"),
    "progression": ("level", "status"),
}


def body(
    etype: str,
    player: str,
    at: datetime,
    *,
    fmt: str = "Z",
    event_id: str | None = None,
    platform: str | None = None,
    country: str | None = None,
    app_version: str | None = None,
    **typed: Any,
) -> Body:
    """A valid event body; typed fields the type requires default to plain values."""
    defaults: dict[str, Any] = {
        "session_id": "s-1",
        "duration_seconds": 60.0,
        "amount": 1.0,
        "currency": "USD",
        "level": 1,
        "status": "complete",
    }
    out: Body = {
        "event_id": event_id or str(uuid.uuid4()),
        "type": etype,
        "player_id": player,
        "timestamp": render_time(at, fmt),
    }
    for name, value in (("platform", platform), ("country", country), ("app_version", app_version)):
        if value is not None:
            out[name] = value
    for name in TYPED.get(etype, ()):
        out[name] = typed.pop(name, defaults[name])
    out.update(typed)
    return out


# ---- hypothesis: event sets -------------------------------------------------------------


@dataclass
class _Draft:
    """One distinct event before rendering (so the first-event tie fix can still change it)."""

    event_id: str
    etype: str
    player: str
    at: datetime
    segment: tuple[str | None, str | None, str | None]
    typed: dict[str, Any]
    fmt: str

    def render(self) -> Body:
        platform, country, app_version = self.segment
        return body(
            self.etype, self.player, self.at, fmt=self.fmt, event_id=self.event_id,
            platform=platform, country=country, app_version=app_version, **self.typed,
        )  # fmt: skip


def boundary_days(today: date) -> list[date]:
    """Mondays and first days of months in the generated past, plus today and yesterday."""
    days = [today - timedelta(days=n) for n in range(OLDEST_DAYS - 20)]
    return sorted(
        {d for d in days if d.isoweekday() == 1 or d.day == 1} | {today, today - timedelta(1)}
    )


_FORMATS: Final = ("Z", "Z", "Z", "+02:00", "-07:30", "+14:00", "millis")
_amounts = st.one_of(
    st.sampled_from([0.99, 4.99, 100.0, 1234.5]),
    st.floats(min_value=0.01, max_value=5000, allow_subnormal=False),
)
_durations = st.one_of(
    st.sampled_from([0.0, 61.5, 1800.0]),
    st.floats(min_value=0, max_value=20000, allow_subnormal=False),
)


def _typed(draw: st.DrawFn, etype: str) -> dict[str, Any]:
    if etype == "session_start":
        return {"session_id": draw(st.sampled_from(["s-1", "s-2"]))}
    if etype == "session_end":
        return {"session_id": "s-1", "duration_seconds": draw(_durations)}
    if etype == "purchase":
        typed = {"amount": draw(_amounts), "currency": draw(st.sampled_from(CURRENCIES))}
        if draw(st.booleans()):
            typed["item_id"] = "gems_500"
        return typed
    if etype == "progression":
        level = draw(st.one_of(st.integers(0, 30), st.just("w1-l3")))
        return {"level": level, "status": draw(st.sampled_from(["start", "complete", "fail"]))}
    return {"properties": {"n": 1}} if draw(st.booleans()) else {}


def _maybe(values: Sequence[str]) -> st.SearchStrategy[str | None]:
    return st.one_of(st.none(), st.sampled_from(values))


@st.composite
def event_sets(draw: st.DrawFn, now: datetime) -> EventSet:
    """A few players' events over days around a week or month boundary, before `now`."""
    latest = (now - NOT_AFTER).replace(microsecond=0)
    today = now.astimezone(UTC).date()
    anchor = draw(st.sampled_from(boundary_days(today)))
    first = anchor - timedelta(days=draw(st.integers(0, 9)))
    last = min(anchor + timedelta(days=draw(st.integers(0, 9))), today)
    seed = draw(st.uuids())
    counter = iter(range(10**6))

    def new_id() -> str:
        return str(uuid.uuid5(seed, str(next(counter))))

    def draft(player: str, base: tuple[str | None, str | None, str | None]) -> _Draft:
        etype = draw(st.sampled_from(TYPES))
        day = first + timedelta(days=draw(st.integers(0, (last - first).days)))
        seconds = draw(st.one_of(st.sampled_from([0, 1, 43200, 86399]), st.integers(0, 86399)))
        millis = draw(st.sampled_from([0, 0, 0, 1, 500, 999]))
        at = datetime.combine(day, time(), UTC) + timedelta(seconds=seconds, milliseconds=millis)
        if draw(st.integers(0, 3)) == 0:
            segment = (draw(_maybe(PLATFORMS)), draw(_maybe(COUNTRIES)), draw(_maybe(VERSIONS)))
        else:
            segment = base
        fmt = draw(st.sampled_from(_FORMATS))
        return _Draft(new_id(), etype, player, min(at, latest), segment, _typed(draw, etype), fmt)

    players = draw(st.lists(st.sampled_from(PLAYERS), min_size=1, max_size=5, unique=True))
    drafts: list[_Draft] = []
    for player in players:
        base = (draw(_maybe(PLATFORMS)), draw(_maybe(COUNTRIES)), draw(_maybe(VERSIONS)))
        for _ in range(draw(st.integers(1, 10))):
            d = draft(player, base)
            own = [x for x in drafts if x.player == player]
            if own and draw(st.integers(0, 4)) == 0:  # the same instant as another (funnels)
                d.at = draw(st.sampled_from(own)).at
            drafts.append(d)

    n_waves = draw(st.integers(1, 3))
    if draw(st.booleans()):  # the newest first: older events arrive later
        ordered = sorted(drafts, key=lambda d: d.at, reverse=True)
        size = -(-len(ordered) // n_waves)
        waves = [ordered[i : i + size] for i in range(0, len(ordered), size)]
    else:
        order = draw(st.permutations(drafts))
        slots = draw(
            st.lists(st.integers(0, n_waves - 1), min_size=len(order), max_size=len(order))
        )
        waves = [[d for d, s in zip(order, slots, strict=True) if s == w] for w in range(n_waves)]
        waves = [w for w in waves if w]
    wave_of = {id(d): n for n, w in enumerate(waves) for d in w}

    # Duplicates: the same body again (same or a later wave), or other content under the
    # same id in a later wave (never stored: the first received wins); each followed by news.
    for _ in range(draw(st.integers(0, 3))):
        original = draw(st.sampled_from(drafts))
        src_wave = wave_of[id(original)]
        if draw(st.booleans()):
            copy, target = original, draw(st.integers(src_wave, len(waves)))
        else:
            other = draw(st.sampled_from(players))
            copy = replace(draft(other, (None, None, None)), event_id=original.event_id)
            target = src_wave + 1
        if target == len(waves):
            waves.append([])
        trailer = draft(copy.player, copy.segment)
        drafts.append(trailer)
        wave_of[id(trailer)] = target
        waves[target] += [copy, trailer]

    _untie_first_events(drafts)
    return EventSet(tuple(tuple(d.render() for d in w) for w in waves))


def _untie_first_events(drafts: Sequence[_Draft]) -> None:
    """Give a player's events at one instant one segment: whichever waves have arrived, a
    player's earliest events never disagree (the contract has no rule for such a tie)."""
    first_at: dict[tuple[str, datetime], _Draft] = {}
    for d in drafts:
        d.segment = first_at.setdefault((d.player, d.at), d).segment


# ---- hypothesis: queries ----------------------------------------------------------------

_FILTER_VALUES: Final = {
    "platform": (*PLATFORMS, "", "switch"),
    "country": ("DE", "US", "BR", "", "FR"),
    "app_version": (*VERSIONS, "", "9.9"),
}
filters = st.one_of(
    st.none(),
    st.builds(
        Filter,
        platform=_maybe(_FILTER_VALUES["platform"]),
        country=_maybe(_FILTER_VALUES["country"]),
        app_version=_maybe(_FILTER_VALUES["app_version"]),
    ),
)


@st.composite
def query_plans(draw: st.DrawFn, events: Sequence[Event], today: date) -> list[Query]:
    """Two queries of each kind over ranges around the events' days, with arguments varied."""
    first_day = min(e.day for e in events)
    last_day = max(e.day for e in events)
    lo, hi = first_day - timedelta(days=3), min(last_day + timedelta(days=3), today + timedelta(1))

    def day_range() -> tuple[date, date]:
        a = lo + timedelta(days=draw(st.integers(0, (hi - lo).days)))
        b = a + timedelta(days=draw(st.integers(0, (hi - a).days)))
        return a, b

    queries: list[Query] = []
    for metric in SERIES_METRICS:
        for _ in range(2):
            granularity = draw(st.one_of(st.none(), st.sampled_from(GRANULARITIES)))
            queries.append(Series(metric, *day_range(), granularity, draw(filters)))
    for _ in range(2):
        days = draw(
            st.one_of(
                st.none(),
                st.lists(
                    st.sampled_from([0, 1, 2, 3, 6, 7, 14, 30]), min_size=1, max_size=4, unique=True
                )
                .map(sorted)
                .map(tuple),
            )
        )
        queries.append(Retention(*day_range(), days, draw(filters)))
    for _ in range(2):
        steps = draw(st.lists(st.sampled_from((*TYPES, "never_sent")), min_size=1, max_size=4))
        window = draw(
            st.one_of(
                st.none(),
                st.sampled_from([0, 1, 60, 3600, 86400, 7 * 86400]),
                st.integers(0, 10 * 86400),
            )
        )
        queries.append(Funnel(*day_range(), tuple(steps), window, draw(filters)))
    times = sorted({e.time for e in events})
    for _ in range(2):
        bucket = draw(st.one_of(st.none(), st.sampled_from(BUCKETS)))
        longest = 7 * 86400 - 1 if bucket == "MINUTE" else (hi - lo).days * 86400 + 86400
        if draw(st.booleans()):
            start = draw(st.sampled_from(times))  # an event exactly at `from` (inclusive)
        else:
            start = datetime.combine(lo, time(), UTC) + timedelta(
                seconds=draw(st.integers(0, (hi - lo).days * 86400))
            )
        later = [t for t in times if start < t <= start + timedelta(seconds=longest)]
        at_event: bool = draw(st.booleans())
        if later and at_event:
            end = draw(st.sampled_from(later))  # an event exactly at `to` (exclusive)
        else:
            end = start + timedelta(seconds=draw(st.integers(1, longest)))
        types = draw(
            st.one_of(
                st.none(), st.lists(st.sampled_from(TYPES), min_size=1, max_size=3, unique=True)
            )
        )
        zone = draw(st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30))]))
        queries.append(
            EventCounts(
                start.astimezone(zone),
                end.astimezone(zone),
                bucket,
                None if types is None else tuple(types),
            )
        )
    return queries


# ---- hand-written edge cases ------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    name: str
    events: EventSet
    queries: list[Query] = field(default_factory=list)


def all_series(first: date, last: date, flt: Filter | None = None) -> list[Query]:
    """Every series metric at every granularity over [first, last]."""
    return [Series(m, first, last, g, flt) for m in SERIES_METRICS for g in GRANULARITIES]


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


def _news(player: str, at: datetime) -> Body:
    """A new event that follows a duplicate in its wave (see `EventSet`)."""
    return body("design", player, at)


def boundaries_case(now: datetime) -> Case:
    """Sunday 23:59:59.999 / Monday 00:00, a month's last instant / the 1st, sent in offsets."""
    today = now.date()
    monday = today - timedelta(days=today.isoweekday() - 1 + 14)
    first_of = (today - timedelta(days=10)).replace(day=1)
    sunday_end = _midnight(monday) - timedelta(milliseconds=1)
    month_end = _midnight(first_of) - timedelta(milliseconds=1)
    wave = (
        body("session_start", "ana", sunday_end, fmt="+02:00", platform="ios"),
        body("session_end", "ana", sunday_end, fmt="-07:30", platform="ios", duration_seconds=30),
        body("purchase", "ana", _midnight(monday), fmt="millis", platform="ios", amount=2.5,
             currency="EUR"),
        body("design", "bo", _midnight(monday), platform="android", country="de"),
        body("session_end", "bo", _midnight(monday) + timedelta(days=6, hours=23, minutes=59),
             platform="android", duration_seconds=90.25),
        body("purchase", "cy", month_end, fmt="+14:00", amount=1000, currency="JPY"),
        body("session_end", "cy", month_end, duration_seconds=12),
        body("purchase", "cy", _midnight(first_of), fmt="-07:30", amount=3, currency="GBP"),
        body("design", "dee", _midnight(first_of) + timedelta(hours=12), app_version="2.0"),
    )  # fmt: skip
    queries: list[Query] = [
        *all_series(monday - timedelta(days=3), monday + timedelta(days=2)),
        *all_series(first_of - timedelta(days=5), first_of + timedelta(days=3)),
        *all_series(monday, monday, Filter(platform="ios")),
        Series("activeUsers", monday - timedelta(1), monday + timedelta(7), "WEEK",
               Filter(country="DE")),
        Retention(monday - timedelta(1), monday, (1, 6, 7)),
        EventCounts(sunday_end - timedelta(hours=1), _midnight(monday) + timedelta(hours=1),
                    "HOUR"),
        EventCounts(month_end, _midnight(first_of) + timedelta(days=1), "DAY"),
        EventCounts(month_end - timedelta(minutes=3), _midnight(first_of) + timedelta(minutes=3),
                    "MINUTE"),
    ]  # fmt: skip
    return Case("week-and-month-boundaries", EventSet((wave,)), queries)


def late_events_case(now: datetime) -> Case:
    """A player's first event arrives last (and moves acquisition); a player first seen earlier."""
    d0 = now.date() - timedelta(days=40)
    at = _midnight(d0) + timedelta(hours=10)
    waves = (
        (
            body("design", "lou", at + timedelta(days=5), platform="android", country="BR",
                 app_version="2.0"),
            body("session_end", "lou", at + timedelta(days=5, hours=1), platform="android",
                 duration_seconds=100),
            body("design", "max", at + timedelta(days=1), platform="ios"),
        ),
        (body("design", "lou", at + timedelta(days=1), platform="web", country="PT"),),
        (
            body("design", "lou", at, platform="ios", country="PT", app_version="1.0"),
            body("design", "max", at - timedelta(days=20), platform="android"),
        ),
    )  # fmt: skip
    queries: list[Query] = [
        *all_series(d0, d0 + timedelta(days=6)),
        *all_series(d0, d0 + timedelta(days=6), Filter(platform="ios")),
        *all_series(d0, d0 + timedelta(days=6), Filter(platform="android")),
        Retention(d0, d0 + timedelta(days=1), (1, 5)),
        Retention(d0, d0, (1, 5), Filter(platform="ios", country="PT")),
        Retention(d0, d0, (1, 5), Filter(platform="android")),
        Retention(d0 - timedelta(days=20), d0 - timedelta(days=20), (21,)),
        Funnel(d0, d0 + timedelta(days=6), ("design", "design", "session_end"), 6 * 86400),
    ]
    return Case("late-events", EventSet(waves), queries)


def duplicates_case(now: datetime) -> Case:
    """One id sent twice in a request, again later (upper case), and with other content."""
    day = now.date() - timedelta(days=3)
    at = _midnight(day) + timedelta(hours=9)
    buy = body("purchase", "ana", at, amount=10, currency="EUR", platform="ios")
    end = body("session_end", "bo", at, duration_seconds=50)
    waves = (
        (buy, buy, end, _news("ana", at + timedelta(minutes=1))),
        (
            {**buy, "event_id": buy["event_id"].upper()},
            _news("ana", at + timedelta(minutes=2)),
            body("purchase", "cy", at - timedelta(days=1), event_id=end["event_id"], amount=999,
                 currency="USD"),
            _news("cy", at + timedelta(minutes=3)),
            body("session_end", "bo", at + timedelta(days=1), event_id=end["event_id"],
                 duration_seconds=5000),
            _news("bo", at + timedelta(minutes=4)),
        ),
    )  # fmt: skip
    queries: list[Query] = [
        *all_series(day - timedelta(days=1), day + timedelta(days=1)),
        Funnel(day - timedelta(days=1), day, ("purchase", "design")),
        EventCounts(at - timedelta(days=2), at + timedelta(days=2), "DAY"),
    ]
    return Case("duplicates", EventSet(waves), queries)


def currencies_case(now: datetime) -> Case:
    """Purchases in six currencies, on segments with and without attributes."""
    day = now.date() - timedelta(days=12)
    at = _midnight(day) + timedelta(hours=15)
    purchases = [
        ("ana", 4.99, "EUR", "ios", "de"),
        ("ana", 0.99, "USD", "ios", "DE"),
        ("bo", 1200, "JPY", "android", None),
        ("bo", 15000, "KRW", None, None),
        ("cy", 7.5, "GBP", None, "BR"),
        ("cy", 19.9, "BRL", "web", "br"),
        ("dee", 2.0, "USD", "web", None),
    ]
    wave = (
        *(
            body("purchase", player, at + timedelta(minutes=i), amount=amount, currency=cur,
                 platform=platform, country=country)
            for i, (player, amount, cur, platform, country) in enumerate(purchases)
        ),
        body("design", "ed", at, platform="ios"),
    )  # fmt: skip
    queries: list[Query] = [
        *all_series(day, day),
        *all_series(day - timedelta(days=2), day, Filter(platform="")),
        *all_series(day, day, Filter(country="BR")),
        *all_series(day, day, Filter(platform="ios", country="DE")),
        *all_series(day, day, Filter(country="")),
        *all_series(day, day, Filter(platform="web", app_version="")),
    ]  # fmt: skip
    return Case("currencies-and-filters", EventSet((wave,)), queries)


def funnel_case(now: datetime) -> Case:
    """Equal times, exactly the window, a second over, step 1 before `from`, a step after `to`."""
    first = now.date() - timedelta(days=20)
    last = first + timedelta(days=2)
    t = _midnight(first) + timedelta(hours=12)
    day = timedelta(days=1)
    steps = ("session_start", "purchase", "session_end")
    wave = (
        # a: equal times, then exactly 86400 s after step 1: all three
        body("session_start", "a", t), body("purchase", "a", t),
        body("session_end", "a", t + day),
        # b: one second over the window: two
        body("session_start", "b", t), body("purchase", "b", t + timedelta(hours=1)),
        body("session_end", "b", t + day + timedelta(seconds=1)),
        # c: step 1 only before `from`: nothing
        body("session_start", "c", t - day), body("purchase", "c", t - timedelta(hours=20)),
        # d: step 1 late on `to`, step 2 the next day (after `to`): two
        body("session_start", "d", _midnight(last) + timedelta(hours=23)),
        body("purchase", "d", _midnight(last) + timedelta(hours=25)),
        # e: steps in the wrong order: one
        body("purchase", "e", t), body("session_start", "e", t + timedelta(seconds=1)),
        # f: a repeated step needs a second event; g has it at the same instant
        body("design", "f", t), body("design", "g", t, platform="ios"),
        body("design", "g", t, platform="ios"),
        # h: a second step-1 event that is in range rescues it
        body("session_start", "h", t - day), body("session_start", "h", t + timedelta(hours=2)),
        body("purchase", "h", t + timedelta(hours=3)),
    )  # fmt: skip
    queries: list[Query] = [
        Funnel(first, last, steps),
        Funnel(first, last, steps, 86400),
        Funnel(first, last, steps, 0),
        Funnel(first, last, steps, 86401),
        Funnel(first, first, steps, 3600),
        Funnel(first, last, ("design", "design")),
        Funnel(first, last, ("design", "design", "design")),
        Funnel(first, last, ("design", "design"), None, Filter(platform="ios")),
        Funnel(first, last, ("purchase",)),
        Funnel(first, last, ("never_sent", "purchase")),
        Funnel(first - timedelta(days=1), last, steps, 3 * 86400),
    ]
    return Case("funnel", EventSet((wave,)), queries)


def retention_case(now: datetime) -> Case:
    """Cohorts up to today: points after today are left out; players first seen before the range."""
    latest = now - timedelta(minutes=5)
    today = latest.date()
    wave = (
        *(
            body("design", f"p{n}", at, platform="ios" if n % 2 else "android")
            for n in (1, 2, 6, 7, 29, 30, 31)
            for at in (latest - timedelta(days=n), latest)
        ),
        body("design", "p1", latest - timedelta(hours=1)),
    )
    queries: list[Query] = [
        Retention(today - timedelta(days=31), today),
        Retention(today - timedelta(days=31), today, (1, 2, 6, 7, 29, 30, 31)),
        Retention(today - timedelta(days=31), today, (1, 30), Filter(platform="ios")),
        Retention(today - timedelta(days=2), today + timedelta(days=1), (1,)),
        Series("newUsers", today - timedelta(days=7), today, "WEEK"),
        Series("activeUsers", today - timedelta(days=7), today, "WEEK"),
    ]
    return Case("retention-near-today", EventSet((wave,)), queries)


def event_counts_case(now: datetime) -> Case:
    """`from` inclusive, `to` exclusive, unaligned edges, type filters, offsets."""
    ten = _midnight(now.date() - timedelta(days=5)) + timedelta(hours=10)
    wave = (
        body("design", "a", ten), body("ui.click", "a", ten),
        body("design", "b", ten + timedelta(minutes=59, seconds=59, milliseconds=999)),
        body("design", "b", ten + timedelta(hours=1)),
        body("level_up", "c", ten + timedelta(minutes=30, milliseconds=1)),
        body("ui.click", "c", ten - timedelta(minutes=30)),
    )  # fmt: skip
    plus2 = timezone(timedelta(hours=2))
    queries: list[Query] = [
        EventCounts(ten, ten + timedelta(hours=1)),
        EventCounts(ten, ten + timedelta(hours=1), "MINUTE"),
        EventCounts(ten - timedelta(minutes=29, seconds=45), ten + timedelta(hours=1, seconds=1),
                    "HOUR"),
        EventCounts(ten, ten + timedelta(hours=2), "DAY", ("design", "level_up")),
        EventCounts(ten.astimezone(plus2), (ten + timedelta(hours=1)).astimezone(plus2), "MINUTE",
                    ("ui.click",)),
        EventCounts(ten + timedelta(milliseconds=1), ten + timedelta(minutes=30, milliseconds=1),
                    "MINUTE"),
        EventCounts(ten - timedelta(days=3), ten - timedelta(days=2)),
    ]  # fmt: skip
    return Case("event-counts", EventSet((wave,)), queries)


def empty_range_case(now: datetime) -> Case:
    """Ranges with no events: every bucket still appears, with zeros."""
    day = now.date() - timedelta(days=30)
    wave = (body("purchase", "a", _midnight(day) + timedelta(hours=1)),)
    before = day - timedelta(days=45)
    queries: list[Query] = [
        *all_series(before, before + timedelta(days=40)),
        Retention(before, before + timedelta(days=2)),
        Funnel(before, before + timedelta(days=2), ("purchase",)),
        EventCounts(_midnight(before), _midnight(before + timedelta(days=1)), "HOUR"),
    ]
    return Case("empty-ranges", EventSet((wave,)), queries)


EDGE_CASES: Final[tuple[Callable[[datetime], Case], ...]] = (
    boundaries_case,
    late_events_case,
    duplicates_case,
    currencies_case,
    funnel_case,
    retention_case,
    event_counts_case,
    empty_range_case,
)


# ---- sending through the real pipeline --------------------------------------------------


def stored_ids(dsn: str, game_id: uuid.UUID) -> set[str]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT event_id::text FROM events WHERE game_id = %s", (game_id,)
        ).fetchall()
    return {r[0] for r in rows}


def deliver(
    client: httpx.Client,
    auth: Mapping[str, str],
    game_id: uuid.UUID,
    events: EventSet,
    dsn: str,
    *,
    start: int = 0,
    stop: int | None = None,
    sent_at: str | None = None,
) -> None:
    """POST waves[start:stop] to the ingestion API, each once PostgreSQL holds the one before.

    The waves before `start` must have been delivered already. `sent_at` (the
    client's clock when sending) makes the server correct the times by its skew.
    """
    new_ids = events.new_ids()
    expected = set().union(*new_ids[:start])
    stop = len(events.waves) if stop is None else stop
    for number in range(start, stop):
        wave = events.waves[number]
        batch: Body = {"events": list(wave)}
        if sent_at is not None:
            batch["sent_at"] = sent_at
        r = client.post("/v1/events", json=batch, headers=dict(auth))
        assert r.status_code == 202, r.text
        assert r.json()["rejected"] == []
        expected |= new_ids[number]
        poll_until(
            partial(_holds, dsn, game_id, frozenset(expected)),
            timeout=60, what=f"wave {number} of {len(events.waves)} in PostgreSQL",
        )  # fmt: skip
    assert stored_ids(dsn, game_id) == expected


def _holds(dsn: str, game_id: uuid.UUID, ids: frozenset[str]) -> bool:
    return ids <= stored_ids(dsn, game_id)


def received_times(dsn: str, game_id: uuid.UUID) -> dict[str, datetime]:
    """When the server received each stored event (the first copy: duplicates are not stored)."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT event_id::text, received_at FROM events WHERE game_id = %s", (game_id,)
        ).fetchall()
    return dict(rows)
