"""Time periods of the analytics API (pure): granularities, buckets, ranges and their limits.

A day is a UTC calendar day. A range of days `[first, last]` is cut into
buckets: DAY per day, WEEK per ISO week (labelled by its Monday), MONTH per
calendar month (labelled by its first day). A bucket counts only its days
inside the range, and every bucket touching the range is listed, ascending.

The `check_*` functions validate one argument kind each and raise
`RangeError(argument, message)`, the message naming the argument and what is
allowed; the API turns it into BAD_USER_INPUT. The query layer assumes its
arguments passed them.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Final

from apps.core.errors import GameMetricsError

MAX_RANGE_DAYS: Final = 400
"""Longest range of days (`from`..`to` inclusive), and of an eventCounts range."""
MAX_MINUTE_RANGE_DAYS: Final = 7
"""Longest eventCounts range with MINUTE buckets."""
MAX_FUNNEL_STEPS: Final = 10
MAX_FUNNEL_WINDOW_SECONDS: Final = 90 * 86400
MAX_RETENTION_DAY: Final = 400
"""Largest N of a retention point (a day after the cohort's day)."""
MAX_RETENTION_POINTS: Final = 60
"""Most entries in retention's `days`."""
MAX_EVENT_TYPES: Final = 100
"""Most entries in eventCounts' `types`."""
MAX_TEXT_CHARS: Final = 128
"""Longest filter value or event type accepted as an argument."""


class Granularity(StrEnum):
    DAY = "DAY"
    WEEK = "WEEK"
    MONTH = "MONTH"


class Bucket(StrEnum):
    """eventCounts buckets: the start (UTC) of the event time's minute, hour or day."""

    MINUTE = "MINUTE"
    HOUR = "HOUR"
    DAY = "DAY"


BUCKET_WIDTH: Final = {
    Bucket.MINUTE: timedelta(minutes=1),
    Bucket.HOUR: timedelta(hours=1),
    Bucket.DAY: timedelta(days=1),
}
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Segment:
    """A filter on platform, country and app version; None matches anything.

    A value matches the stored value exactly; an event (or a player's first
    event) without the attribute matches only "".
    """

    platform: str | None = None
    country: str | None = None
    app_version: str | None = None


ANY_SEGMENT: Final = Segment()


class RangeError(GameMetricsError):
    """An argument is outside what the API allows; `argument` names it."""

    def __init__(self, argument: str, message: str) -> None:
        super().__init__(f"{argument}: {message}")
        self.argument = argument
        self.message = message


def bucket_start(day: date, granularity: Granularity) -> date:
    """The first day of the bucket holding `day`: itself, its ISO week's Monday, its month's 1st."""
    if granularity is Granularity.DAY:
        return day
    if granularity is Granularity.WEEK:
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def next_bucket(start: date, granularity: Granularity) -> date:
    """The first day of the bucket after the one starting on `start`."""
    if granularity is Granularity.DAY:
        return start + timedelta(days=1)
    if granularity is Granularity.WEEK:
        return start + timedelta(days=7)
    return date(start.year + start.month // 12, start.month % 12 + 1, 1)


def buckets(first: date, last: date, granularity: Granularity) -> list[date]:
    """Every bucket touching `[first, last]`, ascending ([] when `last` is before `first`)."""
    out: list[date] = []
    start = bucket_start(first, granularity)
    while start <= last:
        out.append(start)
        start = next_bucket(start, granularity)
    return out


def bucket_days(start: date, first: date, last: date, granularity: Granularity) -> int:
    """How many days of the bucket starting on `start` lie inside `[first, last]`."""
    lo = max(start, first)
    hi = min(next_bucket(start, granularity) - timedelta(days=1), last)
    return max((hi - lo).days + 1, 0)


def truncate(t: datetime, bucket: Bucket) -> datetime:
    """The start of `t`'s bucket, in UTC (`t` must be aware)."""
    return _EPOCH + ((t - _EPOCH) // BUCKET_WIDTH[bucket]) * BUCKET_WIDTH[bucket]


def check_day_range(first: date, last: date) -> None:
    """`from` and `to` (inclusive days): `to` not before `from`, at most MAX_RANGE_DAYS days."""
    if last < first:
        raise RangeError("to", f"must be on or after from ({first.isoformat()})")
    days = (last - first).days + 1
    if days > MAX_RANGE_DAYS:
        raise RangeError("to", f"the range is {days} days; at most {MAX_RANGE_DAYS} are allowed")


def check_time_range(start: datetime, end: datetime, bucket: Bucket) -> None:
    """eventCounts' `[from, to)`: aware times, `to` not before `from`, length within the limit."""
    if start.tzinfo is None or start.utcoffset() is None:
        raise RangeError("from", "must carry a UTC offset (RFC 3339)")
    if end.tzinfo is None or end.utcoffset() is None:
        raise RangeError("to", "must carry a UTC offset (RFC 3339)")
    if end < start:
        raise RangeError("to", f"must not be before from ({start.isoformat()})")
    limit = MAX_MINUTE_RANGE_DAYS if bucket is Bucket.MINUTE else MAX_RANGE_DAYS
    if end - start > timedelta(days=limit):
        raise RangeError(
            "to", f"a {bucket} range may span at most {limit} days; this one spans "
            f"{(end - start) / timedelta(days=1):.2f}"
        )  # fmt: skip


def check_funnel_steps(steps: Sequence[str]) -> None:
    """funnel `steps`: 1 to MAX_FUNNEL_STEPS event types, none empty or over MAX_TEXT_CHARS."""
    if not 1 <= len(steps) <= MAX_FUNNEL_STEPS:
        raise RangeError(
            "steps", f"has {len(steps)} steps; between 1 and {MAX_FUNNEL_STEPS} are allowed"
        )
    for i, step in enumerate(steps):
        if not 1 <= len(step) <= MAX_TEXT_CHARS:
            raise RangeError(f"steps[{i}]", f"must be 1 to {MAX_TEXT_CHARS} characters long")


def check_funnel_window(seconds: int) -> None:
    """funnel `windowSeconds`: 0 to MAX_FUNNEL_WINDOW_SECONDS."""
    if not 0 <= seconds <= MAX_FUNNEL_WINDOW_SECONDS:
        raise RangeError(
            "windowSeconds", f"is {seconds}; between 0 and {MAX_FUNNEL_WINDOW_SECONDS} are allowed"
        )


def check_retention_days(days: Sequence[int]) -> None:
    """retention `days`: 1 to MAX_RETENTION_POINTS values, each 0 to MAX_RETENTION_DAY."""
    if not 1 <= len(days) <= MAX_RETENTION_POINTS:
        raise RangeError(
            "days", f"has {len(days)} values; between 1 and {MAX_RETENTION_POINTS} are allowed"
        )
    for n in days:
        if not 0 <= n <= MAX_RETENTION_DAY:
            raise RangeError("days", f"holds {n}; each value must be 0 to {MAX_RETENTION_DAY}")


def check_event_types(types: Sequence[str] | None) -> None:
    """eventCounts `types`: at most MAX_EVENT_TYPES, each 1 to MAX_TEXT_CHARS characters."""
    if types is None:
        return
    if len(types) > MAX_EVENT_TYPES:
        raise RangeError("types", f"has {len(types)} types; at most {MAX_EVENT_TYPES} are allowed")
    for i, t in enumerate(types):
        if not 1 <= len(t) <= MAX_TEXT_CHARS:
            raise RangeError(f"types[{i}]", f"must be 1 to {MAX_TEXT_CHARS} characters long")


def check_segment(segment: Segment) -> None:
    """filter values: at most MAX_TEXT_CHARS characters each."""
    for name, value in (
        ("filter.platform", segment.platform),
        ("filter.country", segment.country),
        ("filter.appVersion", segment.app_version),
    ):
        if value is not None and len(value) > MAX_TEXT_CHARS:
            raise RangeError(name, f"must be at most {MAX_TEXT_CHARS} characters long")
