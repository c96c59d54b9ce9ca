"""The limits of one request: document size, depth, aliases, complexity, and argument ranges.

Document limits run as strawberry validation extensions before anything
executes; argument ranges are checked by `apps.core.periods` in each resolver.
Every violation becomes BAD_USER_INPUT naming the limit (`limit`) or the
argument (`argument`), and what is allowed (`allowed`).
"""

import functools
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any, Final

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
)
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)
from strawberry.types.nodes import SelectedField, Selection

from apps.analytics.errors import BadUserInput
from apps.core import periods
from apps.core.settings.analytics import QueryLimits

FIELD_WEIGHTS: Final = {
    "activeUsers": 1,
    "newUsers": 1,
    "revenue": 1,
    "sessions": 1,
    "liveStats": 1,
    "eventCounts": 2,
    "retention": 2,
    "funnel": 5,
}
"""The cost of one metric field per game; the fields are unique to Game in the schema."""


def document_limits(limits: QueryLimits) -> list[Callable[[], SchemaExtension]]:
    """Extension factories for `strawberry.Schema(extensions=...)` (one instance per request)."""
    return [
        functools.partial(MaxTokensLimiter, max_token_count=limits.max_tokens),
        functools.partial(QueryDepthLimiter, max_depth=limits.max_depth),
        functools.partial(MaxAliasesLimiter, max_alias_count=limits.max_aliases),
        functools.partial(AddValidationRules, [_complexity_rule(limits.max_complexity)]),
    ]


def selection_cost(
    selection_set: SelectionSetNode | None,
    fragments: dict[str, FragmentDefinitionNode],
    seen: frozenset[str] = frozenset(),
) -> int:
    """The summed FIELD_WEIGHTS of the metric fields under a selection, fragments expanded."""
    if selection_set is None:
        return 0
    cost = 0
    for node in selection_set.selections:
        if isinstance(node, FieldNode):
            cost += FIELD_WEIGHTS.get(node.name.value, 0)
            cost += selection_cost(node.selection_set, fragments, seen)
        elif isinstance(node, InlineFragmentNode):
            cost += selection_cost(node.selection_set, fragments, seen)
        elif isinstance(node, FragmentSpreadNode):
            name = node.name.value
            fragment = fragments.get(name)
            if fragment is not None and name not in seen:
                cost += selection_cost(fragment.selection_set, fragments, seen | {name})
    return cost


def selected_cost(selections: Sequence[Selection]) -> int:
    """`selection_cost` over strawberry's view of a selection (`info.selected_fields`)."""
    cost = 0
    for node in selections:
        if isinstance(node, SelectedField):
            cost += FIELD_WEIGHTS.get(node.name, 0)
        cost += selected_cost(node.selections)
    return cost


def complexity_error(cost: int, allowed: int) -> BadUserInput:
    return BadUserInput(
        f"the request's complexity is {cost}; at most {allowed} is allowed (each metric field"
        " costs its weight per game: funnel 5, retention and eventCounts 2, the others 1)",
        limit="complexity",
        allowed=allowed,
    )


def _complexity_rule(allowed: int) -> type[ValidationRule]:
    class ComplexityRule(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            document = context.document
            fragments = {
                d.name.value: d
                for d in document.definitions
                if isinstance(d, FragmentDefinitionNode)
            }
            for op in document.definitions:
                if isinstance(op, OperationDefinitionNode):
                    cost = selection_cost(op.selection_set, fragments)
                    if cost > allowed:
                        error = complexity_error(cost, allowed)
                        context.report_error(GraphQLError(error.message, op, original_error=error))

    return ComplexityRule


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


def day_range(first: date, last: date) -> None:
    _checked("day_range", periods.check_day_range, first, last)


def time_range(start: datetime, end: datetime, bucket: periods.Bucket) -> None:
    _checked("time_range", periods.check_time_range, start, end, bucket)


def funnel(steps: Sequence[str], window_seconds: int) -> None:
    _checked("steps", periods.check_funnel_steps, steps)
    _checked("window", periods.check_funnel_window, window_seconds)


def retention_days(days: Sequence[int]) -> None:
    _checked("days", periods.check_retention_days, days)


def event_types(types: Sequence[str] | None) -> None:
    _checked("types", periods.check_event_types, types)


def segment(value: periods.Segment) -> None:
    _checked("segment", periods.check_segment, value)
