"""The processor as a service: the chain on a worker thread, the shared edge over HTTP.

`/drain` answers whether every assigned partition is read to its end and
committed; `gamemetrics dev` polls it on Ctrl-C so the in-memory broker is
stopped only once nothing acknowledged is left in it. `/healthz` fails when
the chain has not come round its loop for a minute (a stuck consumer is
restarted); `/readyz` checks PostgreSQL.
"""

import contextlib
import logging
import os
import signal
import threading
import time
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from apps.core.services import PROCESSOR
from apps.core.settings.processor import ProcessorSettings
from apps.edge.app import service_app
from apps.edge.probes import Probes, dsn_check
from apps.edge.responses import json_response
from apps.processor.consumer import Processor
from apps.processor.metrics import ProcessorMetrics

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

    def liveness() -> str | None:
        return "stuck" if time.monotonic() - processor.heartbeat > _STUCK_AFTER_S else None

    @contextlib.asynccontextmanager
    async def running(_: Starlette) -> AsyncIterator[Probes]:
        thread = threading.Thread(target=work, name="processor", daemon=True)
        thread.start()
        try:
            yield Probes(
                registry=metrics.registry,
                readiness={"postgres": dsn_check(settings.postgres_dsn)},
                liveness=liveness,
            )
        finally:
            stop.set()
            thread.join(15)

    async def drain(_: Request) -> Response:
        return json_response(200, {"caught_up": processor.caught_up, "lag": processor.lag})

    assert PROCESSOR.drain_path is not None
    return service_app(PROCESSOR, [Route(PROCESSOR.drain_path, drain)], running)
