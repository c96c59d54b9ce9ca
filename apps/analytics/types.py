"""The GraphQL types of the contract (enums, the filter input, the result types).

Each result type mirrors a frozen dataclass of `apps.analytics.results` (`Player`
and `PlayerEvent`: of `apps.store.profiles`, shared with the users service) and is
built from it with `of`; strawberry turns snake_case into the contract's
camelCase names (tests/apps/analytics/test_api_schema.py pins the SDL).
"""

from datetime import date, datetime
from enum import Enum
from typing import Self, cast

import strawberry
from strawberry.scalars import JSON

from apps.analytics import results
from apps.core import periods
from apps.core.numbers import finite
from apps.store import profiles


@strawberry.enum
class Granularity(Enum):
    DAY = "DAY"
    WEEK = "WEEK"
    MONTH = "MONTH"

    def domain(self) -> periods.Granularity:
        return periods.Granularity(self.value)


@strawberry.enum
class Bucket(Enum):
    MINUTE = "MINUTE"
    HOUR = "HOUR"
    DAY = "DAY"

    def domain(self) -> periods.Bucket:
        return periods.Bucket(self.value)


def _given(value: str | None) -> str | None:
    return None if value is None or value is strawberry.UNSET else value


@strawberry.input
class SegmentFilter:
    # UNSET rather than None as the default: the contract's SDL shows no defaults here.
    platform: str | None = strawberry.UNSET
    country: str | None = strawberry.UNSET
    app_version: str | None = strawberry.UNSET

    def domain(self) -> periods.Segment:
        return periods.Segment(
            platform=_given(self.platform),
            country=_given(self.country),
            app_version=_given(self.app_version),
        )


def segment(value: SegmentFilter | None) -> periods.Segment:
    """The domain filter of an optional `filter` argument (absent or null: everything)."""
    if value is None or value is strawberry.UNSET:
        return periods.ANY_SEGMENT
    return value.domain()


@strawberry.type
class TimeValue:
    bucket: date
    value: int

    @classmethod
    def of(cls, r: results.TimeValue) -> Self:
        return cls(bucket=r.bucket, value=r.value)


@strawberry.type
class RetentionPoint:
    day: int
    users: int
    rate: float

    @classmethod
    def of(cls, r: results.RetentionPoint) -> Self:
        return cls(day=r.day, users=r.users, rate=finite(r.rate))


@strawberry.type
class Cohort:
    cohort: date
    size: int
    retained: list[RetentionPoint]

    @classmethod
    def of(cls, r: results.Cohort) -> Self:
        return cls(
            cohort=r.cohort, size=r.size, retained=[RetentionPoint.of(p) for p in r.retained]
        )


@strawberry.type
class RevenuePoint:
    bucket: date
    revenue_usd: float
    paying_users: int
    purchases: int
    arpdau: float
    arppu: float

    @classmethod
    def of(cls, r: results.RevenuePoint) -> Self:
        return cls(
            bucket=r.bucket, revenue_usd=finite(r.revenue_usd), paying_users=r.paying_users,
            purchases=r.purchases, arpdau=finite(r.arpdau), arppu=finite(r.arppu),
        )  # fmt: skip


@strawberry.type
class SessionPoint:
    bucket: date
    sessions: int
    players: int
    avg_length_seconds: float

    @classmethod
    def of(cls, r: results.SessionPoint) -> Self:
        return cls(
            bucket=r.bucket, sessions=r.sessions, players=r.players,
            avg_length_seconds=finite(r.avg_length_seconds),
        )  # fmt: skip


@strawberry.type
class FunnelStep:
    step: str
    users: int
    conversion_from_start: float
    conversion_from_previous: float

    @classmethod
    def of(cls, r: results.FunnelStep) -> Self:
        return cls(
            step=r.step, users=r.users, conversion_from_start=finite(r.conversion_from_start),
            conversion_from_previous=finite(r.conversion_from_previous),
        )  # fmt: skip


@strawberry.type
class EventCount:
    bucket: datetime
    type: str
    count: int

    @classmethod
    def of(cls, r: results.EventCount) -> Self:
        return cls(bucket=r.bucket, type=r.type, count=r.count)


@strawberry.type
class LiveStats:
    events_last_minute: int
    events_per_second: float
    active_players_last_5_minutes: int

    @classmethod
    def of(cls, r: results.LiveStats) -> Self:
        return cls(
            events_last_minute=r.events_last_minute,
            events_per_second=finite(r.events_per_second),
            active_players_last_5_minutes=r.active_players_last_5_minutes,
        )


@strawberry.type(description="One stored event of a player; `amount` and `currency` on purchases.")
class PlayerEvent:
    event_id: strawberry.ID
    type: str
    time: datetime = strawberry.field(description="The (skew-corrected) event time.")
    properties: JSON
    amount: float | None
    currency: str | None

    @classmethod
    def of(cls, r: profiles.ProfileEvent) -> Self:
        amount = None if r.amount is None else finite(r.amount)
        return cls(
            event_id=strawberry.ID(str(r.event_id)), type=r.type, time=r.time,
            properties=cast(JSON, r.properties), amount=amount, currency=r.currency,
        )  # fmt: skip


@strawberry.type(description="A player's profile: everything stored about them, over all time.")
class Player:
    id: strawberry.ID
    first_seen: datetime
    last_seen: datetime
    first_platform: str | None = strawberry.field(
        description="The first event's platform; null where it had none."
    )
    first_country: str | None = strawberry.field(
        description="The first event's country; null where it had none."
    )
    first_app_version: str | None = strawberry.field(
        description="The first event's app version; null where it had none."
    )
    days_active: int = strawberry.field(description="UTC days with at least one event.")
    sessions: int = strawberry.field(description="session_end events.")
    session_seconds: float = strawberry.field(
        description="Total session time: the sum of the session_end events' durations."
    )
    revenue_usd: float = strawberry.field(description="Lifetime revenue, converted to USD.")
    purchases: int
    last_events: list[PlayerEvent] = strawberry.field(
        description="The newest 50 events at most, newest first."
    )

    @classmethod
    def of(cls, r: profiles.PlayerProfile) -> Self:
        return cls(
            id=strawberry.ID(r.player_id), first_seen=r.first_seen, last_seen=r.last_seen,
            first_platform=r.first_platform, first_country=r.first_country,
            first_app_version=r.first_app_version, days_active=r.days_active,
            sessions=r.sessions, session_seconds=finite(r.session_seconds),
            revenue_usd=finite(r.revenue_usd), purchases=r.purchases,
            last_events=[PlayerEvent.of(e) for e in r.last_events],
        )  # fmt: skip
