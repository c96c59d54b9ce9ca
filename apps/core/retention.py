"""How long a game's raw events are kept: the defaults, the bounds and the rules, declared
once. Pure. The migration's CHECKs (apps/store/migrations/0012_retention.sql) state the
same numbers (tests/apps/store/test_games.py holds them together); the users API and the
CLI check each value with `check_value`, and the store the whole change with `settle`.

Both windows count from the event's day (UTC), not from when it moved:

- `hot_days`: raw events stay in PostgreSQL until their day is this many days old.
- `archive_days`: they stay in the archive until their day is this many days old;
  0 means never archived (dropped from PostgreSQL after `hot_days`). Otherwise it must
  exceed `hot_days`: a day archived only to be deleted at once is a mistake to refuse.

The late horizon (`games.late_horizon_days`, or ingestion's default) is not bounded by
`hot_days`: a day is only moved out of PostgreSQL once no event can still be accepted
for it, so the window PostgreSQL keeps is the larger of the two (`hot_window_days`).
"""

import math
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

from apps.core.errors import BatchError

DEFAULT_HOT_DAYS: Final = 30
MIN_HOT_DAYS: Final = 1
MAX_HOT_DAYS: Final = 3650
"""Ten years: as far as the late horizon may reach (migration 0001)."""

DEFAULT_ARCHIVE_DAYS: Final = 730
MIN_ARCHIVE_DAYS: Final = 0
"""0: never archived."""
MAX_ARCHIVE_DAYS: Final = 36500
"""A hundred years: 'keep it', while still a number the lifecycle arithmetic can date."""

NEVER_ARCHIVED: Final = 0

BOUNDS: Final[dict[str, tuple[int, int]]] = {
    "hot_days": (MIN_HOT_DAYS, MAX_HOT_DAYS),
    "archive_days": (MIN_ARCHIVE_DAYS, MAX_ARCHIVE_DAYS),
}
"""Each setting's inclusive range, by its name in the API, the store and the audit log."""


@dataclass(frozen=True, slots=True)
class Retention:
    hot_days: int = DEFAULT_HOT_DAYS
    archive_days: int = DEFAULT_ARCHIVE_DAYS

    def as_dict(self) -> dict[str, int]:
        return {"hot_days": self.hot_days, "archive_days": self.archive_days}


def check_value(name: str, value: object) -> int:
    """`value` as the setting `name`, or BatchError naming it and saying what is allowed."""
    low, high = BOUNDS[name]
    if isinstance(value, bool) or not isinstance(value, int):
        raise BatchError(name, f"must be an integer {low} to {high}")
    if not low <= value <= high:
        raise BatchError(name, f"{value}; allowed {low} to {high}")
    return value


def settle(current: Retention, hot_days: object = None, archive_days: object = None) -> Retention:
    """`current` with the values given (None keeps one), checked: BatchError naming the
    field at fault. At least one value must be given."""
    if hot_days is None and archive_days is None:
        raise BatchError("hot_days", "give hot_days, archive_days or both")
    new = Retention(
        current.hot_days if hot_days is None else check_value("hot_days", hot_days),
        current.archive_days if archive_days is None else check_value("archive_days", archive_days),
    )
    if new.archive_days != NEVER_ARCHIVED and new.archive_days <= new.hot_days:
        # Name the value the caller changed; when both were given, the archive is the one
        # that ends too soon.
        field = "hot_days" if archive_days is None else "archive_days"
        raise BatchError(
            field,
            f"archive_days ({new.archive_days}) must exceed hot_days ({new.hot_days}),"
            " or be 0 (never archived): both count from the event's day",
        )
    return new


def hot_window_days(retention: Retention, late_horizon: timedelta) -> int:
    """How many days old a day must be before it leaves PostgreSQL: `hot_days`, but never
    before ingestion stops accepting events for it (`late_horizon`: the game's
    `late_horizon_days`, or ingestion's default; a part of a day counts as a day)."""
    return max(retention.hot_days, math.ceil(late_horizon / timedelta(days=1)))


def archive_expired(archive_days: int, day: date, today: date) -> bool:
    """Whether the archive no longer keeps `day`'s raw events on `today`: the day is more
    than `archive_days` old (UTC days; the hot window counts the same way), or the game
    never archives. Readers treat an expired day as empty whether or not retention has
    deleted its files yet; retention deletes it by the same rule (apps/retention/schedule.py)."""
    return archive_days == NEVER_ARCHIVED or (today - day).days > archive_days
