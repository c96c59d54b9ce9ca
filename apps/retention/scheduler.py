"""Passes on a schedule: one every `interval`, a failed one retried with doubling backoff.

What stopped the last pass (S3 down, the processor behind...) is kept for `/readyz`,
which says why until a pass completes again.
"""

import logging
import threading
import time
import uuid
from typing import Any

import psycopg
from botocore.exceptions import BotoCoreError, ClientError

from apps.core.settings.retention import RetentionSettings
from apps.kafka.progress import KafkaUnavailable
from apps.retention.metrics import RetentionMetrics
from apps.retention.passes import Pass, PassBusy, PassReport, ProcessorBehind
from apps.store import archived_days

log = logging.getLogger(__name__)


def fault(error: BaseException) -> str:
    """The metric label of what stopped a pass."""
    if isinstance(error, BotoCoreError | ClientError):
        return "s3"
    if isinstance(error, psycopg.Error):
        return "postgres"
    if isinstance(error, KafkaUnavailable):
        return "kafka"
    if isinstance(error, ProcessorBehind):
        return "processor_behind"
    if isinstance(error, PassBusy):
        return "busy"
    return "error"


class Scheduler:
    def __init__(self, settings: RetentionSettings, s3: Any, metrics: RetentionMetrics) -> None:
        self._settings = settings
        self._s3 = s3
        self._metrics = metrics
        self.failure: str | None = None
        """Why the last pass stopped; None once one completes."""
        self.last: PassReport | None = None

    def run_once(self, only: frozenset[uuid.UUID] | None = None) -> PassReport:
        """One pass now (over `only` these games if given); raises what stopped it (after
        counting it)."""
        try:
            report = Pass(self._settings, self._s3, only=only).run()
        except Exception as e:
            kind = fault(e)
            self._metrics.passes.labels(kind).inc()
            self.failure = f"{kind}: {type(e).__name__}: {e}"
            raise
        with psycopg.connect(self._settings.postgres_dsn, autocommit=True) as conn:
            problems = archived_days.problems(conn)
        self._metrics.passed(report, problems)
        self.failure = None
        self.last = report
        return report

    def run(self, stop: threading.Event) -> None:
        """Passes until `stop` is set."""
        interval = self._settings.interval.total_seconds()
        backoff = self._settings.retry_initial.total_seconds()
        while not stop.is_set():
            started = time.monotonic()
            try:
                report = self.run_once()
            except PassBusy:
                wait = interval
            except Exception as e:
                wait = backoff
                backoff = min(backoff * 2, interval)
                log.warning("retention pass stopped (%s); retrying in %.0f s", self.failure, wait)
                if fault(e) == "error":
                    log.exception("retention pass failed unexpectedly")
            else:
                backoff = self._settings.retry_initial.total_seconds()
                wait = max(0.0, interval - (time.monotonic() - started))
                log.info("retention pass done: %s", report.as_dict())
            stop.wait(wait)
