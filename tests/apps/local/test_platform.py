"""`gamemetrics dev` run as a user runs it: a process, its endpoints, Ctrl-C, restarts."""

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest
import redis
from confluent_kafka.admin import AdminClient

from apps.core.buckets import ARCHIVE
from apps.core.settings.s3 import S3Settings
from apps.core.topics import ALL as TOPICS
from apps.local.process import free_port
from apps.local.servers import S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY, EmbeddedS3
from apps.s3.client import client
from apps.store import tokens
from apps.store.migrate import migration_files
from tests.support.factory import batch, event
from tests.support.poll import poll_until
from tests.support.processes import alive, descendants
from tests.support.servers import Endpoints

GAMEMETRICS = [sys.executable, "-m", "apps.cli.main"]


@dataclass
class Dev:
    proc: subprocess.Popen[str]
    data_dir: Path
    endpoints: dict[str, str]


def start_dev(data_dir: Path, *extra: str, env: dict[str, str] | None = None) -> Dev:
    proc = subprocess.Popen(
        [*GAMEMETRICS, "dev", "--data-dir", str(data_dir), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, **(env or {})},
    )  # fmt: skip
    path = data_dir / "endpoints.json"

    def written() -> bool:
        if proc.poll() is not None:
            raise AssertionError(
                f"gamemetrics dev exited early:\n{proc.stdout.read() if proc.stdout else ''}"
            )
        return path.exists()

    poll_until(written, timeout=90, what="endpoints.json", every=0.1)
    return Dev(proc, data_dir, json.loads(path.read_text()))


STOP_TIMEOUT_S = 60
"""Ctrl-C drains the broker and stops every server: a hang, not a slow machine, passes this."""


def stop_dev(dev: Dev) -> str:
    """Ctrl-C, as a user would; the output once it exited (a hang fails the test)."""
    dev.proc.send_signal(signal.SIGINT)
    try:
        out, _ = dev.proc.communicate(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        dev.proc.kill()
        dev.proc.communicate()
        raise AssertionError(f"gamemetrics dev did not stop within {STOP_TIMEOUT_S} s") from None
    return out


@pytest.fixture
def dev(tmp_path: Path) -> Iterator[Dev]:
    running = start_dev(tmp_path / "gm")
    yield running
    if running.proc.poll() is None:
        stop_dev(running)


def games_cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*GAMEMETRICS, "games", *args, "--data-dir", str(data_dir)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_dev_starts_everything_and_ctrl_c_leaves_nothing_behind(dev: Dev) -> None:
    ep = dev.endpoints
    assert set(ep) >= {
        "ingest_url", "graphql_url", "users_url", "postgres_dsn", "kafka_bootstrap", "redis_url",
    }  # fmt: skip
    assert httpx.get(ep["ingest_url"] + "/healthz").status_code == 200
    assert httpx.get(ep["ingest_url"] + "/readyz").json()["status"] == "ready"
    with psycopg.connect(ep["postgres_dsn"]) as conn:
        applied = conn.execute("SELECT count(*) FROM schema_migrations").fetchone()
        assert applied == (len(migration_files()),)
    topics = AdminClient({"bootstrap.servers": ep["kafka_bootstrap"]}).list_topics(timeout=10)
    assert {t.name for t in TOPICS} <= set(topics.topics)
    assert redis.Redis.from_url(ep["redis_url"]).ping()
    # The local S3: its buckets exist and take objects through the wired credentials.
    assert ep["s3_endpoint"].startswith("http://127.0.0.1:")
    assert ep["archive_bucket"] == ARCHIVE.local_name
    store = client(S3Settings(endpoint=ep["s3_endpoint"], access_key_id=S3_ACCESS_KEY_ID,
                              secret_access_key=S3_SECRET_ACCESS_KEY))  # fmt: skip
    store.put_object(Bucket=ep["archive_bucket"], Key="dev-test", Body=b"ok")
    assert store.get_object(Bucket=ep["archive_bucket"], Key="dev-test")["Body"].read() == b"ok"

    created = games_cli(dev.data_dir, "create", "Space Race", "--json")
    assert created.returncode == 0, created.stderr
    key = json.loads(created.stdout)["ingest_key"]
    r = httpx.post(
        ep["ingest_url"] + "/v1/events",
        json=batch(event("session_start")),
        headers={"Authorization": f"Bearer {key}"},
    )
    assert r.status_code == 202

    assert ep["graphql_url"].startswith("http://127.0.0.1:")
    assert ep["graphql_url"].endswith("/graphql")
    with psycopg.connect(ep["postgres_dsn"]) as conn:
        analyst = tokens.create_token(conn, "dev-test", None).token
    answer = httpx.post(
        ep["graphql_url"],
        json={"query": "{ games { id name } }"},
        headers={"Authorization": f"Bearer {analyst}"},
    )
    assert answer.status_code == 200
    assert {"id": created_id(created), "name": "Space Race"} in answer.json()["data"]["games"]
    assert httpx.get(ep["graphql_url"]).headers["content-type"].startswith("text/html")

    # The users API: an account bootstrapped by the CLI logs in, and its session reads GraphQL.
    assert httpx.get(ep["users_url"] + "/readyz").json()["status"] == "ready"
    made = subprocess.run(
        [*GAMEMETRICS, "accounts", "create", "--email", "dev@example.com", "--role", "viewer",
         "--game", created_id(created), "--data-dir", str(dev.data_dir), "--json"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    login = httpx.post(
        ep["users_url"] + "/v1/sessions",
        json={"email": "dev@example.com", "password": json.loads(made.stdout)["password"]},
    )
    assert login.status_code == 201, login.text
    session = {"Authorization": f"Bearer {login.json()['token']}"}
    seen = httpx.post(ep["graphql_url"], json={"query": "{ games { id } }"}, headers=session)
    assert seen.json()["data"]["games"] == [{"id": created_id(created)}]

    children = descendants(dev.proc.pid)
    # postgres (and its workers), tansu, redis, weed, ingest, processor, analytics, users
    assert len(children) >= 8
    # Users awaits the processor's progress: it is told where the broker is, as the
    # processor is (its contract wires the bootstrap; apps/core/services.USERS.awaits).
    for name in ("users", "processor"):
        assert (
            _environment(_serving(children, name))["GAMEMETRICS_KAFKA_BOOTSTRAP"]
            == (ep["kafka_bootstrap"])
        )
    out = stop_dev(dev)
    assert dev.proc.returncode == 0
    assert [pid for pid in children if alive(pid)] == []
    assert not (dev.data_dir / "endpoints.json").exists()
    for name in ("ingest_url", "graphql_url", "users_url", "postgres_dsn", "kafka_bootstrap",
                 "redis_url", "s3_endpoint"):  # fmt: skip
        assert name in out


def _serving(pids: set[int], service: str) -> int:
    """The pid of `... serve <service>` among `pids` (exactly one)."""
    (pid,) = [
        pid
        for pid in pids
        if _read(f"/proc/{pid}/cmdline").endswith(b"serve\x00" + service.encode() + b"\x00")
    ]
    return pid


def _environment(pid: int) -> dict[str, str]:
    pairs = (entry.partition(b"=") for entry in _read(f"/proc/{pid}/environ").split(b"\0"))
    return {k.decode(): v.decode() for k, _, v in pairs if k}


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError:  # the process ended meanwhile (a postgres worker, say)
        return b""


def created_id(created: subprocess.CompletedProcess[str]) -> str:
    game_id: str = json.loads(created.stdout)["game_id"]
    return game_id


def test_postgres_data_survives_a_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "gm"
    first = start_dev(data_dir)
    created = games_cli(data_dir, "create", "Persistent", "--json")
    game_id = json.loads(created.stdout)["game_id"]
    stop_dev(first)
    second = start_dev(data_dir)
    try:
        listed = json.loads(games_cli(data_dir, "list", "--json").stdout)
        assert game_id in [g["game_id"] for g in listed]
    finally:
        stop_dev(second)


def test_a_crashed_service_is_reported_and_restarted(dev: Dev) -> None:
    url = dev.endpoints["ingest_url"]
    [ingest_pid] = [
        pid for pid in descendants(dev.proc.pid)
        if Path(f"/proc/{pid}/cmdline").read_bytes().endswith(b"serve\x00ingest\x00")
    ]  # fmt: skip
    os.kill(ingest_pid, signal.SIGKILL)

    def restarted() -> bool:
        try:
            healthy = httpx.get(url + "/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False
        return healthy and not alive(ingest_pid)

    poll_until(restarted, timeout=30, what="ingest to be restarted", every=0.1)
    out = stop_dev(dev)
    assert "ingest exited unexpectedly" in out
    assert "ingest restarted" in out


def test_external_servers_are_used_instead_of_embedded_ones(
    tmp_path: Path, endpoints: Endpoints, s3: EmbeddedS3
) -> None:
    # An existing store is reached with the caller's AWS credentials, as boto3 finds them.
    credentials = {"AWS_ACCESS_KEY_ID": S3_ACCESS_KEY_ID,
                   "AWS_SECRET_ACCESS_KEY": S3_SECRET_ACCESS_KEY}  # fmt: skip
    dev = start_dev(
        tmp_path / "gm",
        "--postgres-url", endpoints.postgres_dsn,
        "--kafka-bootstrap", endpoints.kafka_bootstrap,
        "--redis-url", endpoints.redis_url,
        "--s3-endpoint", s3.url,
        env=credentials,
    )  # fmt: skip
    try:
        assert dev.endpoints["s3_endpoint"] == s3.url
        there = [b["Name"] for b in client(s3.settings).list_buckets()["Buckets"]]
        assert ARCHIVE.local_name in there
        assert dev.endpoints["postgres_dsn"] == endpoints.postgres_dsn
        assert dev.endpoints["kafka_bootstrap"] == endpoints.kafka_bootstrap
        assert dev.endpoints["redis_url"] == endpoints.redis_url
        names = {Path(f"/proc/{p}/cmdline").read_bytes() for p in descendants(dev.proc.pid)}
        assert not any(
            b"postgres" in n or b"tansu" in n or b"redis-server" in n or b"weed" in n for n in names
        )
        assert httpx.get(dev.endpoints["ingest_url"] + "/readyz").status_code == 200
    finally:
        stop_dev(dev)


def test_ctrl_c_drains_the_in_memory_broker_into_postgres(tmp_path: Path) -> None:
    data_dir = tmp_path / "gm"
    first = start_dev(data_dir)
    created = json.loads(games_cli(data_dir, "create", "Drain", "--json").stdout)
    simulated = subprocess.run(
        [*GAMEMETRICS, "simulate", "--data-dir", str(data_dir), "--game", created["game_id"],
         "--key", created["ingest_key"], "--players", "500", "--rate", "20000",
         "--days", "2", "--backfill", "--seed", "3", "--json"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    accepted = json.loads(simulated.stdout)["accepted"]
    assert accepted > 5000
    out = stop_dev(first)  # at once: most events are still in the broker only
    assert first.proc.returncode == 0
    assert "all events stored" in out
    second = start_dev(data_dir)
    try:
        with psycopg.connect(second.endpoints["postgres_dsn"]) as conn:
            row = conn.execute(
                "SELECT count(*), count(DISTINCT event_id) FROM events WHERE game_id = %s",
                (created["game_id"],),
            ).fetchone()
        assert row == (accepted, accepted)
    finally:
        stop_dev(second)


def test_a_second_dev_on_the_same_data_dir_is_refused(dev: Dev) -> None:
    second = subprocess.run(
        [*GAMEMETRICS, "dev", "--data-dir", str(dev.data_dir)],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert second.returncode == 1
    assert "another 'gamemetrics dev' is running" in second.stdout


def test_an_unreachable_external_server_is_a_clear_error(tmp_path: Path) -> None:
    dead = f"postgresql://postgres:hunter2@127.0.0.1:{free_port()}/gm"
    result = subprocess.run(
        [*GAMEMETRICS, "dev", "--data-dir", str(tmp_path / "gm"), "--postgres-url", dead],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1
    assert "cannot migrate PostgreSQL at postgresql://postgres:***@127.0.0.1" in result.stdout
    assert "hunter2" not in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_an_unreachable_s3_endpoint_is_a_clear_error(tmp_path: Path, endpoints: Endpoints) -> None:
    result = subprocess.run(
        [*GAMEMETRICS, "dev", "--data-dir", str(tmp_path / "gm"),
         "--postgres-url", endpoints.postgres_dsn, "--kafka-bootstrap", endpoints.kafka_bootstrap,
         "--redis-url", endpoints.redis_url, "--s3-endpoint", f"http://127.0.0.1:{free_port()}"],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s"},
    )  # fmt: skip
    assert result.returncode == 1
    assert "cannot create the buckets on S3 at http://127.0.0.1:" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
