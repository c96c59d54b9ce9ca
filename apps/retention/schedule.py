"""Which game-days a pass moves, drops or expires, from the games' retention and today's
date. Pure: apps/retention/passes.py does the I/O.

Both windows count in whole UTC days from the event's day (apps/core/retention.py):

- a day leaves PostgreSQL once it is more than `hot_window_days` old (the larger of
  `hot_days` and the late horizon, so no event can still be accepted for it);
- an archived day leaves the archive once it is more than `archive_days` old;
- with `archive_days` 0 a day leaves PostgreSQL without being archived.
"""

from dataclasses import dataclass
from datetime import date, timedelta

from apps.core.retention import NEVER_ARCHIVED, Retention, hot_window_days


@dataclass(frozen=True, slots=True)
class GameWindows:
    """The last day of each window for one game, as of one date."""

    last_hot_leaving: date
    """Days up to and including this one leave PostgreSQL."""
    last_expired: date | None
    """Archived days up to and including this one are deleted; None: nothing is archived
    (the game's days are dropped instead)."""

    @property
    def archives(self) -> bool:
        return self.last_expired is not None

    def leaves_postgres(self, day: date) -> bool:
        return day <= self.last_hot_leaving

    def expired(self, day: date) -> bool:
        """The day is past the archive's window (or, never archived, past the hot one);
        the same rule as readers' `apps.core.retention.archive_expired`."""
        if self.last_expired is None:
            return self.leaves_postgres(day)
        return day <= self.last_expired


def windows(retention: Retention, late_horizon: timedelta, today: date) -> GameWindows:
    """The game's windows on `today` (UTC): a day D is more than N days old when
    D + N < today, so the last such day is today - N - 1."""
    hot = hot_window_days(retention, late_horizon)
    expired = (
        None
        if retention.archive_days == NEVER_ARCHIVED
        else today - timedelta(days=retention.archive_days + 1)
    )
    return GameWindows(today - timedelta(days=hot + 1), expired)
