"""Two processors in one group while events stream in: one joins, one is killed, one leaves.

Each rebalance moves partitions between members mid-stream: a batch written
but not committed by the member that lost its partition is replayed by the
one that gained it. Nothing acknowledged may be lost or stored twice, and the
rollups must equal a recomputation.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.pipeline import (
    Pipeline,
    Senders,
    everything_stored_once,
    own_pipeline,
    rows_stored,
)
from tests.support.processor import ProcessorProcess, poll_until, processor_settings
from tests.support.servers import Endpoints, ingest_settings, running_ingest


@pytest.fixture
def pipeline(tmp_path: Path, endpoints: Endpoints) -> Iterator[Pipeline]:
    with own_pipeline(tmp_path, endpoints.redis_url) as running:
        yield running


@pytest.mark.slow
def test_processors_joining_killed_and_leaving_lose_and_double_nothing(
    pipeline: Pipeline,
) -> None:
    settings = processor_settings(pipeline.pg.url, pipeline.broker.url, max_batch=500)
    first = ProcessorProcess(settings, pipeline.logs / "first.log")
    second = ProcessorProcess(settings, pipeline.logs / "second.log")

    def progress(events: int) -> None:
        target = max(pipeline.stored(), 0) + events
        poll_until(lambda: pipeline.stored() >= target, timeout=60, what=f"{events} more stored")

    first.start()
    try:
        with running_ingest(ingest_settings(pipeline.endpoints)) as ingest:
            senders = Senders(ingest.url, pipeline.game, threads=2).start()
            progress(1000)
            second.start()  # joins: takes one of the two partitions under load
            poll_until(lambda: rows_stored(second) > 0, timeout=30, what="the second to store")
            progress(1000)
            first.kill()  # the second takes its partition once its session times out
            progress(1000)
            first.start()  # joins again
            poll_until(lambda: rows_stored(first) > 0, timeout=30, what="the first to store")
            second.stop()  # leaves cleanly: its partition goes back to the first
            progress(1000)
            accepted = senders.finish()
        everything_stored_once(pipeline, accepted, first)
    finally:
        second.stop()
        first.stop()
