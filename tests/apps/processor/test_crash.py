"""Crash tests: while events stream in, the processor is SIGKILLed, or PostgreSQL stops.

Each test has its own PostgreSQL and broker (tests/support/pipeline.py), so the
processor under test is the only one storing the game's events. At the end
every accepted event is in `events` exactly once and the rollups equal a
recomputation.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.pipeline import Pipeline, Senders, everything_stored_once, own_pipeline
from tests.support.poll import poll_until
from tests.support.processor import ProcessorProcess, processor_settings
from tests.support.servers import Endpoints, UvicornThread, ingest_settings, running_ingest


@dataclass
class Stack:
    pipeline: Pipeline
    ingest: UvicornThread
    processor: ProcessorProcess

    def stored(self) -> int:
        return self.pipeline.stored()

    def senders(self) -> Senders:
        return Senders(self.ingest.url, self.pipeline.game, threads=1).start()

    def everything_stored_once(self, accepted: list[str]) -> None:
        everything_stored_once(self.pipeline, accepted, self.processor)


@pytest.fixture
def stack(tmp_path: Path, endpoints: Endpoints) -> Iterator[Stack]:
    with own_pipeline(tmp_path, endpoints.redis_url) as pipeline:
        processor = ProcessorProcess(
            processor_settings(pipeline.pg.url, pipeline.broker.url, max_batch=500),
            tmp_path / "processor.log",
        )
        try:
            with running_ingest(ingest_settings(pipeline.endpoints)) as ingest:
                processor.start()
                yield Stack(pipeline, ingest, processor)
        finally:
            processor.stop()


@pytest.mark.slow
def test_processor_killed_repeatedly_loses_and_doubles_nothing(stack: Stack) -> None:
    senders = stack.senders()
    for _ in range(3):
        target = max(stack.stored(), 0) + 500
        poll_until(lambda: stack.stored() >= target, timeout=60, what="progress")  # noqa: B023
        stack.processor.kill()
        stack.processor.start()
    accepted = senders.finish()
    assert len(accepted) >= 1500
    stack.everything_stored_once(accepted)


@pytest.mark.slow
def test_postgres_stopped_and_restarted_mid_stream(stack: Stack) -> None:
    senders = stack.senders()
    poll_until(lambda: stack.stored() >= 500, timeout=60, what="progress")
    stack.pipeline.pg.stop(10)
    # Ingestion goes on (keys are cached; Kafka holds the events) while the processor waits.
    during = senders.count()
    poll_until(
        lambda: senders.count() >= during + 500, timeout=60, what="ingestion during the outage"
    )
    stack.pipeline.pg.start()
    poll_until(lambda: stack.stored() > 0, timeout=60, what="PostgreSQL back")
    accepted = senders.finish()
    stack.everything_stored_once(accepted)
