"""What reading the archive refuses: a game-day that cannot be served, named.

A reader never answers from part of a day: the caller turns these into a clear error
for whoever asked (the analytics API answers them as GraphQL errors naming the day).
"""

import uuid
from datetime import date

from apps.core.errors import GameMetricsError


class ArchiveReadError(GameMetricsError):
    """An archived game-day that cannot be read; the message names it and says why."""

    def __init__(self, game_id: uuid.UUID, day: date, reason: str) -> None:
        super().__init__(f"the archived day {day.isoformat()} of game {game_id} {reason}")
        self.game_id, self.day, self.reason = game_id, day, reason


class DayUnreadable(ArchiveReadError):
    """The day's files do not match its catalog row (a problem reported, a part missing,
    a row count that differs, a file that is not the archive's Parquet): an operator
    must repair it; retrying does not help."""


class ArchiveUnavailable(ArchiveReadError):
    """S3 could not be reached or refused the request (down, slow past its timeouts,
    access denied): retrying later may help."""
