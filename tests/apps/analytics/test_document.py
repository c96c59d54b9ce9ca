"""apps/analytics/document.py: measuring a document in time linear in its text."""

import pytest
from graphql import get_introspection_query, parse

from apps.analytics import document
from apps.analytics.errors import BadUserInput

LIMITS = document.Limits(max_depth=4, max_aliases=20, max_complexity=20, max_fields=150)


def chain(n: int, leaf: str = "id") -> str:
    parts = ["query { games { ...F0 } }"]
    for i in range(n):
        body = f"...F{i + 1} ...F{i + 1}" if i < n - 1 else leaf
        parts.append(f"fragment F{i} on Game {{ {body} }}")
    return "\n".join(parts)


def shape(query: str, *, introspection: bool = False) -> document.Shape:
    [(_, found)] = document.measure(parse(query), introspection=introspection)
    return found


def test_each_fragment_is_walked_once_so_a_doubling_chain_costs_linear_time() -> None:
    # Returning at all is the proof: walking every spread of the chain would take 2**200 steps.
    measured = shape(
        chain(200, 'funnel(from: "2026-01-01", to: "2026-01-01", steps: ["a"]) { users }')
    )
    assert measured.fields == 1 + 2**199 * 2  # games, then 2**199 funnels with one field each
    assert measured.complexity == 5 * 2**199
    assert measured.depth == 2
    with pytest.raises(BadUserInput) as refused:
        document.check(document.measure(parse(chain(200))), LIMITS)
    assert refused.value.extensions == {"code": "BAD_USER_INPUT", "limit": "fields", "allowed": 150}
    assert "more than a trillion" in refused.value.message


def test_shape_counts_depth_aliases_complexity_and_fields_like_the_expanded_document() -> None:
    query = (
        "query { a: games { ...G } b: games { id } }"
        ' fragment G on Game { id r: retention(from: "2026-01-01", to: "2026-01-01")'
        " { retained { day } } ... on Game { liveStats { eventsLastMinute } } }"
    )
    assert shape(query) == document.Shape(depth=3, aliases=3, complexity=3, fields=9)


def test_only_a_field_with_a_selection_is_weighed_so_scalars_named_like_metrics_are_free() -> None:
    query = (
        'query { game(id: "x") { player(id: "a") { sessions purchases lastEvents { type } }'
        ' sessions(from: "2026-01-01", to: "2026-01-01") { sessions } } }'
    )
    assert shape(query).complexity == 2  # player 1, sessions 1; the scalars `sessions` 0


def test_cycles_and_unknown_fragments_end_the_walk_and_are_left_to_validation() -> None:
    query = (
        "query { games { ...A ...Missing } }"
        " fragment A on Game { id ...B } fragment B on Game { ...A }"
    )
    assert shape(query).fields == 2


def test_introspection_counts_as_one_field_only_when_it_is_on() -> None:
    query = get_introspection_query()
    assert shape(query, introspection=True).fields == 1
    assert shape(query).fields > 150


@pytest.mark.parametrize(
    ("text", "limit", "allowed"),
    [
        ("{ games { " + "id " * 300 + "} }", "tokens", 200),
        ("{ a(x: " + "[" * 30 + ") }", "nesting", 24),
    ],
)
def test_scan_bounds_tokens_and_nesting_before_parsing(text: str, limit: str, allowed: int) -> None:
    with pytest.raises(BadUserInput) as refused:
        document.scan(text, max_tokens=200, max_nesting=24)
    assert refused.value.extensions["limit"] == limit
    assert refused.value.extensions["allowed"] == allowed


def test_a_syntax_error_is_a_sentence_with_its_position() -> None:
    with pytest.raises(BadUserInput) as refused:
        document.scan('{ games { id } } "unterminated', max_tokens=200, max_nesting=24)
    assert refused.value.message.startswith(
        "the query is not valid GraphQL at line 1, column 31: unterminated string"
    )
