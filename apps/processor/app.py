"""The processor as a service: the chain on a worker thread, health and metrics over HTTP.

`/drain` answers whether every assigned partition is read to its end and
committed; `gamemetrics dev` polls it on Ctrl-C so the in-memory broker is
stopped only once nothing acknowledged is left in it.
"""

import contextlib
import logging
import os
import signal
import threading
import time
from collections.abc import AsyncIterator

import psycopg
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from apps.ingest.responses import json_response
from apps.processor.consumer import Processor
from apps.processor.metrics import ProcessorMetrics
from apps.processor.settings import ProcessorSettings

log = logging.getLogger(__name__)
_STUCK_AFTER_S = 60.0


def create_app(settings: ProcessorSettings) -> Starlette:
    metrics = ProcessorMetrics()
    processor = Processor(settings, metrics)
    stop = threading.Event()

    def work() -> None:
        try:
            processor.run(stop)
        except Exception:
            log.exception("the processor failed; stopping the service so it is restarted")
            os.kill(os.getpid(), signal.SIGTERM)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        thread = threading.Thread(target=work, name="processor", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(15)

    async def healthz(_: Request) -> Response:
        stuck = time.monotonic() - processor.heartbeat > _STUCK_AFTER_S
        return json_response(503 if stuck else 200, {"status": "stuck" if stuck else "alive"})

    async def readyz(_: Request) -> Response:
        try:
            async with await psycopg.AsyncConnection.connect(
                settings.postgres_dsn, connect_timeout=1
            ) as conn:
                await conn.execute("SELECT 1")
            database = "ok"
        except psycopg.Error as e:
            database = f"unreachable ({type(e).__name__})"
        ok = database == "ok"
        body = {"status": "ready" if ok else "unavailable", "checks": {"postgres": database}}
        return json_response(200 if ok else 503, body)

    async def drain(_: Request) -> Response:
        return json_response(200, {"caught_up": processor.caught_up, "lag": processor.lag})

    async def metrics_endpoint(_: Request) -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/drain", drain),
            Route("/metrics", metrics_endpoint),
        ],
        lifespan=lifespan,
    )
