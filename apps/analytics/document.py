"""The size of a GraphQL document, measured in time linear in its text (pure).

A document's cost is paid by walks that expand fragment spreads: strawberry's
depth and alias limiters, graphql-core's overlapping-fields rule and our
complexity rule. A chain of fragments that each spread the next one twice
doubles their work per fragment while the text stays small. So, before any
of them runs, `scan` bounds the tokens and the nesting of the text, and
`measure` walks the parsed document once, each fragment once (memoised), to
learn what the expanded document would hold: its depth, aliases, metric
complexity and field selections. `check` refuses what is beyond the limits.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLSyntaxError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    Source,
    TokenKind,
)
from graphql.language.lexer import Lexer

from apps.analytics.errors import BadUserInput

FIELD_WEIGHTS: Final = {
    "activeUsers": 1,
    "newUsers": 1,
    "revenue": 1,
    "sessions": 1,
    "liveStats": 1,
    "eventCounts": 2,
    "retention": 2,
    "funnel": 5,
    "player": 1,
}
"""The cost of one metric field per game. Only a field with a selection set is weighed: each
of these returns objects, and a scalar of the same name (`SessionPoint.sessions`,
`Player.sessions`) costs nothing."""

_OPEN: Final = frozenset({TokenKind.BRACE_L, TokenKind.BRACKET_L, TokenKind.PAREN_L})
_CLOSE: Final = frozenset({TokenKind.BRACE_R, TokenKind.BRACKET_R, TokenKind.PAREN_R})


@dataclass(frozen=True, slots=True)
class Limits:
    """The bounds `check` applies (from the settings' QueryLimits)."""

    max_depth: int
    max_aliases: int
    max_complexity: int
    max_fields: int


@dataclass(frozen=True, slots=True)
class Shape:
    """What a selection holds once every fragment spread is expanded.

    `depth` counts nested fields that have selections (introspection fields
    excepted, like strawberry's QueryDepthLimiter); the counts may be huge
    integers for a hostile document, which is fine: they are only compared.
    """

    depth: int = 0
    aliases: int = 0
    complexity: int = 0
    fields: int = 0

    def beside(self, other: "Shape") -> "Shape":
        """Two selections of the same selection set."""
        return Shape(
            max(self.depth, other.depth),
            self.aliases + other.aliases,
            self.complexity + other.complexity,
            self.fields + other.fields,
        )


_EMPTY: Final = Shape()
_INTROSPECTION: Final = frozenset({"__schema", "__type"})


def scan(query: str, max_tokens: int, max_nesting: int) -> None:
    """Count the document's tokens and brackets before it is parsed (the parser recurses).

    Raises BadUserInput naming `tokens` or `nesting`, or the syntax error's position.
    """
    lexer = Lexer(Source(query))
    tokens = nesting = 0
    try:
        token = lexer.advance()
        while token.kind is not TokenKind.EOF:
            tokens += 1
            if tokens > max_tokens:
                raise BadUserInput(
                    f"the document has more than {max_tokens} tokens; at most {max_tokens}"
                    " are allowed",
                    limit="tokens",
                    allowed=max_tokens,
                )
            if token.kind in _OPEN:
                nesting += 1
                if nesting > max_nesting:
                    raise BadUserInput(
                        f"the document nests brackets deeper than {max_nesting} levels (line"
                        f" {token.line}, column {token.column}); at most {max_nesting} are allowed",
                        limit="nesting",
                        allowed=max_nesting,
                    )
            elif token.kind in _CLOSE:
                nesting = max(nesting - 1, 0)
            token = lexer.advance()
    except GraphQLSyntaxError as e:
        raise syntax_error(e) from None


def syntax_error(error: GraphQLSyntaxError) -> BadUserInput:
    """A sentence with the position, for graphql-core's `Syntax Error: <what>.`."""
    what = error.message.removeprefix("Syntax Error: ").rstrip(".")
    where = ""
    if error.locations:
        where = f" at line {error.locations[0].line}, column {error.locations[0].column}"
    return BadUserInput(f"the query is not valid GraphQL{where}: {what[:1].lower()}{what[1:]}")


def measure(
    document: DocumentNode, *, introspection: bool = False
) -> list[tuple[OperationDefinitionNode, Shape]]:
    """The shape of each operation of the document; each fragment is walked once.

    Undefined fragments count as empty and cycles stop where they close: the
    document's validation refuses both later. With `introspection` on (local
    mode), what `__schema` and `__type` select counts as one field each:
    GraphiQL's introspection query selects about 220.
    """
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    walker = _Walker(fragments, introspection)
    return [
        (d, walker.selections(d.selection_set))
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode)
    ]


class _Walker:
    def __init__(self, fragments: Mapping[str, FragmentDefinitionNode], introspection: bool):
        self.fragments = fragments
        self.introspection = introspection
        self.done: dict[str, Shape] = {}
        self.active: set[str] = set()

    def selections(self, selection_set: SelectionSetNode) -> Shape:
        total = _EMPTY
        for node in selection_set.selections:
            if isinstance(node, FieldNode):
                total = total.beside(self.field(node))
            elif isinstance(node, InlineFragmentNode):
                total = total.beside(self.selections(node.selection_set))
            elif isinstance(node, FragmentSpreadNode):
                total = total.beside(self.fragment(node.name.value))
        return total

    def field(self, node: FieldNode) -> Shape:
        name = node.name.value
        inner = _EMPTY if node.selection_set is None else self.selections(node.selection_set)
        counted = node.selection_set is not None and not name.startswith("__")
        free = self.introspection and name in _INTROSPECTION
        return Shape(
            inner.depth + 1 if counted else 0,
            inner.aliases + (node.alias is not None),
            inner.complexity + (FIELD_WEIGHTS.get(name, 0) if node.selection_set else 0),
            1 if free else inner.fields + 1,
        )

    def fragment(self, name: str) -> Shape:
        known = self.done.get(name)
        if known is not None:
            return known
        definition = self.fragments.get(name)
        if definition is None or name in self.active:
            return _EMPTY
        self.active.add(name)
        shape = self.selections(definition.selection_set)
        self.active.discard(name)
        self.done[name] = shape
        return shape


def check(operations: list[tuple[OperationDefinitionNode, Shape]], limits: Limits) -> None:
    """Refuse a document beyond a limit: BadUserInput naming it (`limit`) and its bound.

    Fields first: beyond them, the other walks would be the expensive ones.
    Aliases and fields count over the whole document, depth and complexity
    per operation.
    """
    fields = sum(shape.fields for _, shape in operations)
    if fields > limits.max_fields:
        raise BadUserInput(
            f"the document selects {_count(fields)} fields once its fragments are expanded; at"
            f" most {limits.max_fields} are allowed",
            limit="fields",
            allowed=limits.max_fields,
        )
    depth = max((shape.depth for _, shape in operations), default=0)
    if depth > limits.max_depth:
        raise BadUserInput(
            f"the query nests {depth} levels of selections; at most {limits.max_depth} are allowed",
            limit="depth",
            allowed=limits.max_depth,
        )
    aliases = sum(shape.aliases for _, shape in operations)
    if aliases > limits.max_aliases:
        raise BadUserInput(
            f"the document uses {aliases} aliases; at most {limits.max_aliases} are allowed",
            limit="aliases",
            allowed=limits.max_aliases,
        )
    for _, shape in operations:
        if shape.complexity > limits.max_complexity:
            raise complexity_error(shape.complexity, limits.max_complexity)


def complexity_error(cost: int, allowed: int) -> BadUserInput:
    return BadUserInput(
        f"the request's complexity is {cost}; at most {allowed} is allowed (each metric field"
        " costs its weight per game: funnel 5, retention and eventCounts 2, the others 1)",
        limit="complexity",
        allowed=allowed,
    )


def _count(n: int) -> str:
    return str(n) if n < 10**12 else "more than a trillion"
