"""Processors for tests: in a thread of the test process, or as a killable child process."""

import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

import httpx

from apps.core.settings.processor import ProcessorSettings
from apps.processor.consumer import Processor
from apps.processor.metrics import ProcessorMetrics
from tests.support.poll import poll_until
from tests.support.servers import Endpoints
from tests.support.service_process import ServiceProcess
from tests.support.topic import consumed_past, mark_partitions, start_group_at_end


def processor_settings(
    postgres_dsn: str, kafka_bootstrap: str, **overrides: object
) -> ProcessorSettings:
    """Settings of a test processor with a consumer group of its own.

    A group shared with the processor of another test module would make this
    one wait for a rebalance behind a member that left (Tansu kept a group
    stuck over 40 s after a member stopped mid-join). The new group starts at
    the end of the topic: what earlier modules sent is theirs.
    """
    base = ProcessorSettings(
        postgres_dsn=postgres_dsn,
        kafka_bootstrap=kafka_bootstrap,
        batch_wait=timedelta(milliseconds=50),
    )
    settings = replace(base, **overrides)  # type: ignore[arg-type]
    if "group_id" not in overrides:
        group = f"test-processor-{uuid.uuid4().hex[:12]}"
        start_group_at_end(kafka_bootstrap, settings.events_topic, group)
        settings = replace(settings, group_id=group)
    return settings


STOP_TIMEOUT_S = 30
"""A stopped processor finishes the batches in flight and leaves its group within this."""


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

    thread = threading.Thread(target=run, name=f"processor {settings.group_id}", daemon=True)
    thread.start()
    try:
        yield ThreadedProcessor(processor, metrics)
    finally:
        stop.set()
        thread.join(STOP_TIMEOUT_S)
    # A processor still running would keep consuming into the next test's data.
    assert not thread.is_alive(), f"the processor did not stop within {STOP_TIMEOUT_S} s"
    if failure:
        raise failure[0]


def settle(running: ThreadedProcessor, timeout: float = 60) -> None:
    """Wait until everything on the processor's topic so far is stored and committed.

    A marker record goes to the end of every partition. A partition is read in
    order and its offsets are committed only after the transaction that
    stored what came before: the group's committed offset passing the marker
    proves the rest, however slow the machine.
    """
    s = running.processor.settings
    marks = mark_partitions(s.kafka_bootstrap, s.events_topic)
    poll_until(
        lambda: consumed_past(s.kafka_bootstrap, s.events_topic, s.group_id, marks),
        timeout=timeout, what="the processor to store and commit what was sent", every=0.1,
    )  # fmt: skip


class ProcessorProcess(ServiceProcess):
    """`gamemetrics serve processor` as a child process, to be killed and restarted."""

    def __init__(self, settings: ProcessorSettings, log_path: Path) -> None:
        env = {
            "GAMEMETRICS_POSTGRES_DSN": settings.postgres_dsn,
            "GAMEMETRICS_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
            "GAMEMETRICS_PROCESSOR_GROUP": settings.group_id,
            "GAMEMETRICS_PROCESSOR_BATCH_WAIT_SECONDS": "0.05",
            "GAMEMETRICS_PROCESSOR_MAX_BATCH": str(settings.max_batch),
        }
        super().__init__("processor", env, log_path)

    def drained(self) -> bool:
        try:
            state = httpx.get(self.url + "/drain", timeout=1).json()
        except (httpx.TransportError, ValueError):
            return False
        return bool(state["caught_up"]) and state["lag"] == 0


def module_processor(endpoints: Endpoints) -> Iterator[ThreadedProcessor]:
    """A module's processor thread, in a consumer group of its own; use as
    `processor = pytest.fixture(scope="module", name="processor")(module_processor)`."""
    settings = processor_settings(endpoints.postgres_dsn, endpoints.kafka_bootstrap)
    with processor_thread(settings) as running:
        yield running
