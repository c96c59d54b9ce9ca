"""Real servers for tests: the project's own embedded servers, and the ingestion API on uvicorn."""

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

import uvicorn

from apps.core.settings.ingest import IngestSettings
from apps.ingest.app import create_app
from apps.local.process import free_port


@dataclass(frozen=True)
class Endpoints:
    postgres_dsn: str
    kafka_bootstrap: str
    redis_url: str


class UvicornThread:
    """An ASGI app served over real HTTP on loopback, from a thread of the test process."""

    def __init__(self, app: object, port: int) -> None:
        config = uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", access_log=False,  # type: ignore[arg-type]
            loop="asyncio", timeout_graceful_shutdown=2,
        )  # fmt: skip
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.port = port
        self.url = f"http://127.0.0.1:{port}"

    def start(self, timeout: float = 30) -> None:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("ingest server did not start")
            time.sleep(0.01)

    def stop(self, timeout: float = 10) -> None:
        """Shut the server down and prove it: the thread ended and the port is closed."""
        self.server.should_exit = True
        self.thread.join(timeout)
        assert not self.thread.is_alive(), f"the server at {self.url} did not stop in {timeout} s"
        with socket.socket() as probe:
            refused = probe.connect_ex(("127.0.0.1", self.port)) != 0
        assert refused, f"{self.url} still accepts connections after the server stopped"


def ingest_settings(endpoints: Endpoints, **overrides: object) -> IngestSettings:
    base = IngestSettings(
        postgres_dsn=endpoints.postgres_dsn,
        kafka_bootstrap=endpoints.kafka_bootstrap,
        redis_url=endpoints.redis_url,
        delivery_timeout=timedelta(seconds=3),
    )
    return replace(base, **overrides)  # type: ignore[arg-type]


@contextmanager
def serving(app: object, port: int | None = None) -> Iterator[UvicornThread]:
    """An app served by uvicorn in a thread of the test, on `port` or a free one."""
    server = UvicornThread(app, port or free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


def running_ingest(
    settings: IngestSettings, port: int | None = None
) -> AbstractContextManager[UvicornThread]:
    return serving(create_app(settings), port)


def log_dir(base: Path) -> Path:
    path = base / "logs"
    path.mkdir(parents=True, exist_ok=True)
    return path
