"""The limits of one request's arguments, and the complexity of `games` per game.

Document limits (tokens, nesting, fields, depth, aliases, complexity) are
checked by apps/analytics/prepare.py before anything executes; argument
ranges are checked here, in each resolver, by `apps.core.periods` and the
calendar and text rules below. Every violation becomes BAD_USER_INPUT naming
the limit (`limit`) or the argument (`argument`), and what is allowed (`allowed`).
"""

from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any, Final

from strawberry.types.nodes import SelectedField, Selection

from apps.analytics.document import FIELD_WEIGHTS, complexity_error
from apps.analytics.errors import BadUserInput
from apps.core import periods, player_ids

__all__ = ["complexity_error", "selected_cost"]

FIRST_DAY: Final = date(1970, 1, 1)
LAST_DAY: Final = date(8999, 12, 31)
"""Days an argument may name. Far from the calendar's ends (0001-01-01, 9999-12-31), so
no bucket, retention point, funnel window or UTC offset computed from them overflows."""
_CALENDAR: Final = f"days from {FIRST_DAY.isoformat()} to {LAST_DAY.isoformat()}"


def selected_cost(selections: Sequence[Selection]) -> int:
    """The summed FIELD_WEIGHTS of strawberry's view of a selection (`info.selected_fields`)."""
    cost = 0
    for node in selections:
        if isinstance(node, SelectedField) and node.selections:
            cost += FIELD_WEIGHTS.get(node.name, 0)
        cost += selected_cost(node.selections)
    return cost


# What each check allows, for `extensions.allowed` (the message says which rule failed).
_ALLOWED: Final = {
    "day_range": f"from <= to, at most {periods.MAX_RANGE_DAYS} days",
    "time_range": (
        f"from <= to with UTC offsets, at most {periods.MAX_MINUTE_RANGE_DAYS} days for MINUTE"
        f" buckets and {periods.MAX_RANGE_DAYS} days otherwise"
    ),
    "steps": f"1 to {periods.MAX_FUNNEL_STEPS} steps of 1 to {periods.MAX_TEXT_CHARS} characters",
    "window": f"0 to {periods.MAX_FUNNEL_WINDOW_SECONDS} seconds",
    "days": (f"1 to {periods.MAX_RETENTION_POINTS} values, each 0 to {periods.MAX_RETENTION_DAY}"),
    "types": f"at most {periods.MAX_EVENT_TYPES} types of 1 to {periods.MAX_TEXT_CHARS} characters",
    "segment": f"values of at most {periods.MAX_TEXT_CHARS} characters",
}


def _checked(kind: str, check: Callable[..., None], *args: Any) -> None:
    try:
        check(*args)
    except periods.RangeError as e:
        raise BadUserInput(str(e), argument=e.argument, allowed=_ALLOWED[kind]) from None


def _on_calendar(argument: str, day: date) -> None:
    if not FIRST_DAY <= day <= LAST_DAY:
        raise BadUserInput(
            f"{argument}: {day.isoformat()} is outside the days this API answers for",
            argument=argument,
            allowed=_CALENDAR,
        )


def _text(argument: str, values: Sequence[str | None]) -> None:
    """PostgreSQL text holds no NUL, and UTF-8 no lone surrogate: refused by name."""
    for value in values:
        if value is None:
            continue
        if "\x00" in value:
            raise BadUserInput(
                f"{argument}: a value contains a NUL character",
                argument=argument, allowed="text without NUL characters",
            )  # fmt: skip
        try:
            value.encode()
        except UnicodeEncodeError:
            raise BadUserInput(
                f"{argument}: a value is not valid Unicode (an unpaired surrogate)",
                argument=argument, allowed="valid Unicode text",
            ) from None  # fmt: skip


def day_range(first: date, last: date) -> None:
    _on_calendar("from", first)
    _on_calendar("to", last)
    _checked("day_range", periods.check_day_range, first, last)


def time_range(start: datetime, end: datetime, bucket: periods.Bucket) -> None:
    # The local date: UTC is at most a day away, and the bounds are years from the edges.
    _on_calendar("from", start.date())
    _on_calendar("to", end.date())
    _checked("time_range", periods.check_time_range, start, end, bucket)


def funnel(steps: Sequence[str], window_seconds: int) -> None:
    _checked("steps", periods.check_funnel_steps, steps)
    _text("steps", steps)
    _checked("window", periods.check_funnel_window, window_seconds)


def retention_days(days: Sequence[int]) -> None:
    _checked("days", periods.check_retention_days, days)


def event_types(types: Sequence[str] | None) -> None:
    _checked("types", periods.check_event_types, types)
    _text("types", types or ())


def segment(value: periods.Segment) -> None:
    _checked("segment", periods.check_segment, value)
    _text("filter.platform", (value.platform,))
    _text("filter.country", (value.country,))
    _text("filter.appVersion", (value.app_version,))


def player_id(value: str) -> None:
    """`player(id)`: an id ingestion could have stored (apps/core/player_ids.py)."""
    problem = player_ids.player_id_problem(value)
    if problem is not None:
        shown = value[:64].encode("utf-8", "backslashreplace").decode()
        raise BadUserInput(
            f"id: {shown!r} is not a player ID: it {problem}",
            argument="id", allowed=player_ids.ALLOWED,
        )  # fmt: skip
