"""Privacy requests over REST: export and erasure of one player, their jobs, downloads of
exports, lifting a suppression, and the public key that checks receipts.

Asking is cheap and durable: the job, its audit entry and (for a suppressing erasure)
the suppression commit in one transaction, and the answer is 202 with the job's id; the
runner threads (apps/users/jobs.py) do the work. Owners and admins of the game ask and
read; a job of a game the caller has no role on is a 404 like an unknown one.
"""

import base64
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any, Final

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from apps.core import receipts
from apps.core.errors import BatchError
from apps.core.player_ids import player_id_problem
from apps.core.privacy import JobKind, digest_text, player_digest
from apps.store import audit, privacy_jobs, suppressions
from apps.store.privacy_jobs import Job
from apps.users import inputs
from apps.users.auth import require
from apps.users.endpoint import Call, Connect, Reply
from apps.users.errors import Conflict, NotFound
from apps.users.games import game_id
from apps.users.signing import signer

DOWNLOAD_TYPES: Final = ("application/gzip", "application/x-ndjson")
"""An Accept header naming one of these on GET /v1/privacy/jobs/{id} downloads the export."""


def player_id(call: Call) -> str:
    value = call.path["player_id"]
    problem = player_id_problem(value)
    if problem is not None:
        raise BatchError("player_id", problem)
    return value


def job_url(job_id: uuid.UUID) -> str:
    return f"/v1/privacy/jobs/{job_id}"


def job_json(job: Job, export_retention: timedelta) -> dict[str, Any]:
    """The job as the API shows it; a done export says when its data expires."""
    out: dict[str, Any] = {
        "job_id": str(job.job_id),
        "kind": job.kind,
        "game_id": str(job.game_id),
        "player_id": job.player_id,
        "player": digest_text(job.player_digest),
        "status": job.status,
        "suppress": job.suppress,
        "created_at": job.created_at.isoformat(),
        "started_at": _iso(job.started_at),
        "finished_at": _iso(job.finished_at),
        "attempts": job.attempts,
        "error": job.error,
        "status_url": job_url(job.job_id),
    }
    if job.kind == "erasure":
        out["receipt"] = job.receipt
    else:
        out["events"] = job.export_events
        out["bytes"] = job.export_bytes
        out["download_url"] = f"{job_url(job.job_id)}/download" if job.status == "done" else None
        if job.finished_at is not None:
            out["expires_at"] = (job.finished_at + export_retention).isoformat()
    return out


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _ask(call: Call, kind: JobKind, suppress: bool) -> Reply:
    gid, pid = game_id(call), player_id(call)
    require(call.caller(), gid, "admin")
    actor = call.actor()
    with call.conn.transaction():
        job = privacy_jobs.create_job(
            call.conn, gid, kind, pid, suppress=suppress, requested_by=actor.name,
            request_id=call.request_id,
        )  # fmt: skip
        if suppress:
            suppressions.suppress(call.conn, gid, job.player_digest, job.job_id)
        audit.record(
            call.conn, actor, f"privacy.{kind}", f"player:sha256:{job.player_digest.hex()}",
            gid, {"job_id": str(job.job_id), "suppress": suppress},
        )  # fmt: skip
    body = job_json(job, call.settings.privacy_export_retention)
    return Reply(202, body, {"Location": job_url(job.job_id)})


def request_export(call: Call) -> Reply:
    inputs.json_object(call.body, set())
    return _ask(call, "export", False)


def request_erasure(call: Call) -> Reply:
    body = inputs.json_object(call.body, {"suppress"})
    suppress = body.get("suppress", False)
    if not isinstance(suppress, bool):
        raise BatchError("suppress", "must be true or false")
    return _ask(call, "erasure", suppress)


def _job(call: Call) -> Job:
    jid = inputs.identifier(call.path["job_id"], "job_id")
    job = privacy_jobs.get_job(call.conn, jid)
    unknown = NotFound(f"no privacy job with id {jid}", "job_id")
    if job is None:
        raise unknown
    try:
        require(call.caller(), job.game_id, "admin")
    except NotFound:
        raise unknown from None
    return job


def get_job(call: Call) -> Reply:
    job = _job(call)
    if any(t in call.accept for t in DOWNLOAD_TYPES) and job.kind == "export":
        return _download(call, job)
    return Reply(200, job_json(job, call.settings.privacy_export_retention))


def download(call: Call) -> Reply:
    return _download(call, _job(call))


def _download(call: Call, job: Job) -> Reply:
    if job.kind != "export":
        raise NotFound(f"job {job.job_id} is an erasure: it has nothing to download", "job_id")
    if job.status != "done":
        raise Conflict(f"job {job.job_id} is {job.status}: its export is not ready", "job_id")
    if not privacy_jobs.has_parts(call.conn, job.job_id):
        raise NotFound(
            f"the export of job {job.job_id} is gone (expired, or its player was erased)",
            "job_id",
        )
    name = f"gamemetrics-export-{job.job_id}.ndjson.gz"
    return Reply(
        200,
        headers={
            "Content-Type": "application/gzip",
            "Content-Disposition": f'attachment; filename="{name}"',
        },
        stream=lambda connect: _parts(connect, job.job_id),
    )


def _parts(connect: Connect, job_id: uuid.UUID) -> Iterator[bytes]:
    """Each part read on a pooled connection of its own, as the client takes them."""
    seq = -1
    while True:
        with connect() as conn:
            part = privacy_jobs.part_after(conn, job_id, seq)
        if part is None:
            return
        seq, data = part
        yield data


def lift_suppression(call: Call) -> Reply:
    gid, pid = game_id(call), player_id(call)
    require(call.caller(), gid, "admin")
    digest = player_digest(gid, pid)
    with call.conn.transaction():
        if not suppressions.lift(call.conn, gid, digest):
            raise NotFound(f"player is not suppressed in game {gid}", "player_id")
        audit.record(call.conn, call.actor(), "privacy.unsuppress",
                     f"player:sha256:{digest.hex()}", gid)  # fmt: skip
    return Reply(204)


def public_key(call: Call) -> Reply:
    current = signer(call.conn, call.settings.privacy_signing_key)
    keys = privacy_jobs.signing_keys(call.conn)
    public = next(k.public_key for k in keys if k.key_id == current.key_id)
    pem = Ed25519PublicKey.from_public_bytes(public).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return Reply(
        200,
        {
            "algorithm": receipts.ALGORITHM,
            "key_id": current.key_id,
            "public_key": base64.b64encode(public).decode(),
            "public_key_pem": pem.decode(),
            "keys": [
                {
                    "key_id": k.key_id,
                    "public_key": base64.b64encode(k.public_key).decode(),
                    "created_at": k.created_at.isoformat(),
                    "current": k.key_id == current.key_id,
                }
                for k in keys
            ],
        },
    )
