"""Reading back what reached a topic, and how far a consumer group got, with no waiting on time.

The end is found through partition-EOF events, which come from fetch
responses. (Tansu answers ListOffsets with the base offset of the last
batch + 1, not the last record + 1, so get_watermark_offsets undercounts.)
How far a group got is its committed offsets, compared with the offsets the
broker acknowledged for records produced here (markers, replays).
"""

import time
import uuid

from confluent_kafka import Consumer, KafkaError, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from apps.core.events import StoredEvent, decode_stored, encode_stored
from apps.core.topics import EVENTS
from tests.support.factory import stored_event

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


def start_group_at_end(bootstrap: str, topic: str, group: str) -> None:
    """Commit, for a new consumer group, the current end of every partition of `topic`.

    Tansu's end may lie inside the last batch (see above): the group then
    reads that batch's tail again, which storage absorbs as duplicates.
    """
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "log_level": 3})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        ends = []
        for p in partitions:
            _, end = consumer.get_watermark_offsets(TopicPartition(topic, p), 10)
            ends.append(TopicPartition(topic, p, end))
        consumer.commit(offsets=ends, asynchronous=False)
    finally:
        consumer.close()


def committed(bootstrap: str, topic: str, group: str) -> dict[int, int]:
    """The offsets `group` committed on `topic`, by partition (-1001: none yet)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "log_level": 3})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        found = consumer.committed([TopicPartition(topic, p) for p in partitions], timeout=10)
        return {tp.partition: tp.offset for tp in found}
    finally:
        consumer.close()


def mark_partitions(bootstrap: str, topic: str = EVENTS.name) -> dict[int, int]:
    """Put one marker record (a valid event of a game of its own) at the end of every
    partition of `topic`; returns the offset of each marker by partition."""
    producer = Producer({"bootstrap.servers": bootstrap})
    partitions = producer.list_topics(topic, timeout=10).topics[topic].partitions
    marker = stored_event(uuid.uuid4(), "marker")
    offsets: dict[int, int] = {}

    def delivered(err: KafkaError | None, msg: Message) -> None:
        if err is None and msg.offset() is not None:
            offsets[msg.partition() or 0] = msg.offset() or 0

    for p in partitions:
        producer.produce(topic, encode_stored(marker), marker.partition_key, partition=p,
                         on_delivery=delivered)  # fmt: skip
        marker = stored_event(uuid.UUID(marker.game_id), "marker")
    if producer.flush(10) or len(offsets) != len(partitions):
        raise TimeoutError(f"markers for {topic} not acknowledged within 10 s")
    return offsets


def consumed_past(bootstrap: str, topic: str, group: str, offsets: dict[int, int]) -> bool:
    """Whether `group` committed, on every partition named, an offset beyond the one given."""
    done = committed(bootstrap, topic, group)
    return all(done.get(p, -1) > offset for p, offset in offsets.items())
