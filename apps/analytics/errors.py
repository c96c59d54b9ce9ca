"""What the analytics API refuses, and the one place where errors become GraphQL error JSON.

Every error sent has `extensions.code`: UNAUTHENTICATED, FORBIDDEN,
BAD_USER_INPUT (with `argument` or `limit`, and `allowed`) or INTERNAL. An
unexpected INTERNAL error says nothing but "internal error" and an id to find it
in the log: the exception, its trace and any SQL stay on the server (a backend
that is down, or an archived day that cannot be read, is said plainly).
"""

import logging
import uuid
from typing import Any, ClassVar, Final

from graphql import GraphQLError

from apps.core.errors import GameMetricsError

log = logging.getLogger(__name__)

UNAUTHENTICATED: Final = "UNAUTHENTICATED"
FORBIDDEN: Final = "FORBIDDEN"
BAD_USER_INPUT: Final = "BAD_USER_INPUT"
INTERNAL: Final = "INTERNAL"
CODES: Final = (UNAUTHENTICATED, FORBIDDEN, BAD_USER_INPUT, INTERNAL)


class AnalyticsError(GameMetricsError):
    """Raised on purpose; its message is safe to show to the caller."""

    code: ClassVar[str] = INTERNAL

    def __init__(self, message: str, **extensions: object) -> None:
        super().__init__(message)
        self.message = message
        self.extra = {k: v for k, v in extensions.items() if v is not None}

    @property
    def extensions(self) -> dict[str, object]:
        return {"code": self.code, **self.extra}


class Unauthenticated(AnalyticsError):
    """No, a malformed, an unknown or a revoked token: HTTP 401 before anything runs."""

    code = UNAUTHENTICATED


class GameNotFound(AnalyticsError):
    """The game does not exist or the token does not see it: one answer for both."""

    code = FORBIDDEN

    def __init__(self) -> None:
        super().__init__("game not found")


class RoleRequired(AnalyticsError):
    """The token sees the game but its role does not allow this field (a viewer asking for
    player profiles): FORBIDDEN, naming the role needed."""

    code = FORBIDDEN

    def __init__(self, what: str, role: str) -> None:
        super().__init__(f"{what} needs the {role} role on this game", required_role=role)


class BadUserInput(AnalyticsError):
    """An argument outside what is allowed, or a request beyond a limit.

    `argument` names the GraphQL argument (`from`, `steps`, ...), `limit` a
    request-wide limit (`depth`, `aliases`, ...); `allowed` says what would pass.
    """

    code = BAD_USER_INPUT

    def __init__(
        self,
        message: str,
        *,
        argument: str | None = None,
        limit: str | None = None,
        allowed: object = None,
    ) -> None:
        super().__init__(message, argument=argument, limit=limit, allowed=allowed)


class NoOperation(BadUserInput):
    """The document does not say which query to run: HTTP 400, nothing runs."""


class Unavailable(AnalyticsError):
    """A backend needed to answer is down (the database): retry later."""

    code = INTERNAL


class ArchivedDayUnreadable(Unavailable):
    """An answer needs a day only the archive holds, and the archive cannot give it
    (apps/archive/errors.py): the message names the day and why; `archivedDay` holds the
    day. Never a partial answer."""

    def __init__(self, message: str, day: str) -> None:
        super().__init__(message, archivedDay=day)


def to_json(error: GraphQLError) -> dict[str, Any]:
    """The error as sent to the caller; an unexpected one is logged here, with its trace."""
    original = error.original_error
    if isinstance(original, AnalyticsError):
        if isinstance(original, Unavailable):
            log.warning("%s (%s)", original.message, _cause(original))
        return _body(original.message, original.extensions, error)
    if error.path is None and (original is None or isinstance(original, GraphQLError)):
        # Parsing, validation or variable coercion (scalars raise GraphQLErrors): the input.
        return _body(*_request_error(error), error)
    incident = uuid.uuid4().hex[:12]
    log.error(
        "internal error %s in %s", incident, ".".join(map(str, error.path or ())) or "request",
        exc_info=original or error,
    )  # fmt: skip
    return _body(f"internal error (incident {incident})", {"code": INTERNAL}, error)


def _request_error(error: GraphQLError) -> tuple[str, dict[str, object]]:
    """A document or variables that do not parse, validate or coerce: the caller's input.

    apps/analytics/prepare.py words these before execution; this is the fallback.
    """
    return error.message, {"code": BAD_USER_INPUT}


def _body(message: str, extensions: dict[str, object], error: GraphQLError) -> dict[str, Any]:
    body: dict[str, Any] = {"message": message}
    if error.locations:
        body["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
    if error.path is not None:
        body["path"] = list(error.path)
    body["extensions"] = extensions
    return body


def _cause(exc: BaseException) -> str:
    cause = exc.__cause__ or exc.__context__
    return type(cause).__name__ if cause is not None else "no cause"


def error_json(error: AnalyticsError) -> dict[str, Any]:
    """An error raised before execution, as one entry of `errors`."""
    return {"message": error.message, "extensions": error.extensions}


def request_error(message: str, code: str = BAD_USER_INPUT, **extra: object) -> dict[str, Any]:
    """An error answered before GraphQL runs (auth, body): the same shape as the others."""
    return {"errors": [{"message": message, "extensions": {"code": code, **extra}}]}
