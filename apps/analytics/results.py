"""What the query layer answers: one frozen dataclass per GraphQL result type.

Field names follow the schema (snake_case); every float is finite. Ratios
whose divisor is 0 are 0.0 (`ratio`), as the contract says.
"""

from dataclasses import dataclass
from datetime import date, datetime

from apps.core.numbers import finite
from apps.store.profiles import PlayerProfile


def ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator, or 0.0 when the denominator is 0; finite."""
    return finite(numerator / denominator) if denominator else 0.0


@dataclass(frozen=True, slots=True)
class TimeValue:
    bucket: date
    value: int


@dataclass(frozen=True, slots=True)
class RetentionPoint:
    day: int
    users: int
    rate: float


@dataclass(frozen=True, slots=True)
class Cohort:
    cohort: date
    size: int
    retained: tuple[RetentionPoint, ...]


@dataclass(frozen=True, slots=True)
class RevenuePoint:
    bucket: date
    revenue_usd: float
    paying_users: int
    purchases: int
    arpdau: float
    arppu: float


@dataclass(frozen=True, slots=True)
class SessionPoint:
    bucket: date
    sessions: int
    players: int
    avg_length_seconds: float


@dataclass(frozen=True, slots=True)
class FunnelStep:
    step: str
    users: int
    conversion_from_start: float
    conversion_from_previous: float


@dataclass(frozen=True, slots=True)
class EventCount:
    bucket: datetime
    type: str
    count: int


@dataclass(frozen=True, slots=True)
class LiveStats:
    events_last_minute: int
    events_per_second: float
    active_players_last_5_minutes: int


@dataclass(frozen=True, slots=True)
class PlayerAnswer:
    """`player(id)`: the profile, or None for a player the game holds no event of (a wrapper:
    the cache decodes an answer by one type)."""

    profile: PlayerProfile | None
