"""The retention rules, pure: bounds, the archive-after-hot rule, the window PostgreSQL keeps.
(tests/apps/store/test_games.py holds the migration's CHECKs to the same declaration.)"""

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apps.core import retention
from apps.core.errors import BatchError
from apps.core.retention import Retention, check_value, hot_window_days, settle


def test_the_defaults_are_the_issues_and_obey_the_rules() -> None:
    assert Retention() == Retention(hot_days=30, archive_days=730)
    assert settle(Retention(), hot_days=30) == Retention()
    for name, (low, high) in retention.BOUNDS.items():
        assert low <= Retention().as_dict()[name] <= high


@pytest.mark.parametrize("name", list(retention.BOUNDS))
def test_each_value_is_checked_against_its_bounds_by_name(name: str) -> None:
    low, high = retention.BOUNDS[name]
    assert check_value(name, low) == low
    assert check_value(name, high) == high
    for bad in (low - 1, high + 1, 1.5, "30", True, [30], None):
        with pytest.raises(BatchError) as refused:
            check_value(name, bad)
        assert refused.value.field == name
        assert f"{low} to {high}" in refused.value.reason


def test_settle_keeps_what_is_not_given_and_names_the_field_at_fault() -> None:
    current = Retention(hot_days=30, archive_days=730)
    assert settle(current, hot_days=90) == Retention(90, 730)
    assert settle(current, archive_days=0) == Retention(30, 0)
    assert settle(current, hot_days=3650, archive_days=0) == Retention(3650, 0)
    with pytest.raises(BatchError) as refused:
        settle(current)
    assert refused.value.field == "hot_days"
    # The archive must outlive the hot window (both count from the event's day).
    for given_, field in (({"hot_days": 730}, "hot_days"), ({"archive_days": 30}, "archive_days"),
                          ({"hot_days": 60, "archive_days": 60}, "archive_days")):  # fmt: skip
        with pytest.raises(BatchError) as refused:
            settle(current, **given_)
        assert refused.value.field == field
        assert "must exceed hot_days" in refused.value.reason
    with pytest.raises(BatchError) as refused:
        settle(current, hot_days=0, archive_days=99)
    assert refused.value.field == "hot_days"


@given(
    hot=st.integers(-10, retention.MAX_HOT_DAYS + 10),
    archive=st.integers(-10, retention.MAX_ARCHIVE_DAYS + 10),
)
def test_whatever_settle_accepts_obeys_every_rule(hot: int, archive: int) -> None:
    in_range = all(
        low <= v <= high
        for v, (low, high) in zip((hot, archive), retention.BOUNDS.values(), strict=True)
    )
    if not in_range or 0 < archive <= hot:
        with pytest.raises(BatchError) as refused:
            settle(Retention(), hot_days=hot, archive_days=archive)
        assert refused.value.field in retention.BOUNDS
        return
    assert settle(Retention(), hot_days=hot, archive_days=archive) == Retention(hot, archive)


def test_a_day_leaves_postgresql_only_past_both_hot_days_and_the_late_horizon() -> None:
    assert hot_window_days(Retention(30, 730), timedelta(days=120)) == 120
    assert hot_window_days(Retention(90, 730), timedelta(days=30)) == 90
    assert hot_window_days(Retention(7, 0), timedelta(days=7)) == 7
    # A horizon set in seconds (ingestion's default may be) counts a part of a day as a day.
    assert hot_window_days(Retention(1, 0), timedelta(days=3, seconds=1)) == 4
    assert hot_window_days(Retention(1, 0), timedelta(minutes=1)) == 1


def test_an_archived_day_expires_once_more_than_archive_days_old() -> None:
    day = date(2026, 1, 1)
    assert not retention.archive_expired(730, day, day + timedelta(days=730))
    assert retention.archive_expired(730, day, day + timedelta(days=731))
    assert not retention.archive_expired(1, day, day)
    assert retention.archive_expired(retention.NEVER_ARCHIVED, day, day)


def test_retention_expires_a_day_exactly_when_readers_stop_reading_it() -> None:
    from apps.retention.schedule import windows

    today = date(2026, 12, 7)
    for archive_days in (31, 40, 730):
        w = windows(retention.Retention(30, archive_days), timedelta(days=30), today)
        for age in range(archive_days - 2, archive_days + 3):
            day = today - timedelta(days=age)
            assert w.expired(day) == retention.archive_expired(archive_days, day, today), age
