"""One play session: the events a player sends from session_start to session_end.

Pure: every draw comes from the `random.Random` passed in and every time is
an argument. A session is advanced one event at a time (`emit`), so live
traffic can stamp each event with the sender's clock, or played whole over a
planned length (`play`) for history.
"""

import itertools
import math
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from apps.core import events
from apps.simulate import catalog
from apps.simulate.players import Player

PURCHASE_CHANCE: Final = 0.3
"""Chance that a session of a paying player holds a purchase."""
SESSION_SECONDS_MEDIAN: Final = 420.0
SESSION_SECONDS_SIGMA: Final = 0.8
SESSION_SECONDS_RANGE: Final = (30.0, 3 * 3600.0)
SECONDS_PER_EVENT: Final = 20.0
"""Mean gap between two events of a session."""
TUTORIAL_CHANCE: Final = 0.6
LEVEL_WIN_CHANCE: Final = 0.7

_ITEM_CUM: Final = tuple(itertools.accumulate(catalog.ITEM_SHARES))
_KINDS: Final = (
    "ui.click",
    events.RESOURCE,
    events.PROGRESSION,
    events.DESIGN,
    "ad.impression",
    "social.share",
    events.ERROR,
)
_KIND_CUM: Final = tuple(itertools.accumulate((30, 22, 20, 12, 6, 2, 1.5)))

Body = dict[str, object]
"""One event as the wire carries it (msgspec encodes the datetime and the UUID)."""


@dataclass(slots=True)
class Session:
    player: Player
    session_id: str
    steps: int
    """Events between session_start and session_end."""
    purchase_at: int
    """The step that is a purchase; 0 for none."""
    start: datetime | None = None
    next_step: int = 0
    """0 is session_start, steps + 1 is session_end."""
    level_open: bool = False

    @property
    def done(self) -> bool:
        return self.next_step > self.steps + 1


def session_length(rng: random.Random) -> float:
    """Seconds, lognormal: most sessions last minutes, a few hours."""
    lo, hi = SESSION_SECONDS_RANGE
    drawn = rng.lognormvariate(math.log(SESSION_SECONDS_MEDIAN), SESSION_SECONDS_SIGMA)
    return min(max(drawn, lo), hi)


def new_session(rng: random.Random, player: Player, length: float) -> Session:
    """A session with as many events as `length` seconds of play holds."""
    steps = max(1, round(length / SECONDS_PER_EVENT))
    purchase_at = 0
    if player.payer and rng.random() < PURCHASE_CHANCE:
        purchase_at = rng.randint(1, steps)
    return Session(player, str(_uuid4(rng)), steps, purchase_at)


def play(
    rng: random.Random, player: Player, start: datetime, length: float
) -> list[tuple[datetime, Body]]:
    """A whole session, its events spread over `length` seconds from `start`."""
    session = new_session(rng, player, length)
    offsets = sorted(rng.uniform(0, length) for _ in range(session.steps))
    times = [start, *(start + timedelta(seconds=o) for o in offsets)]
    times.append(start + timedelta(seconds=length))
    return [(t, emit(rng, session, t)) for t in map(millis, times)]


def emit(rng: random.Random, s: Session, at: datetime) -> Body:
    """The session's next event at `at`; times must not go backwards within a session."""
    step = s.next_step
    s.next_step += 1
    player = s.player
    if step == 0:
        s.start = at
        player.sessions += 1
        return _event(
            rng, s, events.SESSION_START, at, properties={"session_number": player.sessions}
        )
    if step > s.steps:
        assert s.start is not None
        duration = max(0.0, (at - s.start).total_seconds())
        return _event(rng, s, events.SESSION_END, at, duration_seconds=duration)
    if step == s.purchase_at:
        tier = rng.choices(range(len(catalog.ITEMS)), cum_weights=_ITEM_CUM)[0]
        return _event(
            rng, s, events.PURCHASE, at,
            amount=catalog.PRICES[player.currency][tier],
            currency=player.currency,
            item_id=catalog.ITEMS[tier],
            properties={"store": catalog.STORE_OF_PLATFORM[player.platform]},
        )  # fmt: skip
    if player.tutorial_step < catalog.TUTORIAL_STEPS and rng.random() < TUTORIAL_CHANCE:
        player.tutorial_step += 1
        return _event(rng, s, "tutorial.step", at, properties={"step": player.tutorial_step})
    return _gameplay(rng, s, at)


def millis(at: datetime) -> datetime:
    """`at` truncated to whole milliseconds, the precision devices send."""
    return at.replace(microsecond=at.microsecond - at.microsecond % 1000)


def _gameplay(rng: random.Random, s: Session, at: datetime) -> Body:
    kind = rng.choices(_KINDS, cum_weights=_KIND_CUM)[0]
    player = s.player
    match kind:
        case events.PROGRESSION if not s.level_open:
            s.level_open = True
            return _event(rng, s, kind, at, level=player.level, status="start")
        case events.PROGRESSION:
            s.level_open = False
            if rng.random() < LEVEL_WIN_CHANCE:
                player.level += 1
                stats = {"score": rng.randrange(100, 5000, 10), "stars": rng.randint(1, 3)}
                return _event(
                    rng, s, kind, at, level=player.level - 1, status="complete", properties=stats
                )
            reason = {"reason": rng.choice(catalog.FAIL_REASONS)}
            return _event(rng, s, kind, at, level=player.level, status="fail", properties=reason)
        case events.RESOURCE:
            flow = rng.choice(("source", "sink"))
            properties: Body = {
                "flow": flow,
                "resource": rng.choice(catalog.RESOURCES),
                "quantity": rng.choice((5, 10, 25, 50, 100)),
                "reason": rng.choice(catalog.RESOURCE_REASONS[flow]),
            }
        case events.DESIGN:
            properties = {"name": rng.choice(catalog.DESIGN_NAMES)}
        case events.ERROR:
            severity, message = rng.choice(catalog.ERRORS)
            properties = {"severity": severity, "message": message}
        case "ad.impression":
            properties = {"placement": rng.choice(catalog.AD_PLACEMENTS)}
        case "social.share":
            properties = {"channel": rng.choice(catalog.SHARE_CHANNELS)}
        case _:
            properties = {"element": rng.choice(catalog.UI_ELEMENTS)}
    return _event(rng, s, kind, at, properties=properties)


def _event(rng: random.Random, s: Session, etype: str, at: datetime, **fields: object) -> Body:
    player = s.player
    body: Body = {
        "event_id": _uuid4(rng),
        "type": etype,
        "player_id": player.player_id,
        "timestamp": at,
        "session_id": s.session_id,
        "platform": player.platform,
        "country": player.country,
        "app_version": player.app_version,
    }
    body.update(fields)
    return body


def _uuid4(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)
