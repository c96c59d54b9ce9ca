"""Reading back what reached a topic: every record up to its end, with no waiting on time.

The end is found through partition-EOF events, which come from fetch
responses. (Tansu answers ListOffsets with the base offset of the last
batch + 1, not the last record + 1, so get_watermark_offsets undercounts.)
"""

import time
import uuid

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from apps.core.events import StoredEvent, decode_stored, encode_stored
from apps.core.topics import EVENTS

Record = tuple[bytes | None, bytes, dict[str, bytes]]


def topic_with(bootstrap: str, prefix: str, partitions: int, records: list[StoredEvent]) -> str:
    """A new topic of `partitions` holding `records`, keyed by player as the API writes them."""
    topic = f"{prefix}-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(topic, partitions, 1)]).values():
        future.result(10)
    producer = Producer({"bootstrap.servers": bootstrap})
    for ev in records:
        producer.produce(topic, encode_stored(ev), ev.partition_key)
    if producer.flush(10):
        raise TimeoutError(f"records for {topic} not delivered within 10 s")
    return topic


def read_records(bootstrap: str, topic: str = EVENTS.name, timeout: float = 30) -> list[Record]:
    """Every record of the topic as (key, value, headers), all partitions read to their end."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"test-reader-{uuid.uuid4()}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "log_level": 3,
        }
    )
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        pending = set(partitions)
        out: list[Record] = []
        deadline = time.monotonic() + timeout
        while pending:
            if time.monotonic() > deadline:
                raise TimeoutError(f"partitions {sorted(pending)} of {topic} not read to the end")
            for msg in consumer.consume(1000, timeout=0.2):
                err = msg.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        pending.discard(msg.partition())
                        continue
                    raise RuntimeError(str(err))
                pending.add(msg.partition())  # more arrived after its EOF
                raw = msg.headers() or []
                pairs = raw.items() if isinstance(raw, dict) else raw
                headers = {k: v for k, v in pairs if isinstance(v, bytes)}
                out.append((msg.key(), msg.value() or b"", headers))
        return out
    finally:
        consumer.close()


def read_all(bootstrap: str, topic: str = EVENTS.name) -> list[tuple[bytes | None, bytes]]:
    return [(key, value) for key, value, _ in read_records(bootstrap, topic)]


def events_of_game(bootstrap: str, game_id: uuid.UUID | str) -> list[StoredEvent]:
    wanted = str(game_id).encode()
    return [
        decode_stored(value)
        for key, value in read_all(bootstrap)
        if key is not None and key.startswith(wanted)
    ]
