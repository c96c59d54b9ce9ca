"""graphql-core's validation and coercion messages, said as sentences naming what was wrong.

Most of graphql-core's messages already name the field or argument
("Cannot query field 'x' on type 'Game'."); a few pass on a parser's
fragment (a scalar's `Invalid isoformat string: 'Z'`) or an enum's type
name. Those are rewritten here to name the argument or variable, the value
and what is allowed; every other message is kept as graphql-core says it.
"""

import re
from dataclasses import dataclass
from typing import Final

from graphql import (
    ArgumentNode,
    DocumentNode,
    GraphQLEnumType,
    GraphQLError,
    GraphQLSchema,
    Node,
    StringValueNode,
    Visitor,
    visit,
)

from apps.analytics.errors import BadUserInput

_EXPECTED: Final = {
    "Date": "an ISO date such as 2026-11-01",
    "DateTime": "an RFC 3339 date-time with a UTC offset, such as 2026-11-01T10:00:00Z",
    "ID": "a string",
    "Int": "a whole number from -2147483648 to 2147483647",
    "Float": "a finite number",
    "String": "a string",
    "Boolean": "true or false",
}
_SCALAR: Final = re.compile(r"^(?:Value cannot represent an? |)(\w+) cannot represent[^:]*: (.*)$")
_SCALAR_VALUE: Final = re.compile(r"^Value cannot represent an? (\w+): (.*?)\. [^.]")
_ENUM: Final = re.compile(r"^Value '(.*)' does not exist in '(\w+)' enum\.")
_ENUM_LITERAL: Final = re.compile(r"^Enum '(\w+)' cannot represent non-enum value: (.*?)\.")
_VARIABLE: Final = re.compile(
    r"^Variable '\$(\w+)' (?:got invalid value (.*?); |has invalid value: )(.*)$", re.DOTALL
)
_ABORTED: Final = "Validation aborted."


def humane(schema: GraphQLSchema, document: DocumentNode, error: GraphQLError) -> GraphQLError:
    """The error with a message naming the argument or variable; BAD_USER_INPUT."""
    message, argument, nodes = error.message, None, error.nodes
    variable = _VARIABLE.match(message)
    if variable:
        name, _, inner = variable.groups()
        what = _what(schema, inner)
        message = f"variable ${name}: " + (f"{_value(inner)} {what}" if what else inner)
    else:
        what = _what(schema, message)
        if what is not None:
            value = _value(message)
            found = _argument_at(document, error, value)
            argument = found.name
            if not error.nodes and found.node is not None:
                nodes = [found.node]
            subject = f"{argument}: " if argument else ""
            message = f"{subject}{value} {what}"
        elif message == _ABORTED:
            message = "the document nests too deeply to validate"
    return GraphQLError(
        message,
        nodes,
        original_error=BadUserInput(message, argument=argument),
    )


def _what(schema: GraphQLSchema, message: str) -> str | None:
    """`is not ...; expected ...` for a scalar or enum coercion message, else None."""
    scalar = _SCALAR_VALUE.match(message)
    if scalar is not None and scalar.group(1) in _EXPECTED:
        return f"is not a valid {scalar.group(1)}: expected {_EXPECTED[scalar.group(1)]}"
    plain = _SCALAR.match(message)
    if plain is not None and plain.group(1) in _EXPECTED:
        return f"is not a valid {plain.group(1)}: expected {_EXPECTED[plain.group(1)]}"
    enum = _ENUM.match(message) or _ENUM_LITERAL.match(message)
    if enum is not None:
        type_name = enum.group(2) if enum.re is _ENUM else enum.group(1)
        values = _enum_values(schema, type_name)
        return f"is not one of {values}" if values else None
    return None


def _value(message: str) -> str:
    """The offending value as graphql-core quoted it."""
    for pattern, group in ((_SCALAR_VALUE, 2), (_SCALAR, 2), (_ENUM, 1), (_ENUM_LITERAL, 2)):
        found = pattern.match(message)
        if found:
            return _shorten(found.group(group))
    return "the value"


def _enum_values(schema: GraphQLSchema, type_name: str) -> str:
    named = schema.get_type(type_name)
    return ", ".join(named.values) if isinstance(named, GraphQLEnumType) else ""


def _shorten(value: str) -> str:
    return value if len(value) <= 80 else value[:77] + "..."


def _argument_at(document: DocumentNode, error: GraphQLError, value: str) -> "_Found":
    """The argument whose value holds the error's node, or else the quoted string `value`.

    graphql-core reports a scalar's own parse error without a node; then the
    first argument holding that string is the one (the value is in the message).
    """
    position = error.nodes[0].loc.start if error.nodes and error.nodes[0].loc else None
    text = value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else None
    finder = _ArgumentFinder(position, text)
    visit(document, finder)
    return finder.found


@dataclass(frozen=True, slots=True)
class _Found:
    name: str | None = None
    node: Node | None = None


class _ArgumentFinder(Visitor):
    def __init__(self, position: int | None, text: str | None) -> None:
        super().__init__()
        self.position, self.text = position, text
        self.current: ArgumentNode | None = None
        self.found = _Found()

    def enter_argument(self, node: ArgumentNode, *_: object) -> None:
        self.current = node
        loc = node.loc
        if (
            self.found.name is None and self.position is not None and loc is not None
            and loc.start <= self.position < loc.end
        ):  # fmt: skip
            self.found = _Found(node.name.value)

    def leave_argument(self, node: ArgumentNode, *_: object) -> None:
        self.current = None

    def enter_string_value(self, node: StringValueNode, *_: object) -> None:
        if self.found.name is None and self.current is not None and node.value == self.text:
            self.found = _Found(self.current.name.value, node)
