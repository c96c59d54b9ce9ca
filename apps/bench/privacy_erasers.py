"""How the privacy benchmark erases a player: `erase(player_id) -> seconds`, two ways.

- `direct`: `apps.store.erasure.erase_player` on a connection of the benchmark's
  own, timed from the call to its commit (PostgreSQL's part of a job alone).
- `job`: the users service's erasure job end to end, as a privacy officer would
  run it: POST /v1/games/{game}/players/{player}/erasure (202, a job id), then
  GET /v1/privacy/jobs/{job} every `POLL` seconds until `done` or `failed`,
  timed from the POST to the answer that says `done`. It includes the job's wait
  for the processor to store the events in flight when it started.
"""

import secrets
import time
import uuid
from datetime import datetime
from typing import Any, Final, Literal, Protocol
from urllib.parse import quote

import httpx
import psycopg

from apps.bench.errors import BenchError
from apps.store import accounts, passwords
from apps.store.erasure import erase_player

Kind = Literal["job", "direct"]
KINDS: Final[tuple[Kind, ...]] = ("job", "direct")
POLL: Final = 0.05
JOB_TIMEOUT: Final = 600.0


class Eraser(Protocol):
    """Erases one player of the benchmark's game; blocks until the erasure committed."""

    kind: Kind
    note: str
    """What the last erasure said of itself beyond its wall time ("" when nothing)."""

    def erase(self, player_id: str) -> float:
        """Erase `player_id`; returns the wall seconds it took. Raises BenchError when the
        erasure failed or did not finish within JOB_TIMEOUT."""
        ...

    def close(self) -> None: ...


class DirectEraser:
    kind: Kind = "direct"

    def __init__(self, dsn: str, game_id: uuid.UUID) -> None:
        self.game_id = game_id
        self.conn = psycopg.connect(dsn, autocommit=True)
        self.note = ""

    def erase(self, player_id: str) -> float:
        started = time.perf_counter()
        counts = erase_player(self.conn, self.game_id, player_id)
        seconds = time.perf_counter() - started
        self.note = (
            f"{sum(counts.removed.values()):,} rows deleted, "
            f"{sum(counts.recomputed.values()):,} rollup rows updated"
        )
        return seconds

    def close(self) -> None:
        self.conn.close()


class JobEraser:
    kind: Kind = "job"

    def __init__(self, users_url: str, token: str, game_id: uuid.UUID) -> None:
        self.url, self.game_id = users_url, game_id
        self.note = ""
        self.client = httpx.Client(
            base_url=users_url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )

    def erase(self, player_id: str) -> float:
        path = f"/v1/games/{self.game_id}/players/{quote(player_id, safe='')}/erasure"
        started = time.perf_counter()
        r = self.client.post(path, json={})
        if r.status_code != 202:
            raise BenchError(f"POST {path}: {r.status_code} {r.text[:300]}")
        job_id = r.json()["job_id"]
        deadline = started + JOB_TIMEOUT
        while time.perf_counter() < deadline:
            job = self._job(job_id)
            if job["status"] == "done":
                seconds = time.perf_counter() - started
                self.note = _job_note(job)
                return seconds
            if job["status"] == "failed":
                raise BenchError(f"erasure job {job_id} of {player_id} failed: {job.get('error')}")
            time.sleep(POLL)
        raise BenchError(f"erasure job {job_id} of {player_id} not done in {JOB_TIMEOUT:.0f} s")

    def _job(self, job_id: str) -> dict[str, Any]:
        r = self.client.get(f"/v1/privacy/jobs/{job_id}")
        if r.status_code != 200:
            raise BenchError(f"GET /v1/privacy/jobs/{job_id}: {r.status_code} {r.text[:300]}")
        body: dict[str, Any] = r.json()
        return body

    def close(self) -> None:
        self.client.close()


def _job_note(job: dict[str, Any]) -> str:
    """The job's own account of its time: queued (created -> started) and run (-> finished)."""
    try:
        created, begun, finished = (datetime.fromisoformat(job[k]) for k in
                                    ("created_at", "started_at", "finished_at"))  # fmt: skip
    except (KeyError, TypeError, ValueError):
        return ""
    queued = (begun - created).total_seconds()
    ran = (finished - begun).total_seconds()
    return f"job: queued {queued:.2f} s, ran {ran:.2f} s"


def owner_session(dsn: str, users_url: str, game_id: uuid.UUID) -> str:
    """A new account that owns the game, logged in through POST /v1/sessions: its token."""
    email = f"bench-privacy-{uuid.uuid4().hex[:10]}@example.com"
    password = secrets.token_urlsafe(24)
    with psycopg.connect(dsn) as conn:
        account = accounts.create_account(conn, email, "Privacy benchmark",
                                          passwords.hash_password(password))  # fmt: skip
        accounts.set_role(conn, game_id, account.account_id, "owner")
    r = httpx.post(users_url + "/v1/sessions", json={"email": email, "password": password},
                   timeout=30)  # fmt: skip
    if r.status_code != 201:
        raise BenchError(f"POST /v1/sessions: {r.status_code} {r.text[:300]}")
    token: str = r.json()["token"]
    return token


def eraser(kind: Kind, dsn: str, game_id: uuid.UUID, users_url: str | None) -> Eraser:
    if kind == "direct":
        return DirectEraser(dsn, game_id)
    if users_url is None:
        raise BenchError("the job eraser needs the users service")
    return JobEraser(users_url, owner_session(dsn, users_url, game_id), game_id)
