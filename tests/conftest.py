"""Session-wide real servers (embedded PostgreSQL, Tansu, Redis, S3) and per-test isolation
by game (by bucket or key prefix for S3)."""

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest

from apps.kafka.admin import ensure_topics
from apps.local.process import free_port
from apps.local.servers import EmbeddedPostgres, EmbeddedRedis, EmbeddedS3, Tansu
from apps.store import games
from apps.store.migrate import migrate
from tests.support.servers import Endpoints, UvicornThread, ingest_settings, log_dir, running_ingest

# Test data is disposable: skip fsync for speed (no test crashes PostgreSQL itself).
_PG_TEST_SETTINGS = {"fsync": "off", "full_page_writes": "off", "synchronous_commit": "off"}


@pytest.fixture(scope="session")
def endpoints(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Endpoints]:
    base = tmp_path_factory.mktemp("servers")
    logs = log_dir(base)
    pg = EmbeddedPostgres(
        "postgres", logs / "postgres.log", data_dir=base / "pg", port=free_port(),
        settings=_PG_TEST_SETTINGS,
    )  # fmt: skip
    kafka = Tansu("kafka", logs / "kafka.log", port=free_port())
    redis = EmbeddedRedis("redis", logs / "redis.log", data_dir=base / "redis", port=free_port())
    started: list[EmbeddedPostgres | Tansu | EmbeddedRedis] = []
    try:
        for server in (pg, kafka, redis):
            server.start()
            started.append(server)
        migrate(pg.url)
        ensure_topics(kafka.url, "local")
        yield Endpoints(pg.url, kafka.url, redis.url)
    finally:
        for server in reversed(started):
            server.stop(10)


@pytest.fixture(scope="session")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedS3]:
    """The local S3 store (SeaweedFS), started once, and only in sessions with a test that
    asks for it (about 4 s); tests isolate by bucket or key prefix."""
    base = tmp_path_factory.mktemp("s3")
    store = EmbeddedS3("s3", log_dir(base) / "s3.log", data_dir=base / "data", port=free_port())
    store.start()
    try:
        yield store
    finally:
        store.stop(10)


@pytest.fixture(scope="session")
def ingest(endpoints: Endpoints) -> Iterator[UvicornThread]:
    """The ingestion API on real HTTP, shared by the session (tests isolate by game)."""
    with running_ingest(ingest_settings(endpoints)) as server:
        yield server


@pytest.fixture(scope="session")
def analytics(endpoints: Endpoints) -> Iterator[UvicornThread]:
    """The analytics API on real HTTP (local stack: GraphiQL on), shared by the session."""
    # Imported here: only the tests that use it pay for importing strawberry.
    from tests.support.analytics import analytics_settings, running_analytics

    with running_analytics(analytics_settings(endpoints)) as server:
        yield server


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[Tansu]:
    """A broker of the test's own, to stop and start (it comes back empty)."""
    broker = Tansu("kafka", tmp_path / "kafka.log", port=free_port())
    broker.start()
    ensure_topics(broker.url, "local")
    yield broker
    broker.stop(5)


@dataclass(frozen=True)
class GameKey:
    game_id: uuid.UUID
    key: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


def new_game(dsn: str, **kwargs: int) -> GameKey:
    with psycopg.connect(dsn) as conn:
        issued = games.create_game(conn, f"test-{uuid.uuid4().hex[:8]}", **kwargs)
    return GameKey(issued.game_id, issued.ingest_key)


@pytest.fixture
def game(endpoints: Endpoints) -> GameKey:
    return new_game(endpoints.postgres_dsn)


@pytest.fixture
def client(ingest: UvicornThread) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=ingest.url, timeout=15) as c:
        yield c
