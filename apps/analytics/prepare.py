"""Everything a request needs before execution, in one call that may run in a worker thread.

`prepare` scans, parses, picks the operation, measures the document against
the limits (apps/analytics/document.py), validates it with graphql-core's
rules and coerces its variables. Each step is bounded by the ones before
it, so its time is bounded by the limits (docs/ANALYTICS.md, "Limits").
It does no I/O and holds no lock: the app runs it off the event loop, under
the request's time budget, and hands the document to strawberry, which then
neither parses nor validates again (`PreparedDocument`).
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
class Prepared:
    document: DocumentNode
    operation: OperationDefinitionNode


class Refused(Exception):
    """The document or its variables are refused; `errors` are what the caller is told."""

    def __init__(self, errors: list[GraphQLError]) -> None:
        super().__init__(f"{len(errors)} errors")
        self.errors = errors


def prepare(
    schema: GraphQLSchema,
    query: str,
    variables: Mapping[str, Any] | None,
    operation_name: str | None,
    limits: QueryLimits,
    *,
    introspection: bool,
) -> Prepared:
    """The parsed, measured and validated document and the operation to run.

    Raises BadUserInput (a limit, a syntax error), NoOperation (which operation
    to run is not clear, or it is not a query) or Refused (validation errors).
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
    rules = (*specified_rules, *(() if introspection else (NoSchemaIntrospectionCustomRule,)))
    found = validate_document(schema, doc, rules)
    if found:
        raise Refused([messages.humane(schema, doc, e) for e in found])
    coerced = get_variable_values(
        schema, operation.variable_definitions or (), dict(variables or {}), max_errors=20
    )
    if isinstance(coerced, list):
        raise Refused([messages.humane(schema, doc, e) for e in coerced])
    return Prepared(doc, operation)


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
