"""The Starlette application of the analytics API: POST /graphql, GraphiQL in dev, probes.

A request is answered in this order: the token (401 without a valid one),
the body (at most `max_body_bytes`, a JSON object with `query`), then the
schema runs it. GraphQL errors answer 200 with `errors`, each carrying
`extensions.code` (errors.py); HTTP-level refusals carry the same shape.
"""

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import msgspec
import strawberry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route
from strawberry.http.ides import get_graphql_ide_html
from strawberry.types.graphql import OperationType

from apps.analytics import errors, prepare
from apps.analytics.auth import authenticate
from apps.analytics.context import Context, Runtime, open_runtime
from apps.analytics.errors import AnalyticsError, BadUserInput, NoOperation, Unauthenticated
from apps.analytics.schema import build_schema
from apps.core.errors import InputError, TooLarge
from apps.core.services import ANALYTICS
from apps.core.settings.analytics import AnalyticsSettings, QueryLimits
from apps.edge.app import service_app
from apps.edge.body import read_body
from apps.edge.probes import Probes, pool_check
from apps.edge.responses import json_response
from apps.store.tokens import TokenGrant

_QUERY_ONLY = frozenset({OperationType.QUERY})
_TOO_DEEP = object()


class _HttpRefusal(Exception):
    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None):
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers


async def graphql_post(request: Request) -> Response:
    rt: Runtime = request.app.state.runtime
    started = time.perf_counter()
    try:
        status, body, headers = 200, await _execute(request, rt), None
    except _HttpRefusal as refusal:
        status, body, headers = refusal.status, refusal.body, refusal.headers
    for error in body.get("errors", ()):
        rt.metrics.errors.labels(error["extensions"]["code"]).inc()
    rt.metrics.requests.labels(str(status)).inc()
    response = json_response(status, body, headers)
    rt.metrics.latency.observe(time.perf_counter() - started)
    return response


async def _execute(request: Request, rt: Runtime) -> dict[str, Any]:
    try:
        grant = await authenticate(rt.pool, request.headers.get("authorization"))
    except Unauthenticated as e:
        raise _HttpRefusal(
            401,
            errors.request_error(e.message, errors.UNAUTHENTICATED),
            {"WWW-Authenticate": 'Bearer realm="gamemetrics"'},
        ) from None
    except AnalyticsError as e:
        raise _HttpRefusal(
            503, errors.request_error(e.message, e.code), {"Retry-After": "1"}
        ) from None
    limits = rt.settings.limits
    query, variables, operation = _operation(await _body(request, limits.max_body_bytes), limits)
    budget = limits.request_timeout.total_seconds()
    try:
        async with asyncio.timeout(budget):
            return await _run(request, rt, grant, query, variables, operation)
    except TimeoutError:
        allowed = int(budget * 1000)
        return errors.request_error(
            f"the request ran past its time budget of {allowed} ms; ask for less (fewer"
            " fields, a shorter range) or retry when the service is less busy",
            limit="requestTimeoutMs",
            allowed=allowed,
        )


async def _run(
    request: Request, rt: Runtime, grant: TokenGrant, query: str,
    variables: dict[str, Any] | None, operation: str | None,
) -> dict[str, Any]:  # fmt: skip
    """Measure the document, validate it (a large one in a worker process), then run it."""
    schema: strawberry.Schema = request.app.state.schema
    settings = rt.settings
    introspection = settings.introspection
    try:
        measured = prepare.measure(query, operation, settings.limits, introspection=introspection)
        found = await rt.validator.errors(
            schema._schema, query, measured, introspection=introspection
        )
        if found:
            raise prepare.Refused(found)
        prepared = prepare.coerce(schema._schema, measured, variables)
    except NoOperation as e:
        raise _HttpRefusal(400, {"errors": [errors.error_json(e)]}) from None
    except BadUserInput as e:
        return {"errors": [errors.error_json(e)]}
    except prepare.Refused as e:
        return {"errors": [errors.to_json(error) for error in e.errors]}
    context = Context(runtime=rt, grant=grant, today=datetime.now(UTC).date(), prepared=prepared)
    result = await schema.execute(
        query, variable_values=variables, context_value=context,
        operation_name=operation, allowed_operation_types=_QUERY_ONLY,
    )  # fmt: skip
    body: dict[str, Any] = {}
    executed = result.data is not None or any(e.path is not None for e in result.errors or ())
    if executed:
        body["data"] = result.data
    if result.errors:
        body["errors"] = [errors.to_json(e) for e in result.errors]
    return body


async def _body(request: Request, limit: int) -> bytes:
    try:
        return await read_body(
            request.stream(), limit=limit, content_length=request.headers.get("content-length")
        )
    except TooLarge:
        raise _HttpRefusal(
            413,
            errors.request_error(
                f"the request body is larger than {limit} bytes", limit="bodyBytes", allowed=limit
            ),
        ) from None
    except InputError as e:
        raise _HttpRefusal(400, errors.request_error(f"{e.field}: {e.reason}")) from None


def _operation(raw: bytes, limits: QueryLimits) -> tuple[str, dict[str, Any] | None, str | None]:
    """`query`, `variables` and `operationName` of a GraphQL-over-HTTP JSON body."""
    try:
        payload = msgspec.json.decode(raw)
    except UnicodeDecodeError as e:
        raise _HttpRefusal(
            400, errors.request_error(f"the body is not UTF-8 (byte {e.start}); send UTF-8 JSON")
        ) from None
    except msgspec.DecodeError:
        raise _HttpRefusal(
            400, errors.request_error('the body is not JSON; send {"query": "..."}')
        ) from None
    except RecursionError:
        payload = _TOO_DEEP  # deeper than any nesting limit: refused just below
    max_nesting, max_values = limits.max_nesting, limits.max_json_values
    depth, values = (
        (max_nesting + 1, 0) if payload is _TOO_DEEP else json_shape(payload, max_nesting)
    )
    if depth > max_nesting:
        raise _HttpRefusal(
            400,
            errors.request_error(
                f"the body nests JSON deeper than {max_nesting} levels",
                limit="nesting", allowed=max_nesting,
            ),
        )  # fmt: skip
    if values > max_values:
        raise _HttpRefusal(
            400,
            errors.request_error(
                f"the body holds more than {max_values} JSON values (variables included)",
                limit="jsonValues", allowed=max_values,
            ),
        )  # fmt: skip
    if not isinstance(payload, dict):
        raise _HttpRefusal(400, errors.request_error("the body must be a JSON object"))
    query, variables, operation = (
        payload.get("query"), payload.get("variables"), payload.get("operationName")
    )  # fmt: skip
    if not isinstance(query, str) or not query.strip():
        raise _HttpRefusal(400, errors.request_error("query: a GraphQL document is required"))
    if variables is not None and not isinstance(variables, dict):
        raise _HttpRefusal(400, errors.request_error("variables: must be a JSON object"))
    if operation is not None and not isinstance(operation, str):
        raise _HttpRefusal(400, errors.request_error("operationName: must be a string"))
    return query, variables, operation


def json_shape(value: object, stop: int) -> tuple[int, int]:
    """How deep a decoded JSON value nests (a scalar is 0) and how many values it holds,
    counted no deeper than `stop` + 1.

    Level by level, not recursively: the body may be as deep as the decoder allows.
    Coercing variables costs time per value, in the event loop: hence the count.
    """
    depth, values, level = 0, 1, [value]
    while depth <= stop:
        containers = [item for item in level if isinstance(item, dict | list)]
        if not containers:
            break
        depth += 1
        level = [
            child
            for container in containers
            for child in (container.values() if isinstance(container, dict) else container)
        ]
        values += len(level)
    return depth, values


async def graphql_get(request: Request) -> Response:
    rt: Runtime = request.app.state.runtime
    if rt.settings.graphiql:
        return HTMLResponse(get_graphql_ide_html("graphiql"))
    rt.metrics.requests.labels("405").inc()
    return json_response(
        405,
        errors.request_error("use POST /graphql; GraphiQL is served on GET only in dev mode"),
        {"Allow": "POST"},
    )


def create_app(settings: AnalyticsSettings) -> Starlette:
    @contextlib.asynccontextmanager
    async def running(app: Starlette) -> AsyncIterator[Probes]:
        async with open_runtime(settings) as rt:
            app.state.runtime = rt
            app.state.schema = build_schema()
            # Redis is not a readiness check: the cache only speeds answers up.
            yield Probes(registry=rt.metrics.registry, readiness={"postgres": pool_check(rt.pool)})

    routes = [
        Route("/graphql", graphql_post, methods=["POST"]),
        Route("/graphql", graphql_get, methods=["GET"]),
    ]
    return service_app(ANALYTICS, routes, running)
