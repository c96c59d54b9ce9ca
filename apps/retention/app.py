"""The retention service: passes on a schedule on a worker thread, the shared edge over HTTP.

`/readyz` checks PostgreSQL and the archive bucket, and fails saying what stopped the
last pass (S3 down, the processor behind, ...) until one completes again.
"""

import asyncio
import contextlib
import logging
import os
import signal
import threading
from collections.abc import AsyncIterator

from starlette.applications import Starlette

from apps.core.services import RETENTION
from apps.core.settings.retention import RetentionSettings
from apps.edge.app import service_app
from apps.edge.probes import Probes, Unready, dsn_check
from apps.retention.metrics import RetentionMetrics
from apps.retention.scheduler import Scheduler
from apps.s3.client import client

log = logging.getLogger(__name__)


def create_app(settings: RetentionSettings) -> Starlette:
    metrics = RetentionMetrics()
    s3 = client(settings.s3)
    scheduler = Scheduler(settings, s3, metrics)
    stop = threading.Event()

    def work() -> None:
        try:
            scheduler.run(stop)
        except Exception:
            log.exception("the retention scheduler failed; stopping the service so it is restarted")
            os.kill(os.getpid(), signal.SIGTERM)

    async def bucket() -> None:
        await asyncio.to_thread(s3.head_bucket, Bucket=settings.archive_bucket)

    async def last_pass() -> None:
        if scheduler.failure is not None:
            raise Unready(f"last pass stopped: {scheduler.failure}")

    @contextlib.asynccontextmanager
    async def running(_: Starlette) -> AsyncIterator[Probes]:
        thread = threading.Thread(target=work, name="retention", daemon=True)
        thread.start()
        try:
            yield Probes(
                registry=metrics.registry,
                readiness={
                    "postgres": dsn_check(settings.postgres_dsn),
                    "s3": bucket,
                    "pass": last_pass,
                },
            )
        finally:
            stop.set()
            thread.join(15)

    return service_app(RETENTION, [], running)
