"""Hypothesis strategies for GraphQL requests built from the served schema, with hostile values.

`requests(schema, game_ids)` draws a document that selects real fields of
Query, Game and their result types, with arguments of the declared types
and of wrong ones: calendar-edge and malformed dates, huge integers, NaN-ish
and NUL-carrying strings, deep lists, unknown enum values and input fields,
aliases, inline and named fragments (spread several times), and variables
whose JSON value may not match their declared type.
"""

import json
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    get_named_type,
)
from hypothesis import strategies as st

EDGE_DATES = [
    "0001-01-01", "0001-01-07", "1969-12-31", "1970-01-01", "8999-12-31", "9000-01-01",
    "9999-12-25", "9999-12-31", "2026-02-29", "2024-02-29", "2026-13-01", "2026-00-10", "",
    "Z", "NaN", "2026-03-01\u0000", "+002026-03-01", "2026-03-01T00:00:00Z", "١٢٣٤-٠١-٠١",
]  # fmt: skip
EDGE_TIMES = [
    "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "9999-12-31T23:59:59Z",
    "2026-03-01T00:00:00", "2026-03-01T00:00:00+25:00", "2026-03-01T24:00:00Z", "Z", "",
    "2026-03-01 00:00:00Z", "2026-03-01T00:00:00.999999999Z", "NaN", "-infinity",
]  # fmt: skip
NASTY_TEXT = [
    "", "\u0000", "ios\u0000", "NaN", "Infinity", "-0", "' OR 1=1 --", "%(game)s", "{}",
    "\ud800", "x" * 129, "é" * 64, "session_start", "purchase",
]  # fmt: skip
HUGE_INTS = [2**31 - 1, 2**31, -(2**31) - 1, 2**63, -(2**63) - 1, 10**40, -1, 0, 401, 7776001]


def _date() -> st.SearchStrategy[str]:
    """Mostly days that hold data (2026-03-01 to 03-10), else edges and junk."""
    return st.integers(0, 29).flatmap(
        lambda roll: st.integers(1, 10).map(lambda n: f"2026-03-{n:02d}") if roll < 20
        else st.sampled_from(EDGE_DATES) if roll < 27
        else st.dates().map(lambda d: d.isoformat())
    )  # fmt: skip


def _datetime() -> st.SearchStrategy[str]:
    hours = st.integers(0, 240).map(lambda h: f"2026-03-{1 + h // 24:02d}T{h % 24:02d}:00:00")
    offsets = st.sampled_from(["Z", "+00:00", "+14:00", "-14:00", "+05:30"])
    return st.integers(0, 9).flatmap(
        lambda roll: st.tuples(hours, offsets).map("".join) if roll < 7
        else st.sampled_from(EDGE_TIMES)
    )  # fmt: skip


def _text() -> st.SearchStrategy[str]:
    return st.integers(0, 9).flatmap(
        lambda roll: st.sampled_from(["ios", "DE", "1.0", "purchase", "session_start"])
        if roll < 5 else st.sampled_from(NASTY_TEXT) if roll < 8 else st.text(max_size=20)
    )  # fmt: skip


class _Literal(str):
    """Already GraphQL syntax (an enum name, a number): written as is."""


def render(value: object) -> str:
    """A Python value as a GraphQL literal."""
    if isinstance(value, _Literal):
        return str(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # JSON escapes are GraphQL escapes, \u0000 included
    if isinstance(value, list):
        return "[" + ", ".join(render(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {render(v)}" for k, v in value.items()) + "}"
    raise TypeError(type(value))


def _any_value() -> st.SearchStrategy[object]:
    """A value of any kind: what a wrong-typed argument or variable holds."""
    leaves = st.one_of(
        st.none(), st.booleans(), st.sampled_from(HUGE_INTS), st.floats(allow_nan=False),
        _text(), _date(),
    )  # fmt: skip
    return st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4),
            st.dictionaries(st.sampled_from(["platform", "country", "zz"]), inner, max_size=3),
        ),
        max_leaves=12,
    )


def one_in(draw: st.DrawFn, n: int) -> bool:
    """True about once in `n` draws. Hypothesis favours the ends of a range (0 and n - 1),
    so the rare case is a value in the middle."""
    return draw(st.integers(0, n - 1)) == n // 2


def _deep_list(depth: int) -> object:
    value: object = "x"
    for _ in range(depth):
        value = [value]
    return value


@st.composite
def value_of(draw: st.DrawFn, kind: GraphQLInputType, hostile: bool) -> object:
    """A value of `kind`; if `hostile`, now and then a wrong one, and values at the edges."""
    if hostile and one_in(draw, 12):
        return draw(_any_value())
    if hostile and one_in(draw, 24):
        return _deep_list(draw(st.integers(3, 40)))
    if isinstance(kind, GraphQLNonNull):
        return draw(value_of(kind.of_type, hostile))
    if isinstance(kind, GraphQLList):
        return draw(st.lists(value_of(kind.of_type, hostile), min_size=1, max_size=4))
    if isinstance(kind, GraphQLEnumType):
        junk = ["X", "day", "null"] if hostile and one_in(draw, 10) else []
        return _Literal(draw(st.sampled_from([*kind.values, *junk])))
    if isinstance(kind, GraphQLInputObjectType):
        extra = ["zz"] if hostile and one_in(draw, 10) else []
        names = draw(st.lists(st.sampled_from([*kind.fields, *extra]), max_size=3, unique=True))
        return {
            n: draw(value_of(kind.fields[n].type, hostile)) if n in kind.fields else 1
            for n in names
        }
    assert isinstance(kind, GraphQLScalarType)
    if not hostile:
        benign: dict[str, st.SearchStrategy[Any]] = {
            "Date": st.integers(1, 10).map(lambda n: f"2026-03-{n:02d}"),
            "DateTime": st.integers(0, 240).map(
                lambda h: f"2026-03-{1 + h // 24:02d}T{h % 24:02d}:00:00Z"
            ),
            "Int": st.integers(0, 60),
            "String": st.sampled_from(["ios", "DE", "1.0", "", "purchase", "session_start"]),
        }
        if kind.name in benign:
            return draw(benign[kind.name])
    strategies: dict[str, st.SearchStrategy[Any]] = {
        "Date": _date(),
        "DateTime": _datetime(),
        "Int": st.one_of(st.sampled_from(HUGE_INTS), st.integers(-5, 500)),
        "Float": st.floats(allow_nan=False, allow_infinity=False),
        "String": _text(),
        "Boolean": st.booleans(),
        "ID": _text(),
    }
    return draw(strategies[kind.name])


class _Variables:
    def __init__(self) -> None:
        self.declared: list[str] = []
        self.values: dict[str, object] = {}

    def add(self, type_text: str, value: object) -> str:
        name = f"v{len(self.declared)}"
        self.declared.append(f"${name}: {type_text}")
        self.values[name] = value
        return f"${name}"


@st.composite
def _arguments(
    draw: st.DrawFn, field: GraphQLField, variables: _Variables, game_ids: list[str],
    hostile: bool,
) -> str:  # fmt: skip
    parts = []
    for name, arg in field.args.items():
        if not isinstance(arg.type, GraphQLNonNull) and draw(st.booleans()):
            continue
        value: object
        if name == "id" and (not hostile or draw(st.booleans())):
            value = draw(st.sampled_from(game_ids))
        else:
            value = draw(value_of(arg.type, hostile))
        if one_in(draw, 6):
            # As a variable: an enum is a JSON string there, which a _Literal is.
            wrong = hostile and one_in(draw, 4)
            type_text = (
                draw(st.sampled_from(["String", "Int", "[Date!]!"])) if wrong else str(arg.type)
            )
            parts.append(f"{name}: {variables.add(type_text, value)}")
        else:
            parts.append(f"{name}: {render(value)}")
    if hostile and one_in(draw, 20):
        parts.append(f"unknownArg: {render(draw(_any_value()))}")
    return f"({', '.join(parts)})" if parts else ""


@st.composite
def _selection(
    draw: st.DrawFn, parent: GraphQLObjectType, depth: int, variables: _Variables,
    game_ids: list[str], fragments: dict[str, str], hostile: bool,
) -> str:  # fmt: skip
    names = draw(
        st.lists(st.sampled_from(sorted(parent.fields)), min_size=1, max_size=3, unique=True)
    )
    items = []
    for name in names:
        field = parent.fields[name]
        alias = f"{draw(st.sampled_from(['a', 'b', 'id', 'name']))}: " if one_in(
            draw, 8 if hostile else 40
        ) else ""  # fmt: skip
        args = draw(_arguments(field, variables, game_ids, hostile))
        named = get_named_type(field.type)
        sub = ""
        if isinstance(named, GraphQLObjectType):
            if depth >= 3:
                sub = " { __typename }"
            else:
                inner = draw(_selection(named, depth + 1, variables, game_ids, fragments, hostile))
                sub = f" {{ {inner} }}"
        items.append(f"{alias}{name}{args}{sub}")
    if hostile and one_in(draw, 20):
        items.append("secretField")
    body = " ".join(items)
    how = draw(st.integers(0, 7))
    if how == 5:
        return f"... on {parent.name} {{ {body} }}"
    if how == 6:
        name = f"F{len(fragments)}"
        fragments[name] = f"fragment {name} on {parent.name} {{ {body} }}"
        return " ".join([f"...{name}"] * draw(st.integers(1, 3)))
    return body


@st.composite
def requests(draw: st.DrawFn, schema: GraphQLSchema, game_ids: list[str]) -> dict[str, Any]:
    """A JSON body: `query`, maybe `variables` and `operationName`.

    Half the requests are hostile (values at the edges and of the wrong type, unknown
    fields and arguments); the others are well-formed, so execution is exercised too.
    """
    variables, fragments = _Variables(), dict[str, str]()
    query_type = schema.query_type
    assert query_type is not None
    hostile: bool = draw(st.booleans())
    selection = draw(_selection(query_type, 1, variables, game_ids, fragments, hostile))
    header = f"query Q({', '.join(variables.declared)})" if variables.declared else "query Q"
    document = " ".join([f"{header} {{ {selection} }}", *fragments.values()])
    body: dict[str, Any] = {"query": document}
    empty_variables: bool = draw(st.booleans())
    if variables.values or empty_variables:
        body["variables"] = variables.values
    if hostile and one_in(draw, 10):
        body["operationName"] = draw(st.sampled_from(["Q", "Other", ""]))
    if hostile and one_in(draw, 15):
        body["query"] = document + " query Other { games { id } }"
    return body
