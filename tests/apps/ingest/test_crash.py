"""The ingestion API SIGKILLed mid-load: what it acknowledged is stored, once.

`gamemetrics serve ingest` runs as a child process on its own PostgreSQL and
broker; concurrent clients post batches with unique event ids and resend what
got no 202 (a reset connection, a refused request) with the same ids. The
real processor stores what reached the topic; a batch produced but never
acknowledged, then resent, reaches the topic twice and must be stored once.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.pipeline import (
    IngestProcess,
    Pipeline,
    Senders,
    everything_stored_once,
    own_pipeline,
)
from tests.support.poll import poll_until
from tests.support.processor import ProcessorProcess, processor_settings
from tests.support.servers import Endpoints


@pytest.fixture
def pipeline(tmp_path: Path, endpoints: Endpoints) -> Iterator[Pipeline]:
    with own_pipeline(tmp_path, endpoints.redis_url) as running:
        yield running


@pytest.mark.slow
def test_ingest_killed_mid_load_loses_and_doubles_nothing(pipeline: Pipeline) -> None:
    ingest = IngestProcess(pipeline.endpoints, pipeline.logs / "ingest.log")
    settings = processor_settings(pipeline.pg.url, pipeline.broker.url, max_batch=500)
    processor = ProcessorProcess(settings, pipeline.logs / "processor.log")
    ingest.start()
    try:
        processor.start()
        senders = Senders(ingest.url, pipeline.game, threads=4).start()
        for _ in range(2):
            target = senders.count() + 1000
            poll_until(lambda: senders.count() >= target, timeout=30, what="load")  # noqa: B023
            refused = senders.refused
            ingest.kill()  # requests in flight get no answer: their batches are resent
            poll_until(lambda: senders.refused > refused, timeout=10, what="a failure")  # noqa: B023
            ingest.start()
        after = senders.count() + 500
        poll_until(lambda: senders.count() >= after, timeout=30, what="load after the restarts")
        accepted = senders.finish()
        everything_stored_once(pipeline, accepted, processor)
    finally:
        ingest.stop()
        processor.stop()
