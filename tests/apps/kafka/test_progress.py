"""The end offsets a privacy job waits for are exact on the real broker (Tansu answers
ListOffsets short of the end: the job must not), and a group is behind until it commits
past them."""

import threading
import uuid
from dataclasses import replace
from typing import Any

from confluent_kafka import Consumer, Producer, TopicPartition

from apps.kafka.progress import Progress, behind
from tests.support.poll import poll_until
from tests.support.servers import Endpoints
from tests.support.topic import read_records, topic_with
from tests.support.users import users_settings


def test_end_offsets_count_every_record_and_a_group_is_behind_until_it_commits(
    endpoints: Endpoints,
) -> None:
    bootstrap = endpoints.kafka_bootstrap
    topic = topic_with(bootstrap, "progress", 3, [])
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 50})
    for round_ in range(4):  # several batches per partition, the last one of many records
        for i in range(40 * (round_ + 1)):
            producer.produce(topic, b"x", f"g/player-{i}".encode())
        assert producer.flush(10) == 0
    counts: dict[int, int] = {}
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "reader"})
    for p in range(3):
        _lo, hi = consumer.get_watermark_offsets(TopicPartition(topic, p), 10)
        counts[p] = hi
    consumer.close()
    group = f"progress-{uuid.uuid4().hex[:8]}"
    settings = replace(users_settings(endpoints), events_topic=topic, processor_group=group)
    progress = Progress(settings, "test-progress")

    ends = progress.end_offsets()
    assert sum(ends.values()) == len(read_records(bootstrap, topic)) == 400
    assert all(ends[p] >= counts[p] for p in counts)  # ListOffsets may say less, never more
    assert behind(ends, progress.committed(ends)) == {p: n + 1 for p, n in ends.items() if n}

    committer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    almost = {p: n - 1 for p, n in ends.items()}
    committer.commit(
        offsets=[TopicPartition(topic, p, n) for p, n in almost.items()], asynchronous=False
    )
    assert behind(ends, progress.committed(ends)) == {p: 1 for p, n in ends.items() if n}
    committer.commit(
        offsets=[TopicPartition(topic, p, n) for p, n in ends.items()], asynchronous=False
    )
    committer.close()
    assert behind(ends, progress.committed(ends)) == {}


def test_end_offsets_answer_while_producers_keep_writing(endpoints: Endpoints) -> None:
    """Under load the end moves while it is read: one fetch per partition is enough, and
    the end it gives lies between what was acknowledged before the call and after it."""
    bootstrap = endpoints.kafka_bootstrap
    topic = topic_with(bootstrap, "progress-load", 2, [])
    acked = {0: 0, 1: 0}
    stop = threading.Event()

    def produce() -> None:
        producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})

        def delivered(err: object, msg: Any) -> None:
            if err is None:
                acked[msg.partition()] = max(acked[msg.partition()], msg.offset() + 1)

        i = 0
        while not stop.is_set():
            producer.produce(topic, b"x" * 200, f"g/p{i}".encode(), on_delivery=delivered)
            i += 1
            if i % 500 == 0:
                producer.flush(10)
        producer.flush(10)

    writer = threading.Thread(target=produce, daemon=True)
    writer.start()
    try:
        poll_until(lambda: min(acked.values()) > 2000, timeout=30, what="records on the topic")
        settings = replace(users_settings(endpoints), events_topic=topic)
        before = dict(acked)
        ends = Progress(settings, "test-progress", timeout=10).end_offsets()
        after = dict(acked)
    finally:
        stop.set()
        writer.join(30)
    for p in (0, 1):
        assert before[p] <= ends[p] <= after[p] + 10_000, (p, before, ends, after)
