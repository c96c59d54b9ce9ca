"""apps.core.periods: buckets of days and the argument limits (pure)."""

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from apps.core import periods
from apps.core.periods import Bucket, Granularity, RangeError, Segment

D = date
W, M, DAY = Granularity.WEEK, Granularity.MONTH, Granularity.DAY


@pytest.mark.parametrize(
    ("day", "granularity", "start"),
    [
        (D(2026, 3, 29), W, D(2026, 3, 23)),  # a Sunday belongs to the week of the Monday before
        (D(2026, 3, 30), W, D(2026, 3, 30)),  # a Monday starts its week
        (D(2026, 1, 1), W, D(2025, 12, 29)),  # ISO week 1 of 2026 starts in 2025
        (D(2024, 2, 29), M, D(2024, 2, 1)),
        (D(2026, 12, 31), M, D(2026, 12, 1)),
        (D(2026, 12, 31), DAY, D(2026, 12, 31)),
    ],
)
def test_bucket_start(day: date, granularity: Granularity, start: date) -> None:
    assert periods.bucket_start(day, granularity) == start


def test_buckets_list_every_bucket_touching_the_range_ascending() -> None:
    assert periods.buckets(D(2026, 3, 29), D(2026, 4, 1), DAY) == [
        D(2026, 3, 29), D(2026, 3, 30), D(2026, 3, 31), D(2026, 4, 1),
    ]  # fmt: skip
    assert periods.buckets(D(2026, 3, 29), D(2026, 4, 13), W) == [
        D(2026, 3, 23), D(2026, 3, 30), D(2026, 4, 6), D(2026, 4, 13),
    ]  # fmt: skip
    assert periods.buckets(D(2025, 12, 31), D(2026, 2, 1), M) == [
        D(2025, 12, 1), D(2026, 1, 1), D(2026, 2, 1),
    ]  # fmt: skip
    assert periods.buckets(D(2026, 3, 2), D(2026, 3, 2), M) == [D(2026, 3, 1)]
    assert periods.buckets(D(2026, 3, 2), D(2026, 3, 1), DAY) == []


def test_bucket_days_counts_only_days_inside_the_range() -> None:
    first, last = D(2026, 3, 29), D(2026, 4, 1)  # Sunday .. Wednesday
    assert periods.bucket_days(D(2026, 3, 23), first, last, W) == 1
    assert periods.bucket_days(D(2026, 3, 30), first, last, W) == 3
    assert periods.bucket_days(D(2026, 3, 1), first, last, M) == 3
    assert periods.bucket_days(D(2026, 4, 1), first, last, M) == 1
    assert periods.bucket_days(D(2026, 2, 1), D(2026, 1, 1), D(2026, 12, 31), M) == 28
    assert periods.bucket_days(D(2026, 5, 1), first, last, M) == 0


def test_next_bucket_crosses_years() -> None:
    assert periods.next_bucket(D(2026, 12, 1), M) == D(2027, 1, 1)
    assert periods.next_bucket(D(2026, 12, 28), W) == D(2027, 1, 4)


@pytest.mark.parametrize(
    ("t", "bucket", "start"),
    [
        ("2026-03-30T10:59:59.999999+00:00", Bucket.MINUTE, "2026-03-30T10:59:00+00:00"),
        ("2026-03-30T10:59:59+00:00", Bucket.HOUR, "2026-03-30T10:00:00+00:00"),
        # an offset is converted: 01:30+02:00 is 23:30 UTC the day before
        ("2026-03-31T01:30:00+02:00", Bucket.DAY, "2026-03-30T00:00:00+00:00"),
        ("1969-12-31T23:59:30+00:00", Bucket.MINUTE, "1969-12-31T23:59:00+00:00"),
    ],
)
def test_truncate_is_utc(t: str, bucket: Bucket, start: str) -> None:
    got = periods.truncate(datetime.fromisoformat(t), bucket)
    assert got == datetime.fromisoformat(start)
    assert got.utcoffset() == timedelta(0)


def _error(call: object, *args: object) -> RangeError:
    with pytest.raises(RangeError) as info:
        call(*args)  # type: ignore[operator]
    return info.value


def test_day_range_limit() -> None:
    periods.check_day_range(D(2026, 1, 1), D(2026, 1, 1))
    periods.check_day_range(D(2026, 1, 1), D(2026, 1, 1) + timedelta(days=399))  # 400 days
    e = _error(periods.check_day_range, D(2026, 1, 1), D(2026, 1, 1) + timedelta(days=400))
    assert e.argument == "to"
    assert "401 days" in e.message
    assert "400" in e.message
    e = _error(periods.check_day_range, D(2026, 1, 2), D(2026, 1, 1))
    assert e.argument == "to"
    assert "on or after from (2026-01-02)" in e.message
    assert str(e).startswith("to: ")


def test_time_range_limits() -> None:
    start = datetime(2026, 3, 1, tzinfo=UTC)
    periods.check_time_range(start, start, Bucket.MINUTE)
    periods.check_time_range(start, start + timedelta(days=7), Bucket.MINUTE)
    periods.check_time_range(start, start + timedelta(days=400), Bucket.HOUR)
    e = _error(
        periods.check_time_range, start, start + timedelta(days=7, microseconds=1), Bucket.MINUTE
    )
    assert e.argument == "to"
    assert "MINUTE" in e.message
    assert "7 days" in e.message
    e = _error(periods.check_time_range, start, start + timedelta(days=401), Bucket.DAY)
    assert "400 days" in e.message
    e = _error(periods.check_time_range, start, start - timedelta(seconds=1), Bucket.DAY)
    assert e.argument == "to"
    e = _error(periods.check_time_range, start.replace(tzinfo=None), start, Bucket.DAY)
    assert e.argument == "from"
    assert "UTC offset" in e.message
    e = _error(periods.check_time_range, start, start.replace(tzinfo=None), Bucket.DAY)
    assert e.argument == "to"
    other = timezone(timedelta(hours=5))
    periods.check_time_range(start, start.astimezone(other), Bucket.DAY)


def test_funnel_limits() -> None:
    periods.check_funnel_steps(["a"])
    periods.check_funnel_steps(["a"] * 10)
    for steps in ([], ["a"] * 11):
        e = _error(periods.check_funnel_steps, steps)
        assert e.argument == "steps"
        assert "between 1 and 10" in e.message
    e = _error(periods.check_funnel_steps, ["a", ""])
    assert e.argument == "steps[1]"
    e = _error(periods.check_funnel_steps, ["x" * 129])
    assert "128" in e.message
    periods.check_funnel_window(0)
    periods.check_funnel_window(periods.MAX_FUNNEL_WINDOW_SECONDS)
    for seconds in (-1, periods.MAX_FUNNEL_WINDOW_SECONDS + 1):
        e = _error(periods.check_funnel_window, seconds)
        assert e.argument == "windowSeconds"
        assert f"between 0 and {periods.MAX_FUNNEL_WINDOW_SECONDS}" in e.message


def test_retention_days_limits() -> None:
    periods.check_retention_days([0, 1, 7, 30, 400])
    periods.check_retention_days(list(range(60)))
    for days in ([], list(range(61))):
        e = _error(periods.check_retention_days, days)
        assert e.argument == "days"
        assert "between 1 and 60" in e.message
    for n in (-1, 401):
        e = _error(periods.check_retention_days, [1, n])
        assert e.argument == "days"
        assert f"holds {n}" in e.message
        assert "0 to 400" in e.message


def test_event_types_and_segment_limits() -> None:
    periods.check_event_types(None)
    periods.check_event_types([])
    periods.check_event_types(["t"] * 100)
    e = _error(periods.check_event_types, ["t"] * 101)
    assert e.argument == "types"
    assert "at most 100" in e.message
    e = _error(periods.check_event_types, ["ok", ""])
    assert e.argument == "types[1]"
    periods.check_segment(Segment(platform="", country="x" * 128))
    e = _error(periods.check_segment, Segment(app_version="v" * 129))
    assert e.argument == "filter.appVersion"
    assert "128" in e.message
