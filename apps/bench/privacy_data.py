"""The players the privacy benchmark erases: heavy players of the analytics game (pure, seeded).

Each target plays on most days of the period (85%, the first and last day
always), 2 to 4 sessions a day; a session is `session_start`, gameplay events
and `session_end` with its duration, a purchase in one session of eight. They
play on a phone (iOS), a second phone (Android, a session in five) and the web
(one in ten, no app version), mostly from one country (one session in twenty
abroad), and upgrade the app as `analytics_data.VERSIONS` ship. Exactly
`events` events per target, as rows the processor stores (`records.COLUMNS`
order, event ids UUIDv7 of the event time), a day per list in time order.
"""

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Final

from apps.bench.analytics_data import VERSIONS
from apps.processor.records import Row

_GAMEPLAY: Final = (
    ("level_start", '{"level":12}'), ("level_complete", '{"level":12,"stars":2}'),
    ("ui.click", '{"button":"play"}'), ("ad_impression", '{"placement":"rewarded"}'),
    ("resource", '{"flow":"sink","currency":"gems","amount":10}'),
)  # fmt: skip
_PLATFORMS: Final = (("ios", 0.70), ("android", 0.90), ("web", 1.0))
"""(platform, cumulative share of sessions)."""
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Target:
    """One player to erase, and how many of their events were stored."""

    player_id: str
    events: int


def target_ids(seed: int, count: int) -> list[str]:
    """UUID text ids, never one of `analytics_data.player_ids_of`'s (another seed stream)."""
    rng = random.Random(f"privacy-targets/{seed}")
    return [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(count)]


def _sessions(rng: random.Random, days: int, events: int) -> list[tuple[int, int]]:
    """(day, hour) of each session, trimmed so each can hold a start, an end and one more."""
    if events < 3:
        raise ValueError(f"a target needs at least 3 events (start, play, end), not {events}")
    active = [d for d in range(days) if d in (0, days - 1) or rng.random() < 0.85]
    out = []
    for d in active:
        hours = sorted(rng.sample(range(7, 23), rng.randint(2, 4)))
        out += [(d, h) for h in hours]
    while len(out) > max(events // 3, 1):
        out.pop(rng.randrange(len(out)))
    return out


def target_rows(
    game_id: uuid.UUID, first_day: date, days: int, player_id: str, events: int, seed: int
) -> Iterator[list[Row]]:
    """The player's rows, a day per list (days without play are skipped)."""
    rng = random.Random(f"privacy-rows/{seed}/{player_id}")
    sessions = _sessions(rng, days, events)
    buys = [rng.random() < 0.125 for _ in sessions]
    gameplay = events - 2 * len(sessions) - sum(buys)
    if gameplay < len(sessions):  # tiny targets: no purchases, a play event per session
        buys = [False] * len(sessions)
        gameplay = events - 2 * len(sessions)
    base, extra = divmod(gameplay, len(sessions))
    day_rows: list[Row] = []
    current = sessions[0][0]
    for i, (d, hour) in enumerate(sessions):
        if d != current:
            yield day_rows
            day_rows, current = [], d
        n = base + (i < extra)
        pick = rng.random()
        platform = next(p for p, cum in _PLATFORMS if pick < cum)
        country = "DE" if rng.random() >= 0.05 else rng.choice(("FR", "AT", "ES"))
        version = None if platform == "web" else VERSIONS[min(d * len(VERSIONS) // days,
                                                              len(VERSIONS) - 1)]  # fmt: skip
        day_start = datetime.combine(first_day + timedelta(days=d), datetime.min.time(), UTC)
        start = day_start + timedelta(hours=hour, seconds=rng.randrange(600))
        # Gaps shrink in long sessions so that each stays inside its day.
        gap = min(30.0, (day_start + timedelta(days=1) - start).total_seconds() / (n + 3))
        kinds = [_GAMEPLAY[rng.randrange(len(_GAMEPLAY))] for _ in range(n)]
        if buys[i]:
            kinds.insert(rng.randint(0, n), ("purchase", '{"store":"app","sku":"gems_medium"}'))
        sid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        attrs = (player_id, sid, platform, country, version)
        at = start
        day_rows.append(_row(rng, game_id, attrs, at, "session_start", "{}"))
        for kind, props in kinds:
            at += timedelta(seconds=rng.uniform(gap / 3, gap))
            day_rows.append(_row(rng, game_id, attrs, at, kind, props))
        at += timedelta(seconds=rng.uniform(gap / 3, gap))
        duration = round((at - start).total_seconds(), 3)
        day_rows.append(_row(rng, game_id, attrs, at, "session_end", "{}", duration))
    yield day_rows


def _row(
    rng: random.Random, game_id: uuid.UUID, attrs: tuple[str, str, str, str, str | None],
    at: datetime, kind: str, props: str, duration: float | None = None,
) -> Row:  # fmt: skip
    player_id, sid, platform, country, version = attrs
    ms = (at - _EPOCH) // timedelta(milliseconds=1)
    rand = rng.getrandbits(76) & ~(0b11 << 62)
    event_id = uuid.UUID(int=(ms << 80) | (0x7 << 76) | rand | (0b10 << 62))
    buy = kind == "purchase"
    return (
        game_id, event_id, kind, player_id, sid, at, at,
        at + timedelta(seconds=rng.uniform(0.2, 20.0)), platform, country, version, props,
        duration, 4.99 if buy else None, "EUR" if buy else None,
        "gems_medium" if buy else None, None, None,
    )  # fmt: skip
