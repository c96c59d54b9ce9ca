"""Consumer-loop baseline: sentry-arroyo's StreamProcessor vs a batched confluent-kafka loop.

Why the processor is hand-written (docs/PIPELINE.md). Both loops read the same
records (StoredEvent MessagePack as the ingestion API produces them) from a fresh
Tansu broker and decode them; arroyo additionally batches with Reduce and
commits with CommitOffsets, as a processor built on it would.

    pip install sentry-arroyo   # pinned in constraints.txt; not a runtime dependency
    python benchmarks/consumer_loop.py [N] [batch|arroyo|both]
"""

import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from confluent_kafka import Consumer, Producer

from apps.core.events import SCHEMA_VERSION, StoredEvent, decode_stored, encode_stored
from apps.kafka.admin import ensure_topics
from apps.kafka.config import consumer_config, producer_config
from apps.local.process import free_port
from apps.local.servers import Tansu

N = int(sys.argv[1]) if len(sys.argv) > 1 else 300_000
d = Path(tempfile.mkdtemp())
k = Tansu("k", d / "k.log", port=free_port())
k.start()
ensure_topics(k.url, "local")
now = datetime.now(UTC)
value = encode_stored(
    StoredEvent(
        v=SCHEMA_VERSION,
        game_id=str(uuid.uuid4()),
        event_id=uuid.uuid4(),
        type="design",
        player_id="p1",
        session_id=None,
        event_time=now,
        client_time=now,
        received_at=now,
        platform="ios",
        country="DE",
        app_version="1.0",
        properties='{"a":1,"b":"xyz"}',
        duration_seconds=None,
        amount=None,
        currency=None,
        item_id=None,
        level=None,
        status=None,
    )
)
p = Producer(producer_config(k.url, client_id="probe"))
for i in range(N):
    while True:
        try:
            p.produce("gm.events.v1", value, b"g/p%d" % (i % 5000))
            break
        except BufferError:
            p.poll(0.01)
    if i % 10000 == 0:
        p.poll(0)
p.flush()
print("produced", N)


def batch_loop():
    c = Consumer({**consumer_config(k.url, group_id="batch", client_id="b"), "log_level": 3})
    c.subscribe(["gm.events.v1"])
    got = 0
    t0 = None
    while got < N:
        ms = c.consume(5000, 0.5)
        if ms and t0 is None:
            t0 = time.perf_counter()
        rows = [decode_stored(m.value()) for m in ms if m.error() is None]
        got += len(rows)
        if ms:
            c.commit(asynchronous=True)
    dt = time.perf_counter() - t0
    c.close()
    return got / dt


def arroyo_loop():
    from arroyo.backends.kafka import KafkaConsumer, KafkaPayload
    from arroyo.backends.kafka.configuration import build_kafka_consumer_configuration
    from arroyo.processing import StreamProcessor
    from arroyo.processing.strategies import (
        CommitOffsets,
        ProcessingStrategyFactory,
        Reduce,
        RunTask,
    )
    from arroyo.types import Topic

    state = {"got": 0, "t0": None}

    class F(ProcessingStrategyFactory[KafkaPayload]):
        def create_with_partitions(self, commit, partitions):
            def write(m):
                state["got"] += len(m.payload)
                if state["got"] >= N:
                    proc.signal_shutdown()
                return m.payload

            def decode(m):
                if state["t0"] is None:
                    state["t0"] = time.perf_counter()
                return decode_stored(m.payload.value)

            return RunTask(
                decode,
                Reduce(
                    5000,
                    0.5,
                    lambda acc, m: (acc.append(m.payload), acc)[1],
                    list,
                    RunTask(write, CommitOffsets(commit)),
                ),
            )

    conf = build_kafka_consumer_configuration(
        {
            "bootstrap.servers": k.url,
            "session.timeout.ms": 6000,
            "heartbeat.interval.ms": 1000,
            "max.poll.interval.ms": 30000,
        },
        auto_offset_reset="earliest",
        group_id="arroyo",
    )
    proc = StreamProcessor(KafkaConsumer(conf), Topic("gm.events.v1"), F())
    proc.run()
    return state["got"] / (time.perf_counter() - state["t0"])


which = sys.argv[2] if len(sys.argv) > 2 else "both"
if which in ("batch", "both"):
    print("batch consume+decode msgs/s", round(batch_loop()))
if which in ("arroyo", "both"):
    print("arroyo consume+decode msgs/s", round(arroyo_loop()))
k.stop(5)
