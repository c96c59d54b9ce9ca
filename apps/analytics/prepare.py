"""Everything a request needs before execution, in three steps with bounded costs.

`measure` scans, parses, picks the operation and checks the document against
the limits (apps/analytics/document.py) in time linear in its text;
`validation_errors` runs graphql-core's rules, whose time the fields limit
bounds; `coerce` checks the variables. None does I/O. The app runs them under
the request's time budget (validation of a large document in a worker
process, apps/analytics/validator.py) and hands the document to strawberry,
which then neither parses nor validates again (`PreparedDocument`).
"""

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    GraphQLSyntaxError,
    NoSchemaIntrospectionCustomRule,
    OperationDefinitionNode,
    OperationType,
    parse,
    specified_rules,
)
from graphql.execution.values import get_variable_values
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

from apps.analytics import document, messages
from apps.analytics.errors import BadUserInput, NoOperation
from apps.core.settings.analytics import QueryLimits


@dataclass(frozen=True, slots=True)
class Measured:
    """A parsed document within every limit, and the operation it runs."""

    document: DocumentNode
    operation: OperationDefinitionNode
    fields: int
    """Field selections with fragments expanded: what validation's time grows with."""


@dataclass(frozen=True, slots=True)
class Prepared:
    document: DocumentNode
    operation: OperationDefinitionNode


class Refused(Exception):
    """The document or its variables are refused; `errors` are what the caller is told."""

    def __init__(self, errors: list[GraphQLError]) -> None:
        super().__init__(f"{len(errors)} errors")
        self.errors = errors


def measure(
    query: str, operation_name: str | None, limits: QueryLimits, *, introspection: bool
) -> Measured:
    """Scan, parse, pick the operation and check the document's limits: linear in its text.

    Raises BadUserInput (a limit, a syntax error) or NoOperation (which operation to
    run is not clear, or it is not a query).
    """
    document.scan(query, limits.max_tokens, limits.max_nesting)
    try:
        doc = parse(query, max_tokens=limits.max_tokens)
    except GraphQLSyntaxError as e:
        raise document.syntax_error(e) from None
    operation = choose_operation(doc, operation_name)
    shapes = document.measure(doc, introspection=introspection)
    document.check(
        shapes,
        document.Limits(
            limits.max_depth, limits.max_aliases, limits.max_complexity, limits.max_fields
        ),
    )
    return Measured(doc, operation, sum(shape.fields for _, shape in shapes))


def validation_errors(
    schema: GraphQLSchema, doc: DocumentNode, *, introspection: bool
) -> list[GraphQLError]:
    """graphql-core's rules (and strawberry's two), worded by messages.humane.

    Quadratic in the fields of a selection that share a response name (the
    overlapping-fields rule), hence the fields limit before it.
    """
    rules = (*specified_rules, *(() if introspection else (NoSchemaIntrospectionCustomRule,)))
    return [messages.humane(schema, doc, e) for e in validate_document(schema, doc, rules)]


def coerce(
    schema: GraphQLSchema, measured: Measured, variables: Mapping[str, Any] | None
) -> Prepared:
    """The document once its variables coerce to their declared types; Refused if not."""
    operation = measured.operation
    coerced = get_variable_values(
        schema, operation.variable_definitions or (), dict(variables or {}), max_errors=20
    )
    if isinstance(coerced, list):
        raise Refused([messages.humane(schema, measured.document, e) for e in coerced])
    return Prepared(measured.document, operation)


def choose_operation(doc: DocumentNode, name: str | None) -> OperationDefinitionNode:
    """The one operation of the document, or the one `operationName` names; only a query."""
    operations = [d for d in doc.definitions if isinstance(d, OperationDefinitionNode)]
    if not operations:
        raise BadUserInput("the document holds fragments but no operation to run")
    if name is None:
        if len(operations) > 1:
            raise NoOperation(
                f"the document holds {len(operations)} operations and operationName is not"
                " given: send one operation per document, or name the one to run in"
                " operationName",
                limit="operations",
                allowed="one operation per document unless operationName is given",
            )
        chosen = operations[0]
    else:
        named = [op for op in operations if op.name is not None and op.name.value == name]
        if not named:
            raise NoOperation(
                f"operationName: the document has no operation named {name[:64]!r}",
                argument="operationName",
                allowed=", ".join(_names(operations)) or "no named operation",
            )
        chosen = named[0]
    if chosen.operation is not OperationType.QUERY:
        raise NoOperation(
            f"only queries are served; this operation is a {chosen.operation.value}",
            allowed="query",
        )
    return chosen


def _names(operations: list[OperationDefinitionNode]) -> Iterator[str]:
    return (op.name.value for op in operations if op.name is not None)


class PreparedDocument(SchemaExtension):
    """Gives strawberry the document `prepare` checked: it skips parsing and validating."""

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        prepared: Prepared = context.context.prepared
        context.graphql_document = prepared.document
        yield

    def on_validate(self) -> Iterator[None]:
        # A list, even empty, means "validated already" to strawberry.
        self.execution_context.pre_execution_errors = []
        yield
