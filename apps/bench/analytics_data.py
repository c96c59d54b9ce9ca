"""A game's history for the analytics benchmark, as rows the processor stores (pure, seeded).

The shape: players are acquired over the period (growing by half from the
first day to the last, 20% more at weekends). A player comes back on day N
after their first with probability min(1, 0.35 x engagement / sqrt(N)), the
engagement varying between players (mean 1). An active day has 1 to 3
sessions; a session is `session_start`, gameplay events (levels, clicks, ads,
resources, errors; a tutorial on the first session) and `session_end` with
its `duration_seconds`, all on the same UTC day, with a purchase in about 2.5%
of sessions (a player's propensity depends on their spending tier), priced in
the currency of their country or in USD. Platform, country and app version
are the player's at acquisition but move afterwards: app upgrades as new
versions ship, 2% of players switch between iOS and Android, a few days are
played abroad or without a known country, and web events carry no app version.

Exactly `events` events are generated: the plan fixes every session first,
then spreads the gameplay events over them. Rows come day by day in event
time order (as the processor receives them), in `records.COLUMNS` order with
the Python types of `records.to_row`; event ids are UUIDv7 of the event time.
"""

import bisect
import itertools
import math
import random
import uuid
from array import array
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from operator import itemgetter
from typing import Final

from apps.core.currency import USD_PER_UNIT
from apps.processor.records import Row

SESSION_START: Final = "session_start"
SESSION_END: Final = "session_end"
PURCHASE: Final = "purchase"
TUTORIAL: Final = "tutorial_complete"
LEVEL_START: Final = "level_start"
LEVEL_COMPLETE: Final = "level_complete"
FUNNEL_STEPS: Final = (SESSION_START, LEVEL_COMPLETE, PURCHASE)
"""A 3-step funnel over types this generator emits."""

GENERATOR_VERSION: Final = 1
"""Bump when the rows a spec gives change: a data folder loaded by another version is refused."""
RETURN_RATE: Final = 0.35
_DAY_US: Final = 86_400_000_000
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)

# (type, weight, properties as the compact JSON validation stores; "{level}": the level)
_GAMEPLAY: Final = (
    (LEVEL_START, 25, '{{"level":{level}}}'),
    (LEVEL_COMPLETE, 18, '{{"level":{level},"stars":3}}'),
    ("level_fail", 7, '{{"level":{level}}}'),
    ("ui.click", 22, '{"button":"play"}'),
    ("ad_impression", 13, '{"placement":"rewarded","network":"admob"}'),
    ("resource", 14, '{"flow":"source","currency":"gems","amount":25}'),
    ("error", 1, '{"code":"E_NET_TIMEOUT"}'),
)
_GAMEPLAY_CUM: Final = list(itertools.accumulate(w for _, w, _ in _GAMEPLAY))
_MAX_LEVEL: Final = 300

PLATFORMS: Final = ("ios", "android", "web")
_PLATFORM_CUM: Final = (45, 95, 100)
# (country, weight, local currency)
COUNTRIES: Final = (
    ("US", 28, "USD"), ("BR", 8, "BRL"), ("IN", 8, "INR"), ("DE", 7, "EUR"), ("JP", 6, "JPY"),
    ("GB", 5, "GBP"), ("FR", 5, "EUR"), ("KR", 4, "KRW"), ("MX", 4, "MXN"), ("ID", 4, "IDR"),
    ("CA", 3, "CAD"), ("TR", 3, "TRY"), ("PH", 3, "PHP"), ("PL", 2, "PLN"), ("AU", 2, "AUD"),
    ("SE", 2, "SEK"), ("TH", 2, "THB"), ("ZA", 2, "ZAR"), ("AR", 2, "ARS"),
)  # fmt: skip
_COUNTRY_CUM: Final = list(itertools.accumulate(w for _, w, _ in COUNTRIES))
VERSIONS: Final = ("2.3.1", "2.4.0", "2.5.0", "2.5.2", "2.6.0")
_RELEASED_AT: Final = (-1.0, 0.2, 0.45, 0.6, 0.85)
"""When each version ships, as a fraction of the period (new installs get the latest)."""
# (item, USD price, weight)
_ITEMS: Final = (
    ("gems_small", 0.99, 40), ("gems_medium", 4.99, 25), ("starter_pack", 1.99, 15),
    ("gems_large", 19.99, 8), ("season_pass", 9.99, 8), ("gems_huge", 99.99, 1),
    ("remove_ads", 2.99, 3),
)  # fmt: skip
_ITEM_CUM: Final = list(itertools.accumulate(w for _, _, w in _ITEMS))
# (share of players, purchase chance per session, engagement multiplier)
_TIERS: Final = ((0.90, 0.006, 0.9), (0.08, 0.07, 1.6), (0.02, 0.25, 2.2))
_ENGAGEMENT: Final = ((0.3, 0.35), (0.7, 0.35), (1.5, 0.2), (3.0, 0.1))
"""(multiplier, share): the spread of players' return rates around the curve."""
_HOUR_WEIGHTS: Final = (3, 2, 2, 2, 2, 2, 3, 4, 4, 4, 4, 5, 5, 5, 5, 5, 6, 6, 7, 8, 8, 7, 6, 4)
_HOUR_CUM: Final = list(itertools.accumulate(_HOUR_WEIGHTS))

_Emit = Callable[[str, int, str, float | None, tuple[float, str, str] | None], None]
"""emit(type, event time in µs since the epoch, properties, duration, (amount, currency, item))"""


@dataclass(frozen=True, slots=True)
class DataSpec:
    """What to generate; the same spec (and game) always gives the same rows."""

    game_id: uuid.UUID
    first_day: date
    events: int = 10_000_000
    players: int = 200_000
    days: int = 90
    seed: int = 1

    @property
    def last_day(self) -> date:
        return self.first_day + timedelta(days=self.days - 1)


@dataclass(slots=True)
class Shape:
    """What was generated, counted while generating."""

    events: int = 0
    players: int = 0
    sessions: int = 0
    purchases: int = 0
    player_days: int = 0
    by_type: dict[str, int] = field(default_factory=dict)
    by_currency: dict[str, int] = field(default_factory=dict)
    active_per_day: list[int] = field(default_factory=list)
    new_per_day: list[int] = field(default_factory=list)
    rows_with_other_attributes: int = 0
    """Events whose platform, country or app version differ from the player's acquisition."""


@dataclass(slots=True)
class _Plan:
    """Every player and session, fixed before any row is made."""

    player_ids: list[str]
    acquired: "array[int]"
    platform: "array[int]"
    country: "array[int]"
    tier: "array[int]"
    version: "array[int]"
    """App version (index into VERSIONS) of each player's first event."""
    day_players: "list[array[int]]"
    """Active players of each day, ascending."""
    day_sessions: list[bytes]
    """Sessions of each active player that day (aligned with day_players)."""
    purchase: bytearray
    """Per session, in generation order: 1 when it holds a purchase."""
    gameplay: "array[int]"
    """Per session, in generation order: how many gameplay events it holds."""


def _pick(rng: random.Random, cum: Sequence[float]) -> int:
    return bisect.bisect_right(cum, rng.random() * cum[-1])


def _plan(spec: DataSpec) -> _Plan:
    rng = random.Random(f"plan/{spec.seed}")
    days = spec.days
    weights = [
        (1 + 0.5 * d / max(days - 1, 1)) * (1.2 if (spec.first_day + timedelta(d)).weekday() >= 5
                                            else 1.0)
        for d in range(days)
    ]  # fmt: skip
    day_cum = list(itertools.accumulate(weights))
    tier_cum = list(itertools.accumulate(share for share, _, _ in _TIERS))
    eng_cum = list(itertools.accumulate(share for _, share in _ENGAGEMENT))
    acquired = array("H", sorted(_pick(rng, day_cum) for _ in range(spec.players)))
    player_ids = player_ids_of(spec.seed, spec.players)
    platform = array("B", (_pick(rng, _PLATFORM_CUM) for _ in acquired))
    country = array("B", (_pick(rng, _COUNTRY_CUM) for _ in acquired))
    tier = array("B", (_pick(rng, tier_cum) for _ in acquired))
    # New installs get the version shipping that day, one in ten the one before.
    version = array("B", (max(_version_at(first / days) - (rng.random() < 0.1), 0)
                          for first in acquired))  # fmt: skip
    actives: list[list[int]] = [[] for _ in range(days)]
    rates = [RETURN_RATE / math.sqrt(n) if n else 1.0 for n in range(days)]
    for p, first in enumerate(acquired):
        engagement = _ENGAGEMENT[_pick(rng, eng_cum)][0] * _TIERS[tier[p]][2]
        actives[first].append(p)
        for n in range(1, days - first):
            if rng.random() < rates[n] * engagement:
                actives[first + n].append(p)
    day_players = [array("i", a) for a in actives]
    day_sessions = [bytes(_pick(rng, (50, 80, 100)) + 1 for _ in a) for a in actives]
    sessions = sum(sum(s) for s in day_sessions)
    chance = [t[1] for t in _TIERS]
    purchase = bytearray(sessions)
    at = 0
    for d in range(days):
        for p, count in zip(day_players[d], day_sessions[d], strict=True):
            for _ in range(count):
                purchase[at] = rng.random() < chance[tier[p]]
                at += 1
    # Gameplay events spread over the sessions (long-tailed lengths) so that the total is exact.
    wanted = max(spec.events - 2 * sessions - sum(purchase) - len(acquired), 0)
    lengths = [0.25 + rng.expovariate(1 / 0.75) for _ in range(sessions)]
    scale = wanted / sum(lengths) if sessions else 0.0
    gameplay = array("H")
    total, cumulative = 0, 0.0
    for x in lengths:
        cumulative += x
        upto = min(math.floor(cumulative * scale + 1e-9), wanted)
        gameplay.append(upto - total)
        total = upto
    if sessions:
        gameplay[-1] += wanted - total
    return _Plan(player_ids, acquired, platform, country, tier, version, day_players,
                 day_sessions, purchase, gameplay)  # fmt: skip


def player_ids_of(seed: int, count: int) -> list[str]:
    """The ids of the first `count` players (UUID text, as SDKs send)."""
    rng = random.Random(f"players/{seed}")
    return [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(count)]


def _version_at(day_fraction: float) -> int:
    return bisect.bisect_right(_RELEASED_AT, day_fraction) - 1


def _uuid7(rng: random.Random, unix_ms: int) -> uuid.UUID:
    rand = rng.getrandbits(74)
    return uuid.UUID(
        int=(unix_ms << 80) | (0x7 << 76) | ((rand >> 62) << 64) | (0b10 << 62)
        | (rand & ((1 << 62) - 1))
    )  # fmt: skip


def _price(currency: str, usd: float) -> float:
    local = usd / USD_PER_UNIT[currency]
    return float(round(local)) if USD_PER_UNIT[currency] < 0.05 else round(local, 2)


class _Day:
    """Makes one day's rows; per-player state (version, level) carries across days."""

    def __init__(self, spec: DataSpec, plan: _Plan, shape: Shape) -> None:
        self.spec, self.plan, self.shape = spec, plan, shape
        self.rng = random.Random(f"rows/{spec.seed}")
        self.version = array("B", plan.version)
        self.level = array("H", [1] * spec.players)
        self.skew_us = array("q", bytes(8 * spec.players))
        for p in range(spec.players):
            if self.rng.random() < 0.03:
                self.skew_us[p] = self.rng.randint(-3_600_000_000, 3_600_000_000)
        self.session_at = 0
        self.props = {
            etype: [text.format(level=level) for level in range(_MAX_LEVEL + 1)]
            if "{level}" in text else [text]
            for etype, _, text in _GAMEPLAY
        }  # fmt: skip

    def rows(self, d: int) -> list[Row]:
        spec, plan, rng, shape = self.spec, self.plan, self.rng, self.shape
        day_start = datetime.combine(spec.first_day + timedelta(d), datetime.min.time(), UTC)
        day_us = (day_start - _EPOCH) // timedelta(microseconds=1)
        newest = _version_at(d / spec.days)
        # Sessions sent hours late only where that is still in the past when loading.
        late_ok = d < spec.days - 2
        out: list[Row] = []
        game = spec.game_id
        for p, sessions in zip(plan.day_players[d], plan.day_sessions[d], strict=True):
            pid = plan.player_ids[p]
            first_day = plan.acquired[p] == d
            platform = PLATFORMS[plan.platform[p]]
            country: str | None = COUNTRIES[plan.country[p]][0]
            if not first_day and self.version[p] < newest and rng.random() < 0.35:
                self.version[p] = newest
            if not first_day and platform != "web" and p % 50 == 0 and rng.random() < 0.3:
                platform = "android" if platform == "ios" else "ios"
            other = platform != PLATFORMS[plan.platform[p]] or (
                platform != "web" and self.version[p] != plan.version[p]
            )
            if not first_day:
                roll = rng.random()
                if roll < 0.005:
                    country, other = None, True
                elif roll < 0.015:
                    country, other = COUNTRIES[_pick(rng, _COUNTRY_CUM)][0], True
            version = None if platform == "web" else VERSIONS[self.version[p]]
            attrs = (platform, country, version)
            starts = sorted(rng.choices(range(24), cum_weights=_HOUR_CUM, k=sessions))
            rows_before = len(out)
            for s, hour in enumerate(starts):
                self._session(out, game, pid, p, attrs, day_us, hour, first_day and s == 0,
                              late_ok)  # fmt: skip
            if other:
                shape.rows_with_other_attributes += len(out) - rows_before
            shape.player_days += 1
        out.sort(key=itemgetter(5))
        shape.events += len(out)
        shape.active_per_day.append(len(plan.day_players[d]))
        return out

    def _session(self, out: list[Row], game: uuid.UUID, pid: str, p: int,
                 attrs: tuple[str, str | None, str | None], day_us: int, hour: int,
                 tutorial: bool, late_ok: bool) -> None:  # fmt: skip
        rng, plan, shape = self.rng, self.plan, self.shape
        n = plan.gameplay[self.session_at]
        buy = plan.purchase[self.session_at]
        self.session_at += 1
        shape.sessions += 1
        gaps = [rng.randint(3_000_000, 90_000_000) for _ in range(n + buy + tutorial + 1)]
        length = sum(gaps)
        start = max(min(hour * 3_600_000_000 + rng.randrange(3_600_000_000),
                        _DAY_US - length - 1), 0)  # fmt: skip
        sid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        kinds: list[str] = [_GAMEPLAY[_pick(rng, _GAMEPLAY_CUM)][0] for _ in range(n)]
        if tutorial:
            kinds.insert(0, TUTORIAL)
        if buy:
            kinds.insert(rng.randint(len(kinds) // 2, len(kinds)), PURCHASE)
        late = rng.random() < 0.01 and late_ok
        delay_us = rng.randint(3_600_000_000, 36 * 3_600_000_000) if late else 0
        t = day_us + start
        emit = self._emitter(out, game, pid, p, sid, attrs, delay_us)
        emit(SESSION_START, t, "{}", None, None)
        for kind, gap in zip(kinds, gaps, strict=False):
            t += gap
            if kind == PURCHASE:
                self._purchase(emit, t, p)
            elif kind == TUTORIAL:
                emit(TUTORIAL, t, '{"step":5}', None, None)
            else:
                emit(kind, t, self._properties(kind, p), None, None)
        t += gaps[-1]
        emit(SESSION_END, t, "{}", round((t - day_us - start) / 1e6, 3), None)

    def _properties(self, kind: str, p: int) -> str:
        texts = self.props[kind]
        if len(texts) == 1:
            return texts[0]
        level = self.level[p]
        if kind == LEVEL_COMPLETE and level < _MAX_LEVEL:
            self.level[p] = level + 1
        return texts[level]

    def _purchase(self, emit: _Emit, t: int, p: int) -> None:
        item, usd, _ = _ITEMS[_pick(self.rng, _ITEM_CUM)]
        local = COUNTRIES[self.plan.country[p]][2]
        currency = "USD" if self.rng.random() < 0.15 else local
        self.shape.purchases += 1
        self.shape.by_currency[currency] = self.shape.by_currency.get(currency, 0) + 1
        emit(PURCHASE, t, f'{{"store":"app","sku":"{item}"}}', None,
             (_price(currency, usd), currency, item))  # fmt: skip

    def _emitter(self, out: list[Row], game: uuid.UUID, pid: str, p: int, sid: str,
                 attrs: tuple[str, str | None, str | None], delay_us: int) -> _Emit:  # fmt: skip
        rng, by_type = self.rng, self.shape.by_type
        skew = timedelta(microseconds=self.skew_us[p])
        platform, country, version = attrs

        def emit(kind: str, t_us: int, props: str, duration: float | None,
                 buy: tuple[float, str, str] | None) -> None:  # fmt: skip
            at = _EPOCH + timedelta(microseconds=t_us)
            received = _EPOCH + timedelta(
                microseconds=t_us + delay_us + rng.randint(200_000, 20_000_000)
            )
            amount, currency, item = buy if buy is not None else (None, None, None)
            out.append((
                game, _uuid7(rng, t_us // 1000), kind, pid, sid, at, at + skew, received,
                platform, country, version, props, duration, amount, currency, item, None, None,
            ))  # fmt: skip
            by_type[kind] = by_type.get(kind, 0) + 1

        return emit


def generate(spec: DataSpec, shape: Shape | None = None) -> Iterator[list[Row]]:
    """Each day's rows in event time order, first day first; fills `shape` as it goes."""
    shape = shape if shape is not None else Shape()
    plan = _plan(spec)
    shape.players = spec.players
    shape.new_per_day = [0] * spec.days
    for first in plan.acquired:
        shape.new_per_day[first] += 1
    maker = _Day(spec, plan, shape)
    for d in range(spec.days):
        yield maker.rows(d)


def batches(spec: DataSpec, size: int = 5_000, shape: Shape | None = None) -> Iterator[list[Row]]:
    """`generate`'s rows in batches of `size` (the last one of the period may be shorter)."""
    pending: list[Row] = []
    for day in generate(spec, shape):
        pending += day
        while len(pending) >= size:
            yield pending[:size]
            del pending[:size]
    if pending:
        yield pending


def live_rows(spec: DataSpec, now: datetime, count: int, seconds: int = 300) -> list[Row]:
    """`count` events received in the `seconds` before `now` (whole players' moments of play),
    for liveStats: the processor keeps live rows only for recent receive times."""
    rng = random.Random(f"live/{spec.seed}/{now.isoformat()}")
    ids = player_ids_of(spec.seed, min(spec.players, 5_000))
    out: list[Row] = []
    for _ in range(count):
        received = now - timedelta(microseconds=rng.randrange(1_000_000, seconds * 1_000_000))
        at = received - timedelta(microseconds=rng.randrange(100_000, 5_000_000))
        kind = _GAMEPLAY[_pick(rng, _GAMEPLAY_CUM)][0]
        unix_ms = (at - _EPOCH) // timedelta(milliseconds=1)
        out.append((
            spec.game_id, _uuid7(rng, unix_ms), kind, rng.choice(ids), None, at, at, received,
            "android", "US", VERSIONS[-1], "{}", None, None, None, None, None, None,
        ))  # fmt: skip
    out.sort(key=itemgetter(5))
    return out
