"""What a benchmark measures: a platform it starts itself, or one already running.

The own platform is the one `gamemetrics dev` runs, in a temporary folder:
embedded PostgreSQL, Tansu and Redis, migrations, topics, then each service
as a separate process through `ServiceUnit`, and a game whose rate limit is
too high to interfere.
"""

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from apps.core import services
from apps.core.settings import for_service
from apps.core.settings.common import LOOPBACK
from apps.core.settings.contract import Wire
from apps.core.settings.ingest import IngestSettings
from apps.kafka.admin import ensure_topics
from apps.local import process
from apps.local.servers import EmbeddedPostgres, EmbeddedRedis, Tansu
from apps.local.services import ServiceUnit

BENCH_RATE_LIMIT_EPS: Final = 10_000_000


@dataclass(frozen=True, slots=True)
class Target:
    """Where to send events, with what key, and which local processes to account CPU to."""

    url: str
    key: str
    kafka_bootstrap: str | None = None
    pids: dict[str, int] = field(default_factory=dict)
    logs: Path | None = None

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        parts = urlsplit(self.url)
        return parts.port or (443 if parts.scheme == "https" else 80)


class _Stoppable:
    def __init__(self) -> None:
        self.units: list[EmbeddedPostgres | Tansu | EmbeddedRedis | ServiceUnit] = []

    def stop_all(self) -> None:
        for unit in reversed(self.units):
            unit.stop(10)
        self.units.clear()


@dataclass
class Platform:
    """The own platform while it runs; the processor can be stopped and started again."""

    target: Target
    postgres_dsn: str
    game_id: str
    processor: ServiceUnit | None = None
    spares: list[ServiceUnit] = field(default_factory=list)
    """More processors of the same group, not started (the scale-out benchmark starts them)."""
    users_url: str | None = None
    """The users service, when asked for."""

    def stop_processor(self) -> None:
        """SIGTERM: the processor finishes its batch, commits and leaves the group."""
        if self.processor is not None:
            self.processor.stop(20)
            self.target.pids.pop("processor", None)

    def start_processor(self) -> None:
        """Start it again (blocks until healthy); it resumes from the committed offsets."""
        if self.processor is not None:
            self.processor.start()
            if self.processor.proc is not None:
                self.target.pids["processor"] = self.processor.proc.pid

    @property
    def processor_pid(self) -> int | None:
        unit = self.processor
        return unit.proc.pid if unit is not None and unit.proc is not None else None


@contextlib.contextmanager
def own_platform(say: Callable[[str], None], *, workers: int = 1) -> Iterator[Target]:
    """Start the platform in a temporary folder; stop everything and delete it on exit."""
    with platform(say, workers=workers) as running:
        yield running.target


def _unit(
    service: services.Service,
    supplied: dict[Wire, str],
    logs: Path,
    extra: dict[str, str],
    name: str | None = None,
) -> ServiceUnit:
    port = process.free_port()
    wired = for_service(service).wire(supplied | {Wire.HOST: LOOPBACK, Wire.PORT: str(port)})
    log = logs / f"{name or service.name}.log"
    return ServiceUnit(service, port, {**os.environ, **wired, **extra}, log)


@contextlib.contextmanager
def platform(
    say: Callable[[str], None],
    *,
    workers: int = 1,
    processor: bool = False,
    processor_env: dict[str, str] | None = None,
    postgres_settings: dict[str, str] | None = None,
    spare_processors: int = 0,
    postgres_from: Path | None = None,
    users: bool = False,
) -> Iterator[Platform]:
    """The own platform, with the processor service when `processor` (`processor_env`: extra
    processor settings, by `ProcessorSettings.key`; `postgres_settings`: extra server options;
    `spare_processors`: more processors of the same group, created but not started;
    `postgres_from`: a stopped PostgreSQL data folder, copied to start from its data, which
    stays as it was; `users`: the users service too)."""
    import psycopg

    from apps.store.games import create_game
    from apps.store.migrate import migrate

    with tempfile.TemporaryDirectory(
        prefix="gamemetrics-bench-", ignore_cleanup_errors=True
    ) as folder:
        base = Path(folder)
        logs = base / "logs"
        pg = EmbeddedPostgres(
            "postgres", logs / "postgres.log", data_dir=base / "pg", port=process.free_port(),
            settings=dict(postgres_settings or {}),
        )  # fmt: skip
        kafka = Tansu("kafka", logs / "kafka.log", port=process.free_port())
        redis = EmbeddedRedis(
            "redis", logs / "redis.log", data_dir=base / "redis", port=process.free_port()
        )
        if postgres_from is not None:
            say(f"copying the database in {postgres_from}...")
            # Not a stopped server's leftovers: its sockets cannot be copied, its pid file lies.
            skip = shutil.ignore_patterns(".s.PGSQL.*", "postmaster.pid")
            shutil.copytree(postgres_from, base / "pg", symlinks=True, ignore=skip)
        running = _Stoppable()
        try:
            for server in (pg, kafka, redis):
                say(f"starting {server.name} (embedded)...")
                server.start()
                running.units.append(server)
            migrate(pg.url)
            ensure_topics(kafka.url, "local")
            with psycopg.connect(pg.url) as conn:
                issued = create_game(conn, "bench", rate_limit_eps=BENCH_RATE_LIMIT_EPS)
            supplied = {
                Wire.STACK: "local",
                Wire.POSTGRES_DSN: pg.url,
                Wire.KAFKA_BOOTSTRAP: kafka.url,
                Wire.REDIS_URL: redis.url,
            }
            workers_key = IngestSettings.key("workers")
            ingest = _unit(services.INGEST, supplied, logs, {workers_key: str(workers)})
            say(f"starting ingest service on port {ingest.port} ({workers} worker processes)...")
            ingest.start()
            running.units.append(ingest)
            consumer = None
            if processor:
                consumer = _unit(services.PROCESSOR, supplied, logs, dict(processor_env or {}))
                say(f"starting processor service on port {consumer.port}...")
                consumer.start()
                running.units.append(consumer)
            users_unit = None
            if users:
                users_unit = _unit(services.USERS, supplied, logs, {})
                say(f"starting users service on port {users_unit.port}...")
                users_unit.start()
                running.units.append(users_unit)
            spares = []
            for i in range(spare_processors):
                unit = _unit(services.PROCESSOR, supplied, logs, dict(processor_env or {}),
                             name=f"processor-{i + 2}")  # fmt: skip
                running.units.append(unit)
                spares.append(unit)
            pids = {
                name: proc.pid
                for name, proc in (
                    ("ingest", ingest.proc),
                    ("processor", consumer.proc if consumer is not None else None),
                    ("kafka", kafka.proc),
                    ("redis", redis.proc),
                    ("postgres", pg.proc),
                )
                if proc is not None
            }
            target = Target(ingest.url, issued.ingest_key, kafka.url, pids, logs)
            yield Platform(target, pg.url, str(issued.game_id), consumer, spares,
                           users_unit.url if users_unit is not None else None)  # fmt: skip
        finally:
            running.stop_all()
