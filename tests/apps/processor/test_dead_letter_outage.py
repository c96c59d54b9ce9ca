"""A poison record arrives while the dead-letter topic cannot be written.

The broker is reached through a proxy that cuts off the processor's
dead-letter producer (client.id `processor-dlq`) while the consumer goes on
as before. The processor must neither commit past the poison record nor drop
it, and must stay up; once the dead-letter topic takes writes again, the
record lands there and its partition flows.
"""

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Message, Producer, TopicPartition

from apps.core.events import StoredEvent, encode_stored
from apps.core.topics import EVENTS, EVENTS_DLQ
from apps.kafka.admin import ensure_topics
from tests.conftest import GameKey
from tests.support.brokers import CustomTansu
from tests.support.factory import stored_event
from tests.support.kafka_proxy import KafkaProxy, proxied_broker
from tests.support.poll import poll_until
from tests.support.processor import processor_settings, processor_thread
from tests.support.recompute import stored_ids
from tests.support.servers import Endpoints
from tests.support.topic import read_records

DLQ_CLIENT = "processor-dlq"
GROUP = f"dlq-outage-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[tuple[CustomTansu, KafkaProxy]]:
    broker, proxy = proxied_broker(tmp_path / "kafka.log")
    try:
        ensure_topics(broker.url, "local")
        yield broker, proxy
    finally:
        broker.stop(5)
        proxy.close()


def produce(bootstrap: str, key: bytes, values: list[bytes]) -> list[tuple[int, int]]:
    """Produce `values` under `key` (one partition, in order); their (partition, offset)."""
    offsets: list[tuple[int, int]] = []

    def delivered(err: object, msg: Message) -> None:
        assert err is None, err
        offsets.append((msg.partition() or 0, msg.offset() or 0))

    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    for value in values:
        producer.produce(EVENTS.name, value, key, on_delivery=delivered)
    assert producer.flush(10) == 0
    return offsets


def committed(bootstrap: str, partition: int) -> int:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": GROUP})
    try:
        [tp] = consumer.committed([TopicPartition(EVENTS.name, partition)], timeout=10)
    finally:
        consumer.close()
    offset: int = tp.offset
    return offset


def events_of(game: GameKey, player: str, n: int) -> list[StoredEvent]:
    return [stored_event(game.game_id, player) for _ in range(n)]


@pytest.mark.slow
def test_poison_waits_for_the_dead_letter_topic_then_lands_and_the_partition_flows(
    endpoints: Endpoints, game: GameKey, broker: tuple[CustomTansu, KafkaProxy]
) -> None:
    tansu, proxy = broker
    dsn, url = endpoints.postgres_dsn, tansu.url
    player = "poisoned"
    key = f"{game.game_id}/{player}".encode()
    settings = processor_settings(dsn, url, group_id=GROUP)
    first, second, third = (
        events_of(game, player, 5),
        events_of(game, player, 5),
        events_of(game, player, 5),
    )

    def stored() -> set[str]:
        return set(stored_ids(dsn, game.game_id))

    def ids(events: list[StoredEvent]) -> set[str]:
        return {str(e.event_id) for e in events}

    def letters() -> list[dict[str, bytes]]:
        return [h for k, _, h in read_records(url, EVENTS_DLQ.name, timeout=10) if k == key]

    with processor_thread(settings) as running:
        produce(url, key, [encode_stored(e) for e in first])
        poll_until(lambda: ids(first) <= stored(), timeout=30, what="the first events stored")

        proxy.block(DLQ_CLIENT)
        offsets = produce(url, key, [b"\x93not a record", *(encode_stored(e) for e in second)])
        partition, poison = offsets[0]
        failures = running.metrics.dead_letter_failures
        poll_until(lambda: failures._value.get() >= 2, timeout=30, what="two failed sends")
        # Blocked on the poison record: nothing committed past it, the processor alive.
        assert committed(url, partition) <= poison
        assert proxy.refused_count(DLQ_CLIENT) > 0
        assert time.monotonic() - running.processor.heartbeat < 5, "the processor is stuck"
        assert letters() == []

        proxy.unblock(DLQ_CLIENT)
        poll_until(lambda: letters() != [], timeout=30, what="the poison dead-lettered")
        [letter, *again] = letters()
        assert letter["gm-source-offset"] == str(poison).encode()
        assert letter["gm-dlq-code"] == b"undecodable"
        assert all(h["gm-source-offset"] == str(poison).encode() for h in again)
        poll_until(lambda: committed(url, partition) > poison, timeout=30, what="a commit past it")
        produce(url, key, [encode_stored(e) for e in third])
        poll_until(
            lambda: ids(first + second + third) == stored(), timeout=30, what="the rest stored"
        )
    assert running.metrics.dead_letters.labels("undecodable")._value.get() >= 1
