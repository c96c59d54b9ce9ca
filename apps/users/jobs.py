"""The privacy job runner: threads of the users service that take queued export and erasure
jobs from PostgreSQL and run them to a receipt or an export, surviving their own death.

Each job runs under a lease (apps/store/privacy_jobs.py) that a heartbeat renews. A job
first waits until the processor has stored every event in flight when it started
(apps/kafka/progress.py), then:
- an erasure runs every registered eraser (apps/core/erasers.py) not yet recorded as
  done, PostgreSQL's in one transaction with the record of its counts, then signs the
  receipt and finishes, in one transaction with its audit entry;
- an export reads the player's events through a server-side cursor under the game's
  lock (SHARED, as processor batches take it: an erasure waits for it, and it for an
  erasure), merged by time with their events in the archive's `archived` days (read
  under the same lock, apps/archive/players.py), and writes them, gzip-compressed, as
  parts in the same transaction.
A runner killed at any point leaves the job's lease to lapse; the job is taken over and
resumes from what was recorded. Outages (PostgreSQL, Kafka) put the job back with a
backoff; anything else fails it with a reason that never names the player.
"""

import contextlib
import heapq
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import psycopg
import psycopg_pool
from botocore.exceptions import BotoCoreError, ClientError
from psycopg.rows import TupleRow, dict_row

from apps.archive import days, players
from apps.core.erasers import Erasers, ErasureFailed
from apps.kafka.progress import KafkaUnavailable, Progress, behind
from apps.s3.client import client
from apps.store import archived_days, audit, game_lock, privacy_jobs, profiles
from apps.store.audit import Actor
from apps.store.erasure import POSTGRES, ErasureCounts, erase_player
from apps.store.privacy_jobs import Job, LeaseLost
from apps.users import export
from apps.users.receipt import erasure_receipt
from apps.users.runtime import Runtime
from apps.users.signing import Signer, signer

log = logging.getLogger(__name__)

ACTOR: Final = Actor("privacy-runner")
IDLE_POLL: Final = 0.5
"""Seconds between looks for a queued job when there was none."""
WAIT_POLL: Final = 0.2
MAX_ATTEMPTS: Final = 20
"""Attempts (takeovers and outages) before a job fails for good."""
EXPIRE_EVERY: Final = 60.0


class JobFailed(Exception):
    """The job cannot complete; the message is its `error` (never the player id)."""


class Stopping(Exception):
    """The service is shutting down: the job is handed back for another runner."""


class _Lease:
    """Renews a job's lease every third of its length until the job ends."""

    def __init__(self, rt: Runtime, job: Job, stop: threading.Event) -> None:
        self._rt, self.job, self._stop = rt, job, stop
        self._done = threading.Event()
        self.lost = False
        self._thread = threading.Thread(target=self._run, name="privacy-lease", daemon=True)

    def __enter__(self) -> "_Lease":
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._done.set()
        self._thread.join()

    def check(self) -> None:
        if self.lost:
            raise LeaseLost(str(self.job.job_id))
        if self._stop.is_set():
            raise Stopping

    def _run(self) -> None:
        lease = self._rt.settings.privacy_lease
        while not self._done.wait(lease.total_seconds() / 3):
            try:
                with self._rt.pool.connection(timeout=lease.total_seconds() / 3) as conn:
                    privacy_jobs.renew(conn, self.job, lease)
            except LeaseLost:
                self.lost = True
                return
            except (psycopg.OperationalError, psycopg_pool.PoolTimeout):
                continue  # the job's own writes will fail too; the lease may lapse


class Runner:
    """`threads` runner threads sharing the service's pool; `stop()` hands jobs back."""

    def __init__(self, rt: Runtime, erasers: Erasers, threads: int) -> None:
        self._rt, self._erasers = rt, erasers
        self._progress = Progress(rt.settings, "gamemetrics-users-privacy")
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._loop, name=f"privacy-runner-{i}", daemon=True)
            for i in range(threads)
        ]
        self._expired_at = 0.0
        self._s3: Any = None

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def stop(self, timeout: float = 10) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                with self._rt.pool.connection() as conn:
                    self._expire(conn)
                    job = privacy_jobs.claim(conn, self._rt.settings.privacy_lease)
            except (psycopg.OperationalError, psycopg_pool.PoolTimeout) as e:
                log.warning("privacy jobs: database unavailable (%s)", type(e).__name__)
                self._stop.wait(1.0)
                continue
            if job is None:
                self._stop.wait(IDLE_POLL)
                continue
            self._run(job)

    def _expire(self, conn: psycopg.Connection[TupleRow]) -> None:
        now = time.monotonic()
        if now - self._expired_at < EXPIRE_EVERY:
            return
        self._expired_at = now
        before = datetime.now(UTC) - self._rt.settings.privacy_export_retention
        if gone := privacy_jobs.expire_exports(conn, before):
            log.info("privacy jobs: deleted %d parts of expired exports", gone)

    def _run(self, job: Job) -> None:
        started = time.perf_counter()
        outcome = "done"
        with _Lease(self._rt, job, self._stop) as lease:
            try:
                if job.attempts > MAX_ATTEMPTS:
                    raise JobFailed(f"gave up after {MAX_ATTEMPTS} attempts")
                if job.player_id is None:
                    raise JobFailed("the job lost its player id (finished elsewhere?)")
                if job.kind == "export":
                    self._export(job, job.player_id, lease)
                else:
                    self._erase(job, job.player_id, lease)
            except LeaseLost:
                outcome = "taken_over"
                log.warning("privacy job %s: lease lost to another runner", job.job_id)
            except Stopping:
                outcome = "handed_back"
                self._hand_back(job, timedelta(0))
            except (
                psycopg.OperationalError, psycopg_pool.PoolTimeout, KafkaUnavailable, BotoCoreError,
            ) as e:  # fmt: skip
                outcome = "retry"
                after = timedelta(seconds=min(60, 2 ** min(job.attempts, 6)))
                why = type(e).__name__
                log.warning("privacy job %s: %s; retrying in %s", job.job_id, why, after)
                self._hand_back(job, after)
            except JobFailed as e:
                outcome = "failed"
                self._fail(job, str(e))
            except Exception as e:
                outcome = "failed"
                log.exception("privacy job %s failed", job.job_id)
                self._fail(job, f"internal error ({type(e).__name__})")
        self._rt.metrics.privacy_jobs.labels(job.kind, outcome).inc()
        self._rt.metrics.privacy_seconds.labels(job.kind).observe(time.perf_counter() - started)

    # ---- waiting for what is in flight -------------------------------------------------

    def _stored_through(self, job: Job, lease: _Lease) -> dict[str, int]:
        """The end offsets when the job first ran, once the processor has passed them."""
        recorded = job.progress.get("offsets")
        if recorded is None:
            ends = self._progress.end_offsets()
            recorded = {str(p): n for p, n in ends.items()}
            with self._rt.pool.connection() as conn:
                privacy_jobs.record_progress(conn, job, {"offsets": recorded})
        needed = {int(p): int(n) for p, n in recorded.items()}
        wait = self._rt.settings.privacy_kafka_wait
        deadline = time.monotonic() + wait.total_seconds()
        while True:
            lease.check()
            short = behind(needed, self._progress.committed(needed))
            if not short:
                return dict(recorded)
            if time.monotonic() > deadline:
                detail = ", ".join(
                    f"partition {p}: {n} record(s)" for p, n in sorted(short.items())
                )
                raise JobFailed(
                    f"the processor did not store the events in flight when the job started"
                    f" within {wait.total_seconds():g} s ({detail} behind); is it running?"
                    " Ask again once it has caught up"
                )
            self._stop.wait(WAIT_POLL)

    # ---- erasure -------------------------------------------------------------------------

    def _erase(self, job: Job, player_id: str, lease: _Lease) -> None:
        offsets = self._stored_through(job, lease)
        erased: dict[str, dict[str, int]] = dict(job.progress.get("erased", {}))
        failed: dict[str, BaseException] = {}
        for name in self._erasers.names:
            lease.check()
            if name in erased:
                continue  # done before this runner took the job over
            try:
                erased[name] = self._erase_in(name, job, player_id, erased)
            except (LeaseLost, psycopg.OperationalError, psycopg_pool.PoolTimeout, BotoCoreError):
                raise
            except Exception as e:
                failed[name] = e
        if failed:
            message = str(ErasureFailed(failed, erased)).replace(player_id, "<player>")
            raise JobFailed(message)
        signing = self._signer()
        completed = datetime.now(UTC)
        receipt = signing.sign(
            erasure_receipt(
                job, completed_at=completed, stored_through=offsets, erased=erased,
                events_topic=self._rt.settings.events_topic,
            )
        )  # fmt: skip
        with self._rt.pool.connection() as conn, conn.transaction():
            privacy_jobs.finish(conn, job, completed, receipt=receipt)
            _audit(conn, job, "privacy.erased", {"erased": erased})

    def _erase_in(
        self, name: str, job: Job, player_id: str, erased: dict[str, dict[str, int]]
    ) -> dict[str, int]:
        if name != POSTGRES:
            counts = {k: int(v) for k, v in self._erasers[name](job.game_id, player_id).items()}
            with self._rt.pool.connection() as conn:
                privacy_jobs.record_progress(conn, job, {"erased": {**erased, name: counts}})
            return counts

        # The job's own database: the erasure and the record of its counts commit together.
        def record(conn: psycopg.Connection[TupleRow], counts: ErasureCounts) -> None:
            privacy_jobs.record_progress(conn, job, {"erased": {**erased, name: counts.flat()}})

        with self._rt.pool.connection() as conn:
            return erase_player(conn, job.game_id, player_id, then=record).flat()

    def _signer(self) -> Signer:
        with self._rt.pool.connection() as conn:
            return signer(conn, self._rt.settings.privacy_signing_key)

    # ---- export --------------------------------------------------------------------------

    def _export(self, job: Job, player_id: str, lease: _Lease) -> None:
        self._stored_through(job, lease)
        with self._rt.pool.connection() as conn, conn.transaction():
            conn.execute(
                game_lock.SHARED, (game_lock.NAMESPACE, game_lock.batch_keys([job.game_id]))
            )
            privacy_jobs.drop_parts(conn, job.job_id)  # what an earlier attempt left
            writer = export.PartWriter(
                lambda seq, data: privacy_jobs.add_part(conn, job.job_id, seq, data)
            )
            writer.line(export.profile_line(_profile(conn, job.game_id, player_id), player_id))
            events = 0
            archived = self._archived(conn, job.game_id, player_id)
            stored = _events(conn, job.game_id, player_id)
            for row in heapq.merge(archived, stored, key=_in_time):
                writer.line(export.event_line(row))
                events += 1
                if events % 10_000 == 0:
                    lease.check()
            writer.close()
            privacy_jobs.finish(
                conn, job, datetime.now(UTC), export_bytes=writer.bytes, export_events=events
            )
            _audit(conn, job, "privacy.exported", {"events": events, "bytes": writer.bytes})

    def _archived(
        self, conn: psycopg.Connection[TupleRow], game_id: uuid.UUID, player_id: str
    ) -> list[dict[str, Any]]:
        """The player's events in the game's archive (S3 is asked only for a game that has
        archived days)."""
        if not any(not d.in_postgres for d in archived_days.of_game(conn, game_id)):
            return []
        if self._s3 is None:
            self._s3 = client(self._rt.settings.s3)
        bucket = self._rt.settings.archive_bucket
        try:
            return players.archived_events(conn, self._s3, bucket, game_id, player_id)
        except days.DayMismatch as e:
            raise JobFailed(f"the archive cannot be exported: {e}") from None
        except ClientError as e:
            code = e.response.get("Error", {}).get("Code", "?")
            raise JobFailed(f"the archive on S3 refused a read ({code})") from None

    # ---- ending --------------------------------------------------------------------------

    def _hand_back(self, job: Job, after: timedelta) -> None:
        with (
            contextlib.suppress(psycopg.OperationalError, psycopg_pool.PoolTimeout),
            self._rt.pool.connection(timeout=2) as conn,
        ):
            privacy_jobs.release(conn, job, after)

    def _fail(self, job: Job, error: str) -> None:
        try:
            with self._rt.pool.connection() as conn, conn.transaction():
                privacy_jobs.fail(conn, job, error)
                _audit(conn, job, "privacy.failed", {"error": error})
        except (psycopg.OperationalError, psycopg_pool.PoolTimeout):
            self._hand_back(job, timedelta(seconds=5))


def _audit(
    conn: psycopg.Connection[TupleRow], job: Job, action: str, details: dict[str, Any]
) -> None:
    audit.record(
        conn, Actor(ACTOR.name, job.request_id), action, target(job), job.game_id,
        {"job_id": str(job.job_id), **details},
    )  # fmt: skip


def target(job: Job) -> str:
    """How the audit log names a job's player: by digest, never by id."""
    return f"player:sha256:{job.player_digest.hex()}"


def _profile(
    conn: psycopg.Connection[TupleRow], game_id: uuid.UUID, player_id: str
) -> profiles.PlayerProfile | None:
    try:
        return profiles.player_profile(conn, game_id, player_id)
    except profiles.UnknownCurrency:
        return None


def _in_time(row: dict[str, Any]) -> tuple[datetime, str]:
    return row["event_time"], str(row["event_id"])


def _events(
    conn: psycopg.Connection[TupleRow], game_id: uuid.UUID, player_id: str
) -> Iterator[dict[str, Any]]:
    columns = ", ".join(f"{c}::text" if c == "properties" else c for c in export.EVENT_COLUMNS)
    with conn.cursor(name=f"export_{uuid.uuid4().hex}", row_factory=dict_row) as cur:
        cur.itersize = 2000
        cur.execute(
            f"SELECT {columns} FROM events WHERE game_id = %s AND player_id = %s"  # noqa: S608
            " ORDER BY event_time, event_id",
            (game_id, player_id),
        )
        yield from cur
