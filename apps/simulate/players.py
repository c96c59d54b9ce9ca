"""Simulated players: who they are, and how likely they are to come back each day.

Pure: every draw comes from the `random.Random` passed in.
"""

import itertools
import math
import random
from dataclasses import dataclass
from typing import Final

from apps.simulate import catalog

PAYER_SHARE: Final = 0.04

_PLATFORM_CUM: Final = tuple(itertools.accumulate(catalog.PLATFORM_SHARES))
_COUNTRY_CUM: Final = tuple(itertools.accumulate(share for *_, share in catalog.COUNTRIES))
_VERSION_CUM: Final = tuple(itertools.accumulate(catalog.APP_VERSION_SHARES))


@dataclass(slots=True)
class Player:
    """Fixed traits, and the progress that the player's sessions advance."""

    player_id: str
    acquired_day: int
    platform: str
    country: str
    currency: str
    app_version: str
    day1_return: float
    decay: float
    """Power-law exponent: chance to play k days after acquisition = day1_return * k**-decay."""
    more_sessions: float
    """Chance of each further session on a day played."""
    payer: bool
    level: int = 1
    tutorial_step: int = 0
    sessions: int = 0

    def return_chance(self, day: int) -> float:
        age = day - self.acquired_day
        if age < 0:
            return 0.0
        if age == 0:
            return 1.0
        return self.day1_return * math.pow(age, -self.decay)


def make_population(rng: random.Random, n: int, days: int) -> list[Player]:
    """`n` players acquired evenly over days 0 .. days-1."""
    return [_player(rng, rng.randrange(days)) for _ in range(n)]


def _player(rng: random.Random, acquired_day: int) -> Player:
    country, currency, _ = rng.choices(catalog.COUNTRIES, cum_weights=_COUNTRY_CUM)[0]
    payer = rng.random() < PAYER_SHARE
    day1 = rng.uniform(0.25, 0.55) * (1.4 if payer else 1.0)  # payers stay longer
    return Player(
        player_id=f"p_{rng.getrandbits(64):016x}",
        acquired_day=acquired_day,
        platform=rng.choices(catalog.PLATFORMS, cum_weights=_PLATFORM_CUM)[0],
        country=country,
        currency=currency,
        app_version=rng.choices(catalog.APP_VERSIONS, cum_weights=_VERSION_CUM)[0],
        day1_return=min(day1, 0.85),
        decay=rng.uniform(0.3, 0.7),
        more_sessions=rng.uniform(0.15, 0.6),
        payer=payer,
    )


def catch_up(rng: random.Random, player: Player, today: int) -> None:
    """Give a player acquired before `today` the progress of the days played since."""
    if player.acquired_day >= today:
        return
    played = 1 + sum(
        rng.random() < player.return_chance(day)
        for day in range(player.acquired_day + 1, today + 1)
    )
    player.tutorial_step = catalog.TUTORIAL_STEPS
    player.sessions = played * 2
    player.level = 1 + played * rng.randint(2, 6)
