"""Two processors in one group while events stream in: a second joins, the first leaves.

Each rebalance moves a partition between members mid-stream: a batch written
but not committed by the member that lost it is replayed by the one that
gained it. The first leaves by SIGKILL (its partition moves once its session
times out) or by a clean stop (it hands the partition over). Either way the
second ends up committing on every partition, and nothing acknowledged may be
lost or stored twice, with the rollups equal to a recomputation.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.pipeline import (
    Pipeline,
    Senders,
    committed_offsets,
    everything_stored_once,
    own_pipeline,
    rows_stored,
)
from tests.support.poll import poll_until
from tests.support.processor import ProcessorProcess, processor_settings
from tests.support.servers import Endpoints, ingest_settings, running_ingest


@pytest.fixture
def pipeline(tmp_path: Path, endpoints: Endpoints) -> Iterator[Pipeline]:
    with own_pipeline(tmp_path, endpoints.redis_url) as running:
        yield running


@pytest.mark.slow
@pytest.mark.parametrize("leaves", ["killed", "stopped"])
def test_a_second_processor_joins_and_the_first_leaves_under_load(
    pipeline: Pipeline, leaves: str
) -> None:
    settings = processor_settings(pipeline.pg.url, pipeline.broker.url, max_batch=500)
    first = ProcessorProcess(settings, pipeline.logs / "first.log")
    second = ProcessorProcess(settings, pipeline.logs / "second.log")
    bootstrap, group = pipeline.broker.url, settings.group_id
    first.start()
    try:
        with running_ingest(ingest_settings(pipeline.endpoints)) as ingest:
            senders = Senders(ingest.url, pipeline.game, threads=2).start()
            poll_until(lambda: pipeline.stored() >= 1000, timeout=60, what="progress")
            second.start()  # joins: takes one of the two partitions under load
            poll_until(lambda: rows_stored(second) > 0, timeout=30, what="the second to store")
            if leaves == "killed":
                first.kill()
            else:
                first.stop()  # finishes and commits its batches, then leaves the group
            before = committed_offsets(bootstrap, group)  # the first commits no more

            def all_advanced() -> bool:
                now = committed_offsets(bootstrap, group)
                return all(now[p] > offset for p, offset in before.items())

            # Only the second is left: commits moving on every partition are its own.
            poll_until(all_advanced, timeout=30, what="the second to take every partition")
            accepted = senders.finish()
        everything_stored_once(pipeline, accepted, second)
    finally:
        second.stop()
        first.stop()
