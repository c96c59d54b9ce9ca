"""The Starlette application of the ingestion API."""

import asyncio
import contextlib
from collections.abc import AsyncIterator

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from apps.ingest.api import post_events
from apps.ingest.responses import json_response
from apps.ingest.runtime import Runtime, open_runtime
from apps.ingest.settings import IngestSettings


async def healthz(_: Request) -> Response:
    return json_response(200, {"status": "alive"})


async def readyz(request: Request) -> Response:
    """Ready when PostgreSQL answers and the broker serves metadata (each within 1 s)."""
    rt: Runtime = request.app.state.runtime
    checks = {"postgres": await _postgres_ok(rt), "kafka": await _kafka_ok(rt)}
    ok = all(v == "ok" for v in checks.values())
    return json_response(
        200 if ok else 503, {"status": "ready" if ok else "unavailable", "checks": checks}
    )


async def _postgres_ok(rt: Runtime) -> str:
    try:
        async with rt.pool.connection(timeout=1.0) as conn:
            await conn.execute("SELECT 1")
    except Exception as e:
        return f"unreachable ({type(e).__name__})"
    return "ok"


async def _kafka_ok(rt: Runtime) -> str:
    if rt.producer.broker_down:
        return "unreachable (all brokers down)"
    try:
        await asyncio.wait_for(asyncio.to_thread(rt.producer.metadata, 1.0), 2.0)
    except Exception as e:
        return f"unreachable ({type(e).__name__})"
    return "ok"


async def metrics(request: Request) -> Response:
    rt: Runtime = request.app.state.runtime
    return Response(generate_latest(rt.metrics.registry), media_type=CONTENT_TYPE_LATEST)


def create_app(settings: IngestSettings) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with open_runtime(settings) as rt:
            app.state.runtime = rt
            yield

    return Starlette(
        routes=[
            Route("/v1/events", post_events, methods=["POST"]),
            # For clients configured with the bare ingest URL from endpoints.json.
            Route("/", post_events, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
