"""What a benchmark measures: a platform it starts itself, or one already running.

The own platform is the one `gamemetrics dev` runs, in a temporary folder:
embedded PostgreSQL, Tansu and Redis, migrations, topics, then each service
as a separate process through `ServiceUnit`, and a game whose rate limit is
too high to interfere.
"""

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from apps.core import services
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


@contextlib.contextmanager
def own_platform(say: Callable[[str], None], *, workers: int = 1) -> Iterator[Target]:
    """Start the platform in a temporary folder; stop everything and delete it on exit."""
    import psycopg

    from apps.store.games import create_game
    from apps.store.migrate import migrate

    with tempfile.TemporaryDirectory(
        prefix="gamemetrics-bench-", ignore_cleanup_errors=True
    ) as folder:
        base = Path(folder)
        logs = base / "logs"
        pg = EmbeddedPostgres(
            "postgres", logs / "postgres.log", data_dir=base / "pg", port=process.free_port()
        )
        kafka = Tansu("kafka", logs / "kafka.log", port=process.free_port())
        redis = EmbeddedRedis(
            "redis", logs / "redis.log", data_dir=base / "redis", port=process.free_port()
        )
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
            env = {
                **os.environ,
                "GAMEMETRICS_STACK": "local",
                "GAMEMETRICS_POSTGRES_DSN": pg.url,
                "GAMEMETRICS_KAFKA_BOOTSTRAP": kafka.url,
                "GAMEMETRICS_REDIS_URL": redis.url,
            }
            service = services.INGEST
            port = process.free_port()
            prefix = f"GAMEMETRICS_{service.name.upper()}"
            unit = ServiceUnit(
                service,
                port,
                {
                    **env,
                    f"{prefix}_PORT": str(port),
                    f"{prefix}_HOST": "127.0.0.1",
                    f"{prefix}_WORKERS": str(workers),
                },
                logs / f"{service.name}.log",
            )
            say(f"starting {service.name} service on port {port} ({workers} worker processes)...")
            unit.start()
            running.units.append(unit)
            pids = {
                name: proc.pid
                for name, proc in (
                    ("ingest", unit.proc),
                    ("kafka", kafka.proc),
                    ("redis", redis.proc),
                    ("postgres", pg.proc),
                )
                if proc is not None
            }
            yield Target(unit.url, issued.ingest_key, kafka.url, pids, logs)
        finally:
            running.stop_all()
