"""A whole pipeline of its own for a failure scenario: PostgreSQL, broker, senders, the check.

A scenario that kills servers gets its own PostgreSQL and broker, so the
processors under test are the only ones storing its game's events. Senders
post batches of fresh events concurrently and resend a batch, with the same
event ids, until it is acknowledged; at the end every acknowledged event must
be stored exactly once and the rollups must equal a recomputation.
"""

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
from confluent_kafka import Consumer, TopicPartition

from apps.core.topics import EVENTS
from apps.kafka.admin import ensure_topics
from apps.local.process import free_port
from apps.local.servers import EmbeddedPostgres, Tansu
from apps.store import games
from apps.store.migrate import migrate
from tests.conftest import GameKey
from tests.support.factory import batch, event
from tests.support.poll import poll_until
from tests.support.processes import alive, descendants
from tests.support.processor import ProcessorProcess
from tests.support.recompute import rollup_differences, stored_ids
from tests.support.servers import Endpoints
from tests.support.service_process import ServiceProcess


@dataclass
class Pipeline:
    pg: EmbeddedPostgres
    broker: Tansu
    redis_url: str
    game: GameKey
    logs: Path

    @property
    def endpoints(self) -> Endpoints:
        return Endpoints(self.pg.url, self.broker.url, self.redis_url)

    def stored(self) -> int:
        """Events of the game in `events`; -1 while PostgreSQL does not answer."""
        try:
            with psycopg.connect(self.pg.url, connect_timeout=2) as conn:
                row = conn.execute(
                    "SELECT count(*) FROM events WHERE game_id = %s", (self.game.game_id,)
                ).fetchone()
        except psycopg.OperationalError:
            return -1
        assert row is not None
        return int(row[0])


@contextmanager
def own_pipeline(
    base: Path, redis_url: str, pg_settings: dict[str, str] | None = None
) -> Iterator[Pipeline]:
    """Its own PostgreSQL (with `pg_settings`; fsync off unless they say otherwise) and broker,
    migrated, with the declared topics and one game."""
    pg = EmbeddedPostgres(
        "postgres", base / "pg.log", data_dir=base / "pg", port=free_port(),
        settings=pg_settings if pg_settings is not None else {"fsync": "off"},
    )  # fmt: skip
    broker = Tansu("kafka", base / "kafka.log", port=free_port())
    pg.start()
    try:
        broker.start()
        migrate(pg.url)
        ensure_topics(broker.url, "local")
        with psycopg.connect(pg.url) as conn:
            issued = games.create_game(conn, "scenario")
        yield Pipeline(pg, broker, redis_url, GameKey(issued.game_id, issued.ingest_key), base)
    finally:
        broker.stop(5)
        pg.stop(10)


def kill_postgres(pg: EmbeddedPostgres) -> None:
    """SIGKILL the postmaster and every backend at once, as a crash of the machine would:
    nothing is checkpointed or shut down cleanly; the next start runs crash recovery."""
    assert pg.proc is not None
    root = pg.proc.pid
    tree = [root, *descendants(root)]
    for pid in tree:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    pg.proc.wait(10)
    pg.proc = None
    poll_until(lambda: not any(alive(p) for p in tree), timeout=10, what="PostgreSQL to die")


@dataclass
class Senders:
    """`threads` clients posting batches of fresh events concurrently until stopped.

    A batch that is not answered 202 (refused, connection reset, timeout) is sent
    again with the same event ids until it is; at stop each client finishes the
    batch it holds, so every event ever sent was acknowledged once in the end.
    """

    url: str
    game: GameKey
    threads: int = 4
    size: int = 50
    accepted: list[str] = field(default_factory=list)
    refused: int = 0
    stop: threading.Event = field(default_factory=threading.Event)
    _workers: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> "Senders":
        for i in range(self.threads):
            worker = threading.Thread(target=self._run, args=(i,), daemon=True)
            worker.start()
            self._workers.append(worker)
        return self

    def _run(self, index: int) -> None:
        with httpx.Client(base_url=self.url, timeout=10) as client:
            n = 0
            while not self.stop.is_set():
                events = [
                    event(player_id=f"p{index}-{(n + i) % 53}", platform="ios")
                    for i in range(self.size)
                ]
                n += self.size
                while True:
                    try:
                        r = client.post("/v1/events", json=batch(*events), headers=self.game.auth)
                    except httpx.TransportError:
                        r = None
                    if r is not None and r.status_code == 202:
                        with self._lock:
                            self.accepted += [e["event_id"] for e in events]
                        break
                    with self._lock:
                        self.refused += 1
                    self.stop.wait(0.05)  # paced retries of the same batch

    def count(self) -> int:
        with self._lock:
            return len(self.accepted)

    def finish(self, timeout: float = 60) -> list[str]:
        self.stop.set()
        for worker in self._workers:
            worker.join(timeout)
            assert not worker.is_alive(), "a sender could not get its last batch acknowledged"
        return self.accepted


def everything_stored_once(
    pipeline: Pipeline, accepted: list[str], *processors: ProcessorProcess
) -> None:
    """Every accepted event is in `events` exactly once, nothing else is, and every rollup
    equals its recomputation from `events`."""
    poll_until(lambda: pipeline.stored() >= len(accepted), timeout=90, what="all events stored")
    for processor in processors:
        poll_until(processor.drained, timeout=30, what="the processors to catch up")
    ids = stored_ids(pipeline.pg.url, pipeline.game.game_id)
    assert len(ids) == len(set(ids)), "an event was stored twice"
    assert len(accepted) == len(set(accepted)), "the senders reused an event id"
    missing = set(accepted) - set(ids)
    extra = set(ids) - set(accepted)
    assert not missing, f"{len(missing)} acknowledged events were lost"
    assert not extra, f"{len(extra)} events stored that were never acknowledged"
    assert rollup_differences(pipeline.pg.url, pipeline.game.game_id) == {}


def committed_offsets(bootstrap: str, group: str, topic: str = EVENTS.name) -> dict[int, int]:
    """The group's committed offset of each partition of `topic` (negative: none yet)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        tps = consumer.committed([TopicPartition(topic, p) for p in partitions], timeout=10)
    finally:
        consumer.close()
    return {tp.partition: tp.offset for tp in tps}


def metric(processor: ProcessorProcess, name: str) -> float:
    """One sample of the processor's /metrics, by its name and labels as exported."""
    text = httpx.get(processor.url + "/metrics", timeout=5).text
    [line] = [m for m in text.splitlines() if m.startswith(name + " ")]
    return float(line.split()[-1])


def rows_stored(processor: ProcessorProcess) -> float:
    """The processor's own count of rows it stored for the first time."""
    return metric(processor, 'gm_processor_rows_total{outcome="stored"}')


class IngestProcess(ServiceProcess):
    """`gamemetrics serve ingest` as a child process on a fixed port, to be killed and restarted."""

    def __init__(self, endpoints: Endpoints, log_path: Path) -> None:
        env = {
            "GAMEMETRICS_POSTGRES_DSN": endpoints.postgres_dsn,
            "GAMEMETRICS_KAFKA_BOOTSTRAP": endpoints.kafka_bootstrap,
            "GAMEMETRICS_REDIS_URL": endpoints.redis_url,
            "GAMEMETRICS_DELIVERY_TIMEOUT_SECONDS": "3",
        }
        super().__init__("ingest", env, log_path, ready_path="/readyz")
