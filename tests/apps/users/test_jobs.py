"""The runner against erasers that fail: the job fails loudly naming the store (never the
player), what did succeed is recorded, and a job asked again completes with every store
in its receipt. The stores after PostgreSQL are test erasers registered beside it, as a
later service registers its own."""

import uuid
from collections.abc import Mapping
from dataclasses import replace

import psycopg
import pytest
from confluent_kafka import Consumer, TopicPartition

from apps.core.erasers import Erasers
from apps.core.settings.users import UsersSettings
from apps.kafka.progress import Progress
from apps.store import privacy_jobs
from apps.store.erasure import register_postgres
from apps.users.jobs import Runner
from apps.users.runtime import open_runtime
from tests.conftest import new_game
from tests.support.poll import poll_until
from tests.support.servers import Endpoints
from tests.support.users import users_settings


class Archive:
    """A store that can be made to fail."""

    def __init__(self) -> None:
        self.broken = True
        self.calls: list[tuple[uuid.UUID, str]] = []

    def __call__(self, game_id: uuid.UUID, player_id: str) -> Mapping[str, int]:
        self.calls.append((game_id, player_id))
        if self.broken:
            raise RuntimeError(f"bucket unreachable while erasing {player_id}")
        return {"objects.rewritten": 2}


def _caught_up_group(settings: UsersSettings) -> str:
    """A consumer group committed at the topic's exact end: jobs do not wait for it."""
    group = f"caught-up-{uuid.uuid4().hex[:8]}"
    ends = Progress(settings, "test-jobs").end_offsets()
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": group})
    consumer.commit(
        offsets=[TopicPartition(settings.events_topic, p, n) for p, n in ends.items()],
        asynchronous=False,
    )
    consumer.close()
    return group


@pytest.fixture
def setup(endpoints: Endpoints) -> tuple[UsersSettings, Archive]:
    base = users_settings(endpoints)
    return replace(base, processor_group=_caught_up_group(base)), Archive()


def _job(dsn: str, job_id: uuid.UUID) -> privacy_jobs.Job:
    with psycopg.connect(dsn) as conn:
        job = privacy_jobs.get_job(conn, job_id)
    assert job is not None
    return job


def test_a_failing_eraser_fails_the_job_by_name_and_a_new_job_completes_every_store(
    endpoints: Endpoints, setup: tuple[UsersSettings, Archive]
) -> None:
    settings, archive = setup
    dsn, game = endpoints.postgres_dsn, new_game(endpoints.postgres_dsn).game_id
    erasers = Erasers()
    register_postgres(erasers, dsn)
    erasers.register("archive", archive)
    with psycopg.connect(dsn) as conn:
        # Ended elsewhere: only this test's jobs are queued for this runner.
        conn.execute(
            "UPDATE privacy_jobs SET status = 'failed', error = 'left by another test',"
            " player_id = NULL WHERE status IN ('queued', 'running')"
        )
        first = privacy_jobs.create_job(
            conn, game, "erasure", "secret-player-7", suppress=False, requested_by="test",
            request_id=None,
        )  # fmt: skip
    with open_runtime(settings) as rt:
        runner = Runner(rt, erasers, threads=1)
        runner.start()
        try:
            poll_until(lambda: _job(dsn, first.job_id).status == "failed", timeout=60,
                       what="the job to fail")  # fmt: skip
            failed = _job(dsn, first.job_id)
            assert failed.error is not None
            assert "archive: RuntimeError: bucket unreachable" in failed.error
            assert "secret-player-7" not in failed.error
            assert "postgres" in failed.progress["erased"]  # what succeeded is recorded
            assert failed.player_id is None
            assert failed.receipt is None  # never a receipt for an erasure that missed a store

            archive.broken = False
            with psycopg.connect(dsn) as conn:
                again = privacy_jobs.create_job(
                    conn, game, "erasure", "secret-player-7", suppress=False,
                    requested_by="test", request_id=None,
                )  # fmt: skip
            poll_until(lambda: _job(dsn, again.job_id).status == "done", timeout=60,
                       what="the job asked again to complete")  # fmt: skip
        finally:
            runner.stop()
    done = _job(dsn, again.job_id)
    assert done.receipt is not None
    erased = done.receipt["receipt"]["erased"]
    assert set(erased) == {"postgres", "archive"}
    assert erased["archive"] == {"objects.rewritten": 2}
    assert archive.calls == [(game, "secret-player-7")] * 2
