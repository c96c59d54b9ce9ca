"""Privacy jobs (export, erasure of one player) in PostgreSQL: asked for, leased, resumed.

A job is queued by the request that asks for it (with its audit entry, in one
transaction) and run by a runner of the users service that holds a lease on it
(`lease_until`), renewed while it runs. A runner killed mid-job (SIGKILL, a lost pod)
stops renewing; once the lease lapses, any runner claims the job again and resumes it
from its `progress` (what it recorded as done). Every write of a runner names the
attempt it holds, so a runner that lost its lease cannot overwrite its successor.

A finished job (done or failed) keeps the player's digest and no longer their id.
"""

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import psycopg
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from apps.core.privacy import JobKind, JobStatus, player_digest

MAX_ERROR_CHARS: Final = 2000


@dataclass(frozen=True, slots=True)
class Job:
    job_id: uuid.UUID
    game_id: uuid.UUID
    kind: JobKind
    player_id: str | None
    player_digest: bytes
    suppress: bool
    status: JobStatus
    requested_by: str
    request_id: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    attempts: int
    progress: dict[str, Any]
    receipt: dict[str, Any] | None
    error: str | None
    export_bytes: int | None
    export_events: int | None


_COLUMNS: Final = (
    "job_id, game_id, kind, player_id, player_digest, suppress, status, requested_by,"
    " request_id, created_at, started_at, finished_at, attempts, progress, receipt, error,"
    " export_bytes, export_events"
)


class LeaseLost(Exception):
    """The job is no longer this runner's (its lease lapsed and another took it over)."""


def create_job(
    conn: psycopg.Connection[Any],
    game_id: uuid.UUID,
    kind: JobKind,
    player_id: str,
    *,
    suppress: bool,
    requested_by: str,
    request_id: str | None,
) -> Job:
    cur = conn.cursor(row_factory=class_row(Job))
    cur.execute(
        "INSERT INTO privacy_jobs (job_id, game_id, kind, player_id, player_digest, suppress,"  # noqa: S608
        " requested_by, request_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
        f" RETURNING {_COLUMNS}",
        (uuid.uuid4(), game_id, kind, player_id, player_digest(game_id, player_id), suppress,
         requested_by, request_id),
    )  # fmt: skip
    job = cur.fetchone()
    assert job is not None
    return job


def get_job(conn: psycopg.Connection[Any], job_id: uuid.UUID) -> Job | None:
    cur = conn.cursor(row_factory=class_row(Job))
    return cur.execute(
        f"SELECT {_COLUMNS} FROM privacy_jobs WHERE job_id = %s",  # noqa: S608 - constant
        (job_id,),
    ).fetchone()


def claim(conn: psycopg.Connection[Any], lease: timedelta) -> Job | None:
    """Take the oldest job that is queued, or running with a lapsed lease, for `lease`."""
    cur = conn.cursor(row_factory=class_row(Job))
    return cur.execute(
        "UPDATE privacy_jobs SET status = 'running', attempts = attempts + 1,"  # noqa: S608
        " started_at = coalesce(started_at, clock_timestamp()),"
        " lease_until = clock_timestamp() + %s"
        " WHERE job_id = (SELECT job_id FROM privacy_jobs"
        "   WHERE status = 'queued' OR (status = 'running' AND lease_until < clock_timestamp())"
        "   ORDER BY created_at FOR UPDATE SKIP LOCKED LIMIT 1)"
        f" RETURNING {_COLUMNS}",
        (lease,),
    ).fetchone()


def renew(conn: psycopg.Connection[Any], job: Job, lease: timedelta) -> None:
    """Extend the lease of the attempt `job` holds; LeaseLost if it holds it no longer."""
    _held(conn.execute(
        "UPDATE privacy_jobs SET lease_until = clock_timestamp() + %s"
        " WHERE job_id = %s AND attempts = %s AND status = 'running'",
        (lease, job.job_id, job.attempts),
    ))  # fmt: skip


def record_progress(conn: psycopg.Connection[Any], job: Job, progress: Mapping[str, Any]) -> None:
    """Merge `progress` into the job's (call inside the transaction of what it records)."""
    _held(conn.execute(
        "UPDATE privacy_jobs SET progress = progress || %s"
        " WHERE job_id = %s AND attempts = %s AND status = 'running'",
        (Jsonb(dict(progress)), job.job_id, job.attempts),
    ))  # fmt: skip


def finish(
    conn: psycopg.Connection[Any],
    job: Job,
    at: datetime,
    *,
    receipt: Mapping[str, Any] | None = None,
    export_bytes: int | None = None,
    export_events: int | None = None,
) -> None:
    """Mark the attempt's job done at `at` (its player id forgotten)."""
    _held(conn.execute(
        "UPDATE privacy_jobs SET status = 'done', finished_at = %s,"
        " lease_until = NULL, player_id = NULL, receipt = %s, export_bytes = %s,"
        " export_events = %s WHERE job_id = %s AND attempts = %s AND status = 'running'",
        (at, Jsonb(dict(receipt)) if receipt is not None else None, export_bytes,
         export_events, job.job_id, job.attempts),
    ))  # fmt: skip


def release(conn: psycopg.Connection[Any], job: Job, after: timedelta) -> None:
    """Give the job up for now: any runner may take it over once `after` has passed."""
    conn.execute(
        "UPDATE privacy_jobs SET lease_until = clock_timestamp() + %s"
        " WHERE job_id = %s AND attempts = %s AND status = 'running'",
        (after, job.job_id, job.attempts),
    )


def fail(conn: psycopg.Connection[Any], job: Job, error: str) -> None:
    """Mark the attempt's job failed with `error` (no secret, no player id in it)."""
    conn.execute(
        "UPDATE privacy_jobs SET status = 'failed', finished_at = clock_timestamp(),"
        " lease_until = NULL, player_id = NULL, error = %s"
        " WHERE job_id = %s AND attempts = %s AND status = 'running'",
        (error[:MAX_ERROR_CHARS], job.job_id, job.attempts),
    )


def _held(cur: psycopg.Cursor[Any]) -> None:
    if cur.rowcount != 1:
        raise LeaseLost("the job's lease was taken over")


# ---- export parts ------------------------------------------------------------------------


def drop_parts(conn: psycopg.Connection[Any], job_id: uuid.UUID) -> None:
    conn.execute("DELETE FROM privacy_export_parts WHERE job_id = %s", (job_id,))


def add_part(conn: psycopg.Connection[Any], job_id: uuid.UUID, seq: int, data: bytes) -> None:
    conn.execute(
        "INSERT INTO privacy_export_parts (job_id, seq, data) VALUES (%s, %s, %s)",
        (job_id, seq, data),
    )


def part_after(
    conn: psycopg.Connection[Any], job_id: uuid.UUID, seq: int
) -> tuple[int, bytes] | None:
    """The export's next part after `seq` (-1: the first), or None after the last: a
    download reads one part per call, never the whole export."""
    row = conn.execute(
        "SELECT seq, data FROM privacy_export_parts WHERE job_id = %s AND seq > %s"
        " ORDER BY seq LIMIT 1",
        (job_id, seq),
    ).fetchone()
    return None if row is None else (row[0], bytes(row[1]))


def has_parts(conn: psycopg.Connection[Any], job_id: uuid.UUID) -> bool:
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM privacy_export_parts WHERE job_id = %s)", (job_id,)
    ).fetchone()
    return bool(row and row[0])


def expire_exports(conn: psycopg.Connection[Any], finished_before: datetime) -> int:
    """Delete the data of exports finished before the given time; how many parts went."""
    cur = conn.execute(
        "DELETE FROM privacy_export_parts p USING privacy_jobs j"
        " WHERE j.job_id = p.job_id AND j.kind = 'export' AND j.status = 'done'"
        " AND j.finished_at < %s",
        (finished_before,),
    )
    return cur.rowcount


# ---- signing keys ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SigningKey:
    key_id: str
    public_key: bytes
    private_key: bytes | None
    created_at: datetime


def signing_keys(conn: psycopg.Connection[Any]) -> list[SigningKey]:
    """Every key that signed or signs receipts, newest first."""
    rows = conn.execute(
        "SELECT key_id, public_key, private_key, created_at FROM privacy_signing_keys"
        " ORDER BY created_at DESC, key_id"
    ).fetchall()
    return [SigningKey(k, bytes(p), bytes(s) if s is not None else None, c) for k, p, s, c in rows]


def add_signing_key(
    conn: psycopg.Connection[Any], key_id: str, public_key: bytes, private_key: bytes | None
) -> None:
    """Keep a key (its private half only when the service made it); a known id is kept."""
    conn.execute(
        "INSERT INTO privacy_signing_keys (key_id, public_key, private_key) VALUES (%s, %s, %s)"
        " ON CONFLICT (key_id) DO NOTHING",
        (key_id, public_key, private_key),
    )
