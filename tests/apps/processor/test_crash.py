"""Crash tests: while events stream in, the processor is SIGKILLed, or PostgreSQL stops.

Each test has its own PostgreSQL and broker, so the processor under test is
the only one storing the game's events. At the end every accepted event is
in `events` exactly once and the rollups equal a recomputation.
"""

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import pytest

from apps.kafka.admin import ensure_topics
from apps.local.process import free_port
from apps.local.servers import EmbeddedPostgres, Tansu
from apps.store import games
from apps.store.migrate import migrate
from tests.conftest import GameKey
from tests.support.factory import batch, event
from tests.support.poll import poll_until
from tests.support.processor import ProcessorProcess, processor_settings
from tests.support.recompute import rollup_differences, stored_ids
from tests.support.servers import Endpoints, UvicornThread, ingest_settings, running_ingest


@dataclass
class Stack:
    pg: EmbeddedPostgres
    broker: Tansu
    ingest: UvicornThread
    game: GameKey
    processor: ProcessorProcess

    def stored(self) -> int:
        try:
            with psycopg.connect(self.pg.url, connect_timeout=2) as conn:
                row = conn.execute(
                    "SELECT count(*) FROM events WHERE game_id = %s", (self.game.game_id,)
                ).fetchone()
        except psycopg.OperationalError:
            return -1
        assert row is not None
        return int(row[0])


@pytest.fixture
def stack(tmp_path: Path, endpoints: Endpoints) -> Iterator[Stack]:
    pg = EmbeddedPostgres(
        "postgres", tmp_path / "pg.log", data_dir=tmp_path / "pg", port=free_port(),
        settings={"fsync": "off"},
    )  # fmt: skip
    broker = Tansu("kafka", tmp_path / "kafka.log", port=free_port())
    pg.start()
    broker.start()
    migrate(pg.url)
    ensure_topics(broker.url, "local")
    with psycopg.connect(pg.url) as conn:
        issued = games.create_game(conn, "crash-test")
    game = GameKey(issued.game_id, issued.ingest_key)
    settings = ingest_settings(endpoints, postgres_dsn=pg.url, kafka_bootstrap=broker.url)
    processor = ProcessorProcess(
        processor_settings(pg.url, broker.url, max_batch=500), tmp_path / "processor.log"
    )
    try:
        with running_ingest(settings) as ingest:
            processor.start()
            yield Stack(pg, broker, ingest, game, processor)
    finally:
        processor.stop()
        broker.stop(5)
        pg.stop(10)


@dataclass
class Sender:
    """Posts batches of fresh events until stopped; a refused batch is resent as is."""

    url: str
    game: GameKey
    accepted: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def start(self) -> "Sender":
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=10) as client:
            n = 0
            while not self.stop.is_set():
                events = [event(player_id=f"p{(n + i) % 97}") for i in range(50)]
                n += 50
                while not self.stop.is_set():
                    try:
                        r = client.post("/v1/events", json=batch(*events), headers=self.game.auth)
                    except httpx.TransportError:
                        continue
                    if r.status_code == 202:
                        self.accepted += [e["event_id"] for e in events]
                        break

    def finish(self) -> list[str]:
        self.stop.set()
        assert self.thread is not None
        self.thread.join(30)
        assert not self.thread.is_alive(), "the sender did not stop within 30 s"
        return self.accepted


def _everything_stored_once(stack: Stack, accepted: list[str]) -> None:
    poll_until(lambda: stack.stored() >= len(accepted), timeout=90, what="all events stored")
    poll_until(stack.processor.drained, timeout=30, what="the processor to catch up")
    ids = stored_ids(stack.pg.url, stack.game.game_id)
    assert len(ids) == len(set(ids)), "an event was stored twice"
    assert set(ids) == set(accepted), "stored events differ from the accepted ones"
    assert rollup_differences(stack.pg.url, stack.game.game_id) == {}


@pytest.mark.slow
def test_processor_killed_repeatedly_loses_and_doubles_nothing(stack: Stack) -> None:
    sender = Sender(stack.ingest.url, stack.game).start()
    for _ in range(3):
        target = max(stack.stored(), 0) + 500
        poll_until(lambda: stack.stored() >= target, timeout=60, what="progress")  # noqa: B023
        stack.processor.kill()
        stack.processor.start()
    accepted = sender.finish()
    assert len(accepted) >= 1500
    _everything_stored_once(stack, accepted)


@pytest.mark.slow
def test_postgres_stopped_and_restarted_mid_stream(stack: Stack) -> None:
    sender = Sender(stack.ingest.url, stack.game).start()
    poll_until(lambda: stack.stored() >= 500, timeout=60, what="progress")
    stack.pg.stop(10)
    # Ingestion goes on (keys are cached; Kafka holds the events) while the processor waits.
    during = len(sender.accepted)
    poll_until(
        lambda: len(sender.accepted) >= during + 500, timeout=60, what="ingestion during the outage"
    )
    stack.pg.start()
    poll_until(lambda: stack.stored() > 0, timeout=60, what="PostgreSQL back")
    accepted = sender.finish()
    _everything_stored_once(stack, accepted)
