"""One Starlette app shape for every service: its routes plus the shared edge.

`service_app` adds, at the paths the service's declaration names, `/healthz`
(liveness), `/readyz` (named readiness checks) and `/metrics` (its Prometheus
registry), and answers every error the service does not with a JSON body:
unknown route 404, wrong method 405, an InputError with its status, anything
unexpected 500 with no trace (logged). The service's `running` context opens
its clients at start-up, yields its `Probes`, and closes them at shutdown.
"""

import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from apps.core.errors import InputError
from apps.core.services import Service
from apps.edge.probes import Probes, readiness
from apps.edge.responses import error_body, input_error_response, json_response

log = logging.getLogger(__name__)
Running = Callable[[Starlette], AbstractAsyncContextManager[Probes]]


def _probes(request: Request) -> Probes:
    probes: Probes = request.app.state.probes
    return probes


async def healthz(request: Request) -> Response:
    why = _probes(request).liveness()
    if why is not None:
        return json_response(503, {"status": why})
    return json_response(200, {"status": "alive"})


async def readyz(request: Request) -> Response:
    ok, body = await readiness(_probes(request).readiness)
    return json_response(200 if ok else 503, body)


async def metrics(request: Request) -> Response:
    return Response(generate_latest(_probes(request).registry), media_type=CONTENT_TYPE_LATEST)


async def _http_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    headers = dict(exc.headers) if exc.headers else None
    return json_response(exc.status_code, error_body(str(exc.detail)), headers)


async def _input_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, InputError)
    return input_error_response(exc)


async def _unexpected(request: Request, exc: Exception) -> Response:
    # Starlette re-raises after this answer, and the server logs the traceback.
    log.error("unexpected %s in %s %s", type(exc).__name__, request.method, request.url.path)
    return json_response(500, error_body("internal error"))


def service_app(service: Service, routes: Sequence[BaseRoute], running: Running) -> Starlette:
    """The service's ASGI app: `routes` and the shared edge (see the module docstring)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with running(app) as probes:
            app.state.probes = probes
            yield

    edge = [
        Route(service.liveness_path, healthz, methods=["GET"]),
        Route(service.readiness_path, readyz, methods=["GET"]),
        Route(service.metrics_path, metrics, methods=["GET"]),
    ]
    return Starlette(
        routes=[*routes, *edge],
        lifespan=lifespan,
        exception_handlers={
            HTTPException: _http_error,
            InputError: _input_error,
            Exception: _unexpected,
        },
    )
