"""PostgreSQL crashes (SIGKILL, fsync on) while events stream in, and recovers.

Unlike the clean stop of test_crash.py, every PostgreSQL process is killed at
once, so the server restarts through crash recovery from its WAL. This
PostgreSQL runs with fsync on (the session's runs without, for speed): what a
committed transaction wrote must survive, and the processor, which commits
offsets only after its transaction committed, must replay the rest.
"""

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.support.pipeline import (
    Pipeline,
    Senders,
    everything_stored_once,
    kill_postgres,
    metric,
    own_pipeline,
)
from tests.support.poll import poll_until
from tests.support.processor import ProcessorProcess, processor_settings
from tests.support.servers import Endpoints, ingest_settings, running_ingest

DURABLE = {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"}


@pytest.fixture
def pipeline(tmp_path: Path, endpoints: Endpoints) -> Iterator[Pipeline]:
    with own_pipeline(tmp_path, endpoints.redis_url, pg_settings=DURABLE) as running:
        yield running


@pytest.mark.slow
def test_postgres_killed_mid_stream_recovers_with_nothing_lost_or_doubled(
    pipeline: Pipeline,
) -> None:
    with psycopg.connect(pipeline.pg.url) as conn:
        rows = conn.execute("SELECT name, setting FROM pg_settings").fetchall()
    settings: dict[str, str] = dict(rows)
    assert {k: settings[k] for k in DURABLE} == DURABLE

    processor = ProcessorProcess(
        processor_settings(pipeline.pg.url, pipeline.broker.url, max_batch=500),
        pipeline.logs / "processor.log",
    )
    processor.start()
    assert processor.proc is not None
    pid = processor.proc.pid
    try:
        with running_ingest(ingest_settings(pipeline.endpoints)) as ingest:
            senders = Senders(ingest.url, pipeline.game, threads=2).start()
            poll_until(lambda: pipeline.stored() >= 1000, timeout=60, what="progress")
            kill_postgres(pipeline.pg)
            # Ingestion goes on (keys cached, Kafka holds the events) while PostgreSQL is down.
            during = senders.count()
            poll_until(
                lambda: senders.count() >= during + 500, timeout=60, what="ingestion meanwhile"
            )
            pipeline.pg.start()
            log = (pipeline.logs / "pg.log").read_text(errors="replace")
            assert "automatic recovery in progress" in log, "PostgreSQL did not crash-recover"
            poll_until(lambda: pipeline.stored() > 0, timeout=60, what="PostgreSQL back")
            accepted = senders.finish()
        everything_stored_once(pipeline, accepted, processor)
        # The same processor waited the crash out and wrote again: it was never restarted.
        assert processor.proc.pid == pid
        assert processor.proc.poll() is None
        assert metric(processor, "gm_processor_database_errors_total") > 0
    finally:
        processor.stop()
