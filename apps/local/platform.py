"""`gamemetrics dev`: the whole platform on one machine, supervised until Ctrl-C.

Order matters both ways: servers, then migrations and topics, then the
services; on stop, the services first (they finish in-flight requests),
then the servers. Everything stops within `STOP_BUDGET` seconds.
"""

import contextlib
import fcntl
import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit, urlunsplit

import psycopg
from confluent_kafka import KafkaException

from apps.core import buckets, services
from apps.core.errors import ConfigError
from apps.core.settings import for_service
from apps.core.settings.common import LOOPBACK, parse_s3_endpoint
from apps.core.settings.contract import Wire
from apps.core.settings.s3 import S3Settings
from apps.kafka.admin import ensure_topics
from apps.local import process
from apps.local.process import StartFailed
from apps.local.servers import (
    S3_ACCESS_KEY_ID,
    S3_SECRET_ACCESS_KEY,
    EmbeddedPostgres,
    EmbeddedRedis,
    EmbeddedS3,
    Tansu,
)
from apps.local.services import ServiceUnit
from apps.local.supervisor import Supervisor
from apps.store.migrate import migrate

STOP_BUDGET: Final = 9.0
DRAIN_BUDGET: Final = 5.0
DRAIN_STEADY: Final = 1.0
ENDPOINTS_FILE: Final = "endpoints.json"
DEFAULT_DATA_DIR: Final = Path(".gamemetrics")
PREFERRED_PORTS: Final = {"postgres": 55432, "kafka": 19092, "redis": 16379, "s3": 18333}


@dataclass(frozen=True, slots=True)
class DevOptions:
    data_dir: Path
    postgres_url: str | None = None
    kafka_bootstrap: str | None = None
    redis_url: str | None = None
    s3_endpoint: str | None = None
    ingest_port: int | None = None


class AlreadyRunning(RuntimeError):
    pass


def redact(url: str) -> str:
    """The URL without its password, for printing."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


@contextlib.contextmanager
def _exclusive(data_dir: Path) -> Iterator[None]:
    with open(data_dir / "dev.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise AlreadyRunning(
                f"another 'gamemetrics dev' is running on {data_dir}; stop it or pass --data-dir"
            ) from None
        lock.write(str(os.getpid()))
        lock.flush()
        yield


class _StopRequested:
    """The signal handler: the first signal asks for a clean stop, a second one hurries it."""

    def __init__(self) -> None:
        self._count = 0

    def __call__(self, signum: int, _frame: object) -> None:
        self._count += 1

    def requested(self) -> bool:
        return self._count > 0

    def forced(self) -> bool:
        return self._count > 1


def run_dev(options: DevOptions, say: Callable[[str], None]) -> int:
    """Start everything, print the endpoints, supervise until SIGINT/SIGTERM; returns exit code."""
    data_dir = options.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    logs = data_dir / "logs"
    stop = _StopRequested()
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    supervisor = Supervisor(report=say)
    units: list[ServiceUnit] = []
    endpoints_path = data_dir / ENDPOINTS_FILE
    with _exclusive(data_dir):
        try:
            endpoints = _start_everything(options, data_dir, logs, supervisor, units, stop, say)
            if endpoints is None:
                return 130
            _write_endpoints(endpoints_path, endpoints)
            say("GameMetrics is running:")
            for key, value in endpoints.items():
                say(f"  {key:<16} {redact(value)}")
            say(f"endpoints written to {endpoints_path}; logs in {logs}; Ctrl-C to stop")
            while not stop.requested():
                supervisor.tick()
                time.sleep(0.25)
            say("stopping...")
            return 0
        finally:
            started = time.monotonic()
            endpoints_path.unlink(missing_ok=True)
            if not stop.forced():
                _drain(supervisor, units, stop, say)
            left = STOP_BUDGET - (time.monotonic() - started)
            supervisor.stop_all(0.5 if stop.forced() else max(left, 2.0))
            say(f"stopped in {time.monotonic() - started:.1f} s")


def _start_everything(
    options: DevOptions,
    data_dir: Path,
    logs: Path,
    supervisor: Supervisor,
    units: list[ServiceUnit],
    stop: _StopRequested,
    say: Callable[[str], None],
) -> dict[str, str] | None:
    postgres_url = options.postgres_url
    if postgres_url is None:
        pg = EmbeddedPostgres(
            "postgres", logs / "postgres.log", data_dir=data_dir / "postgres",
            port=process.free_port(PREFERRED_PORTS["postgres"]),
        )  # fmt: skip
        say("starting PostgreSQL (embedded)...")
        supervisor.start(pg)
        postgres_url = pg.url
    if stop.requested():
        return None
    kafka = options.kafka_bootstrap
    if kafka is None:
        broker = Tansu(
            "kafka", logs / "kafka.log", port=process.free_port(PREFERRED_PORTS["kafka"])
        )
        say("starting Kafka-compatible broker (Tansu, in memory)...")
        # A restarted in-memory broker comes back empty: create the topics again.
        supervisor.start(broker, after_start=lambda: ensure_topics(broker.url, "local"))
        kafka = broker.url
    else:
        try:
            ensure_topics(kafka, "local")
        except KafkaException as e:
            raise StartFailed(f"cannot create topics on Kafka at {kafka}: {e}") from None
    if stop.requested():
        return None
    redis_url = options.redis_url
    if redis_url is None:
        redis = EmbeddedRedis(
            "redis", logs / "redis.log", data_dir=data_dir / "redis",
            port=process.free_port(PREFERRED_PORTS["redis"]),
        )  # fmt: skip
        say("starting Redis (embedded)...")
        supervisor.start(redis)
        redis_url = redis.url
    if stop.requested():
        return None
    s3_wires = _start_s3(options, data_dir, logs, supervisor, say)
    try:
        applied = migrate(postgres_url)
    except psycopg.Error as e:
        raise StartFailed(f"cannot migrate PostgreSQL at {redact(postgres_url)}: {e}") from None
    if applied:
        say(f"applied migrations: {', '.join(applied)}")
    endpoints = {
        "postgres_dsn": postgres_url,
        "kafka_bootstrap": kafka,
        "redis_url": redis_url,
        "s3_endpoint": s3_wires[Wire.S3_ENDPOINT],
        "archive_bucket": s3_wires[Wire.ARCHIVE_BUCKET],
        # Commands run beside the platform sign with the embedded store's local identity,
        # or with the caller's own AWS credentials for a store given by --s3-endpoint.
        "s3_credentials": "embedded" if Wire.S3_ACCESS_KEY_ID in s3_wires else "environment",
    }
    supplied = {
        **s3_wires,
        Wire.STACK: "local",
        Wire.HOST: LOOPBACK,
        Wire.POSTGRES_DSN: postgres_url,
        Wire.KAFKA_BOOTSTRAP: kafka,
        Wire.REDIS_URL: redis_url,
    }
    for service in services.ALL:
        if stop.requested():
            return None
        preferred = options.ingest_port if service is services.INGEST else None
        port = process.free_port(preferred or service.port)
        env = {**os.environ, **for_service(service).wire(supplied | {Wire.PORT: str(port)})}
        unit = ServiceUnit(service, port, env, logs / f"{service.name}.log")
        say(f"starting {service.name} on port {port}...")
        supervisor.start(unit)
        units.append(unit)
        if service.endpoint_key:
            endpoints[service.endpoint_key] = unit.url + service.endpoint_path
    return {"ingest_url": endpoints.pop("ingest_url"), **endpoints}


def _start_s3(
    options: DevOptions,
    data_dir: Path,
    logs: Path,
    supervisor: Supervisor,
    say: Callable[[str], None],
) -> dict[Wire, str]:
    """The embedded S3 (or the one named) with every declared bucket; what services are told.

    An existing store is reached with the caller's own AWS credentials (boto3's chain:
    AWS_ACCESS_KEY_ID..., a profile), which the services inherit from this process."""
    # Imported here: boto3 is paid for only once S3 is started.
    from botocore.exceptions import BotoCoreError, ClientError

    from apps.s3.client import client, ensure_buckets

    names = [bucket.local_name for bucket in buckets.ALL]
    wires = {Wire.ARCHIVE_BUCKET: buckets.ARCHIVE.local_name}
    if options.s3_endpoint is None:
        store = EmbeddedS3(
            "s3", logs / "s3.log", data_dir=data_dir / "s3",
            port=process.free_port(PREFERRED_PORTS["s3"]),
        )  # fmt: skip
        say("starting S3 (SeaweedFS, embedded)...")

        def create_buckets() -> None:
            # Again after a restart: a store started on an emptied data dir has none.
            try:
                ensure_buckets(client(store.settings), names)
            except (BotoCoreError, ClientError) as e:
                raise StartFailed(f"cannot create the buckets on the local S3: {e}") from None

        supervisor.start(store, after_start=create_buckets)
        return wires | {
            Wire.S3_ENDPOINT: store.url,
            Wire.S3_ACCESS_KEY_ID: S3_ACCESS_KEY_ID,
            Wire.S3_SECRET_ACCESS_KEY: S3_SECRET_ACCESS_KEY,
        }

    try:
        endpoint = parse_s3_endpoint("--s3-endpoint", options.s3_endpoint)
        ensure_buckets(client(S3Settings(endpoint=endpoint, max_attempts=2)), names)
    except (ConfigError, BotoCoreError, ClientError) as e:
        raise StartFailed(
            f"cannot create the buckets on S3 at {options.s3_endpoint}: {e}"
        ) from None
    return wires | {Wire.S3_ENDPOINT: endpoint}


def _drain(
    supervisor: Supervisor,
    units: list[ServiceUnit],
    stop: _StopRequested,
    say: Callable[[str], None],
) -> None:
    """Stop taking events, then wait until the consumers have stored what the broker holds.

    The local broker keeps data in memory: stopping it earlier would lose events
    that were acknowledged to clients. A consumer must report itself caught up
    for `DRAIN_STEADY` seconds in a row (one fetch round trip), so a record
    produced just before ingestion stopped is not missed.
    """
    for unit in units:
        if unit.service.public:
            supervisor.stop(unit, 3.0)
    consumers = [u for u in units if u.service.drain_path and u.alive()]
    if not consumers:
        return
    deadline = time.monotonic() + DRAIN_BUDGET
    steady_since: float | None = None
    while time.monotonic() < deadline and not stop.forced():
        if all(u.drained() for u in consumers):
            steady_since = steady_since or time.monotonic()
            if time.monotonic() - steady_since >= DRAIN_STEADY:
                say("all events stored")
                return
        else:
            steady_since = None
        time.sleep(0.1)
    say(
        "WARNING: stopped before the processor caught up; events still in the local "
        "broker are lost (their clients were told they were accepted)"
    )


def _write_endpoints(path: Path, endpoints: dict[str, str]) -> None:
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(endpoints, f, indent=2)
    tmp.replace(path)


def read_endpoints(data_dir: Path) -> dict[str, str] | None:
    try:
        data: dict[str, str] = json.loads((data_dir / ENDPOINTS_FILE).read_text())
    except (OSError, ValueError):
        return None
    return data
