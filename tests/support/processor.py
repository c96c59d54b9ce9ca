"""Processors for tests: in a thread of the test process, or as a killable child process."""

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

import httpx

from apps.core.settings.processor import ProcessorSettings
from apps.local.process import free_port
from apps.processor.consumer import Processor
from apps.processor.metrics import ProcessorMetrics


def processor_settings(
    postgres_dsn: str, kafka_bootstrap: str, **overrides: object
) -> ProcessorSettings:
    base = ProcessorSettings(
        postgres_dsn=postgres_dsn,
        kafka_bootstrap=kafka_bootstrap,
        batch_wait=timedelta(milliseconds=50),
    )
    return replace(base, **overrides)  # type: ignore[arg-type]


@dataclass
class ThreadedProcessor:
    processor: Processor
    metrics: ProcessorMetrics


@contextmanager
def processor_thread(
    settings: ProcessorSettings,
    make: Callable[[ProcessorSettings, ProcessorMetrics], Processor] = Processor,
) -> Iterator[ThreadedProcessor]:
    metrics = ProcessorMetrics()
    processor = make(settings, metrics)
    stop = threading.Event()
    failure: list[BaseException] = []

    def run() -> None:
        try:
            processor.run(stop)
        except BaseException as e:  # surfaced to the test at exit
            failure.append(e)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield ThreadedProcessor(processor, metrics)
    finally:
        stop.set()
        thread.join(30)
    if failure:
        raise failure[0]


class ProcessorProcess:
    """`gamemetrics serve processor` as a child process, to be killed and restarted."""

    def __init__(self, settings: ProcessorSettings, log_path: Path) -> None:
        self.port = free_port()
        self.env = {
            **os.environ,
            "GAMEMETRICS_POSTGRES_DSN": settings.postgres_dsn,
            "GAMEMETRICS_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
            "GAMEMETRICS_PROCESSOR_GROUP": settings.group_id,
            "GAMEMETRICS_PROCESSOR_HOST": "127.0.0.1",
            "GAMEMETRICS_PROCESSOR_PORT": str(self.port),
            "GAMEMETRICS_PROCESSOR_BATCH_WAIT_SECONDS": "0.05",
            "GAMEMETRICS_PROCESSOR_MAX_BATCH": str(settings.max_batch),
        }
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "apps.cli.main", "serve", "processor"],
                env=self.env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        poll_until(self._healthy, timeout=30, what="processor health")

    def _healthy(self) -> bool:
        try:
            return httpx.get(self.url + "/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(20)

    def drained(self) -> bool:
        try:
            state = httpx.get(self.url + "/drain", timeout=1).json()
        except (httpx.TransportError, ValueError):
            return False
        return bool(state["caught_up"]) and state["lag"] == 0


def poll_until(
    check: Callable[[], bool], *, timeout: float, what: str, every: float = 0.05
) -> None:
    """Poll `check` until it holds; fail the test with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


def settle(processor: ThreadedProcessor, timeout: float = 60) -> None:
    """Wait until the processor has read every partition to its end twice, a fetch apart."""
    seen: list[float] = []

    def steady() -> bool:
        p = processor.processor
        if p.caught_up and p.lag == 0:
            seen.append(time.monotonic())
            return seen[-1] - seen[0] > 0.6
        seen.clear()
        return False

    poll_until(steady, timeout=timeout, what="the processor to catch up")
