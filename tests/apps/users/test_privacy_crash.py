"""The users service SIGKILLed in the middle of erasure jobs, then restarted: each job is
taken over once its lease lapses and completes, and nothing is ever half-erased.

Twice: while a job waits for the processor (its progress recorded, nothing erased yet),
and while PostgreSQL's erasure transaction is open (the game's lock held exclusively).
The pipeline is the test's own (PostgreSQL, broker), so its runner is the only one.
"""

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from apps.store import game_lock
from tests.support.factory import batch, event
from tests.support.pipeline import Pipeline, own_pipeline
from tests.support.players import rows_of_player
from tests.support.poll import poll_until
from tests.support.privacy import ask, finished
from tests.support.processor import processor_settings, processor_thread, settle
from tests.support.recompute import rollup_differences
from tests.support.servers import Endpoints, ingest_settings, running_ingest
from tests.support.service_process import ServiceProcess
from tests.support.users import Person, person

BIG = 20_000


@pytest.fixture
def pipeline(tmp_path: Path, endpoints: Endpoints) -> Iterator[Pipeline]:
    with own_pipeline(tmp_path, endpoints.redis_url) as running:
        yield running


def _users(pl: Pipeline, group: str) -> ServiceProcess:
    env = {
        "GAMEMETRICS_POSTGRES_DSN": pl.pg.url,
        "GAMEMETRICS_KAFKA_BOOTSTRAP": pl.broker.url,
        "GAMEMETRICS_USERS_PROCESSOR_GROUP": group,
        "GAMEMETRICS_USERS_PRIVACY_LEASE_SECONDS": "2",
        "GAMEMETRICS_USERS_PRIVACY_KAFKA_WAIT_SECONDS": "600",
    }
    users = ServiceProcess("users", env, pl.logs / "users.log")
    users.start()
    return users


def _count(dsn: str, game_id: uuid.UUID, player: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT count(*) FROM events WHERE game_id = %s AND player_id = %s", (game_id, player)
        ).fetchone()
    assert row is not None
    return int(row[0])


def _job_row(dsn: str, job_id: str) -> tuple[str, dict[str, Any], int]:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT status, progress, attempts FROM privacy_jobs WHERE job_id = %s", (job_id,)
        ).fetchone()
    assert row is not None
    return row[0], row[1], row[2]


def _erasing(dsn: str) -> bool:
    """An erasure transaction is open: it holds a game's lock exclusively."""
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = %s"
            " AND mode = 'ExclusiveLock' AND granted",
            (game_lock.NAMESPACE,),
        ).fetchone()
    return bool(row and row[0])


def _erased_completely(dsn: str, game_id: uuid.UUID, player: str, owner: Person,
                       users: ServiceProcess, job_id: str, events: int) -> None:  # fmt: skip
    done = finished(users.url, owner, job_id, timeout=120)
    assert done["status"] == "done", done
    assert done["attempts"] == 2  # the killed runner's, then the one that finished it
    assert done["receipt"]["receipt"]["erased"]["postgres"]["events.removed"] == events
    assert rows_of_player(dsn, game_id, player) == {}
    assert rollup_differences(dsn, game_id) == {}


@pytest.mark.slow
def test_erasure_jobs_killed_midway_resume_and_complete_with_nothing_half_erased(
    pipeline: Pipeline,
) -> None:
    pl, dsn, gid = pipeline, pipeline.pg.url, pipeline.game.game_id
    settings = processor_settings(dsn, pl.broker.url)
    with processor_thread(settings) as processor:
        with running_ingest(ingest_settings(pl.endpoints)) as ingest:
            sent = [event(player_id="waiting", platform="ios") for _ in range(50)]
            sent += [event(player_id=f"other-{i % 40}", platform="android") for i in range(400)]
            sent += [event("purchase", player_id="big", country="FR") for _ in range(BIG)]
            with httpx.Client(base_url=ingest.url, timeout=30) as client:
                for start in range(0, len(sent), 500):
                    r = client.post(
                        "/v1/events", json=batch(*sent[start : start + 500]),
                        headers=pl.game.auth,
                    )  # fmt: skip
                    assert r.status_code == 202, r.text
        settle(processor)
        assert _count(dsn, gid, "big") == BIG

        # 1. Killed while waiting for a processor that never commits (a group of none).
        users = _users(pl, group=f"stalled-{uuid.uuid4().hex[:8]}")
        try:
            owner = person(users.url, dsn, {gid: "owner"})
            waiting = ask(users.url, owner, gid, "waiting", "erasure")
            poll_until(
                lambda: "offsets" in _job_row(dsn, waiting)[1], timeout=30,
                what="the job to record the offsets it waits for",
            )  # fmt: skip
        finally:
            users.kill()
        assert _job_row(dsn, waiting)[0] == "running"
        assert _count(dsn, gid, "waiting") == 50  # nothing erased before the wait ended

        users = _users(pl, group=settings.group_id)
        try:
            _erased_completely(dsn, gid, "waiting", owner, users, waiting, 50)

            # 2. Killed inside PostgreSQL's erasure transaction.
            big = ask(users.url, owner, gid, "big", "erasure")
            poll_until(lambda: _erasing(dsn), timeout=60, what="the erasure's transaction",
                       every=0.005)  # fmt: skip
            users.kill()
            poll_until(lambda: not _erasing(dsn), timeout=30, what="the transaction to end")
            assert _count(dsn, gid, "big") in (0, BIG)  # all or nothing
            assert rollup_differences(dsn, gid) == {}

            users.start()
            _erased_completely(dsn, gid, "big", owner, users, big, BIG)
            assert _count(dsn, gid, "waiting") == 0
            assert {f"other-{i}" for i in range(40)} == _players(dsn, gid)
        finally:
            users.stop()


def _players(dsn: str, game_id: uuid.UUID) -> set[str]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT player_id FROM players WHERE game_id = %s", (game_id,))
        return {r[0] for r in rows.fetchall()}
