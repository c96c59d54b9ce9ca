"""Asking the users API for privacy jobs and waiting for them, and reading exports."""

import gzip
import json
import uuid
from typing import Any

import httpx

from tests.support.poll import poll_until
from tests.support.users import Person


def ask(url: str, who: Person, game_id: uuid.UUID, player: str, kind: str,
        body: dict[str, Any] | None = None) -> str:  # fmt: skip
    """POST the request; the job's id (asserts the 202)."""
    r = httpx.post(
        f"{url}/v1/games/{game_id}/players/{player}/{kind}", json=body, headers=who.auth,
        timeout=30,
    )  # fmt: skip
    assert r.status_code == 202, r.text
    assert r.headers["location"] == f"/v1/privacy/jobs/{r.json()['job_id']}"
    job_id: str = r.json()["job_id"]
    return job_id


def job(url: str, who: Person, job_id: str) -> dict[str, Any]:
    r = httpx.get(f"{url}/v1/privacy/jobs/{job_id}", headers=who.auth, timeout=30)
    assert r.status_code == 200, r.text
    found: dict[str, Any] = r.json()
    return found


def finished(url: str, who: Person, job_id: str, timeout: float = 90) -> dict[str, Any]:
    """The job once it is done or failed."""
    seen: dict[str, Any] = {}

    def ended() -> bool:
        seen.update(job(url, who, job_id))
        return seen["status"] in ("done", "failed")

    poll_until(ended, timeout=timeout, what=f"privacy job {job_id} to end", every=0.1)
    return seen


def export_lines(url: str, who: Person, job_id: str) -> list[dict[str, Any]]:
    r = httpx.get(f"{url}/v1/privacy/jobs/{job_id}/download", headers=who.auth, timeout=30)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/gzip"
    return [json.loads(line) for line in gzip.decompress(r.content).splitlines()]
