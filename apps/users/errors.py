"""What the users API refuses, each mapped to one HTTP status in `responses.py`.

Bad input (400, 413, 415, 408) is the core's `InputError`, naming the field.
"""

import uuid

from apps.core.errors import GameMetricsError
from apps.core.roles import Role


class UsersError(GameMetricsError):
    def __init__(self, reason: str, field: str | None = None) -> None:
        super().__init__(reason)
        self.reason, self.field = reason, field


class Unauthenticated(UsersError):
    """No valid session token: 401."""


class Forbidden(UsersError):
    """The caller's role on the game is below the one needed: 403 naming it."""

    def __init__(self, game_id: uuid.UUID, needed: Role, held: Role) -> None:
        super().__init__(
            f"this needs the {needed} role (or higher) on game {game_id}; you have {held}"
        )
        self.needed = needed


class NotFound(UsersError):
    """Unknown id, or one the caller may not see (the two answer alike): 404."""


class Conflict(UsersError):
    """The request contradicts what is stored (a taken email, the last owner): 409."""


class Throttled(UsersError):
    """Too many failed logins: 429 with Retry-After."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(
            f"too many failed logins for this account or address; retry in {retry_after_s} s"
        )
        self.retry_after_s = retry_after_s


class Unavailable(UsersError):
    """PostgreSQL cannot be reached in time: 503 with Retry-After."""
