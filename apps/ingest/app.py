"""The Starlette application of the ingestion API: POST /v1/events and the shared edge."""

import asyncio
import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.routing import Route

from apps.core.services import INGEST
from apps.core.settings.ingest import IngestSettings
from apps.edge.app import service_app
from apps.edge.probes import Check, Probes, Unready, pool_check
from apps.ingest.api import post_events
from apps.ingest.runtime import Runtime, open_runtime


def kafka_check(rt: Runtime) -> Check:
    """The broker serves metadata (the producer's own view first: all brokers down)."""

    async def check() -> None:
        if rt.producer.broker_down:
            raise Unready("all brokers down")
        await asyncio.to_thread(rt.producer.metadata, 1.0)

    return check


def create_app(settings: IngestSettings) -> Starlette:
    @contextlib.asynccontextmanager
    async def running(app: Starlette) -> AsyncIterator[Probes]:
        async with open_runtime(settings) as rt:
            app.state.runtime = rt
            yield Probes(
                registry=rt.metrics.registry,
                readiness={"postgres": pool_check(rt.pool), "kafka": kafka_check(rt)},
            )

    routes = [
        Route("/v1/events", post_events, methods=["POST"]),
        # For clients configured with the bare ingest URL from endpoints.json.
        Route("/", post_events, methods=["POST"]),
    ]
    return service_app(INGEST, routes, running)
