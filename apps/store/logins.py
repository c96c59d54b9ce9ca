"""Login throttling state: failed logins per account and per client address.

A fixed window per subject: its first failure opens the window, each failure
counts, and a subject with `limit` failures in an open window is refused until
the window closes (`retry_after`). A successful login clears the account's
count, not the address's: one attacker's address stays slowed down whichever
account it finally guesses.
"""

import math
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final, Literal

import psycopg

Scope = Literal["account", "address"]
MAX_SUBJECT_CHARS: Final = 300


@dataclass(frozen=True, slots=True)
class Limit:
    scope: Scope
    subject: str
    failures: int
    """Failures allowed in one window."""
    window: timedelta


def _subject(limit: Limit) -> str:
    return limit.subject.lower()[:MAX_SUBJECT_CHARS] or "-"


def retry_after(conn: psycopg.Connection[Any], limits: tuple[Limit, ...]) -> int | None:
    """Seconds until the most restrictive exhausted limit's window closes; None if none is."""
    waits: list[float] = []
    for limit in limits:
        row = conn.execute(
            "SELECT extract(epoch FROM window_start + %s - now())::float8 FROM login_failures"
            " WHERE scope = %s AND subject = %s AND failures >= %s"
            " AND window_start + %s > now()",
            (limit.window, limit.scope, _subject(limit), limit.failures, limit.window),
        ).fetchone()
        if row is not None:
            waits.append(row[0])
    return max(1, math.ceil(max(waits))) if waits else None


def record_failure(conn: psycopg.Connection[Any], limits: tuple[Limit, ...]) -> None:
    with conn.transaction():
        for limit in limits:
            conn.execute(
                "INSERT INTO login_failures AS f (scope, subject, window_start, failures)"
                " VALUES (%(scope)s, %(subject)s, now(), 1)"
                " ON CONFLICT (scope, subject) DO UPDATE SET"
                "  window_start = CASE WHEN f.window_start + %(window)s > now()"
                "                 THEN f.window_start ELSE now() END,"
                "  failures = CASE WHEN f.window_start + %(window)s > now()"
                "             THEN f.failures + 1 ELSE 1 END",
                {"scope": limit.scope, "subject": _subject(limit), "window": limit.window},
            )


def clear(conn: psycopg.Connection[Any], limit: Limit) -> None:
    with conn.transaction():
        conn.execute(
            "DELETE FROM login_failures WHERE scope = %s AND subject = %s",
            (limit.scope, _subject(limit)),
        )
