"""Consumer-loop baseline: sentry-arroyo's StreamProcessor vs a batched confluent-kafka loop.

Why the processor is hand-written (docs/PIPELINE.md). Both loops read the same
records (StoredEvent MessagePack as the ingestion API produces them) from a fresh
Tansu broker and decode them; arroyo additionally batches with Reduce and
commits with CommitOffsets, as a processor built on it would.

    pip install -c constraints.txt sentry-arroyo   # pinned there; not a runtime dependency
    python -m apps.bench.experiments.consumer_loop [N] [batch|arroyo|both]
"""

import tempfile
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from confluent_kafka import Consumer, Producer

from apps.bench.experiments import argument_parser
from apps.core.events import SCHEMA_VERSION, StoredEvent, decode_stored, encode_stored
from apps.core.topics import EVENTS
from apps.kafka.admin import ensure_topics
from apps.kafka.config import consumer_config, producer_config
from apps.local.process import free_port
from apps.local.servers import Tansu


def record() -> bytes:
    """One event as the ingestion API produces it."""
    now = datetime.now(UTC)
    return encode_stored(
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


def produce(url: str, n: int) -> None:
    value = record()
    p = Producer(producer_config(url, client_id="probe"))
    for i in range(n):
        while True:
            try:
                p.produce(EVENTS.name, value, b"g/p%d" % (i % 5000))
                break
            except BufferError:
                p.poll(0.01)
        if i % 10000 == 0:
            p.poll(0)
    p.flush()
    print("produced", n)


def batch_loop(url: str, n: int) -> float:
    """Messages/s of `consume(5000)` and decode, from the first message to the `n`th."""
    c = Consumer({**consumer_config(url, group_id="batch", client_id="b"), "log_level": 3})
    c.subscribe([EVENTS.name])
    got = 0
    t0: float | None = None
    while got < n:
        ms = c.consume(5000, 0.5)
        if ms and t0 is None:
            t0 = time.perf_counter()
        rows = [decode_stored(m.value() or b"") for m in ms if m.error() is None]
        got += len(rows)
        if ms:
            c.commit(asynchronous=True)
    assert t0 is not None  # n > 0 messages came
    dt = time.perf_counter() - t0
    c.close()
    return got / dt


def arroyo_loop(url: str, n: int) -> float:
    """The same through arroyo: decode (RunTask), batch (Reduce), count, CommitOffsets."""
    from arroyo.backends.kafka import KafkaConsumer, KafkaPayload
    from arroyo.backends.kafka.configuration import build_kafka_consumer_configuration
    from arroyo.processing import StreamProcessor
    from arroyo.processing.strategies import (
        CommitOffsets,
        ProcessingStrategy,
        ProcessingStrategyFactory,
        Reduce,
        RunTask,
    )
    from arroyo.types import BaseValue, Commit, Message, Partition, Topic

    got = 0
    t0: float | None = None

    # Without sentry-arroyo installed mypy sees its classes as Any (pyproject's overrides).
    class F(ProcessingStrategyFactory[KafkaPayload]):  # type: ignore[misc, unused-ignore]
        def create_with_partitions(
            self, commit: Commit, partitions: Mapping[Partition, int]
        ) -> ProcessingStrategy[KafkaPayload]:
            def write(m: Message[list[StoredEvent]]) -> list[StoredEvent]:
                nonlocal got
                batch: list[StoredEvent] = m.payload
                got += len(batch)
                if got >= n:
                    proc.signal_shutdown()
                return batch

            def decode(m: Message[KafkaPayload]) -> StoredEvent:
                nonlocal t0
                if t0 is None:
                    t0 = time.perf_counter()
                return decode_stored(m.payload.value)

            def append(acc: list[StoredEvent], m: BaseValue[StoredEvent]) -> list[StoredEvent]:
                acc.append(m.payload)
                return acc

            batches: Reduce[StoredEvent, list[StoredEvent]] = Reduce(
                5000, 0.5, append, list, RunTask(write, CommitOffsets(commit))
            )
            return RunTask(decode, batches)

    conf = build_kafka_consumer_configuration(
        {
            "bootstrap.servers": url,
            "session.timeout.ms": 6000,
            "heartbeat.interval.ms": 1000,
            "max.poll.interval.ms": 30000,
        },
        auto_offset_reset="earliest",
        group_id="arroyo",
    )
    proc = StreamProcessor(KafkaConsumer(conf), Topic(EVENTS.name), F())
    proc.run()
    assert t0 is not None  # n > 0 messages came
    return got / (time.perf_counter() - t0)


def main() -> None:
    parser = argument_parser(__file__, __doc__)
    parser.add_argument(
        "n",
        type=int,
        nargs="?",
        default=300_000,
        metavar="N",
        help="records produced, then read by each loop (default 300,000)",
    )
    parser.add_argument(
        "which",
        nargs="?",
        default="both",
        choices=("batch", "arroyo", "both"),
        help="the loops to run (default both)",
    )
    args = parser.parse_args()
    n: int = args.n
    if n <= 0:
        parser.error("N must be a positive integer")
    k = Tansu("k", Path(tempfile.mkdtemp()) / "k.log", port=free_port())
    k.start()
    try:
        ensure_topics(k.url, "local")
        produce(k.url, n)
        if args.which in ("batch", "both"):
            print("batch consume+decode msgs/s", round(batch_loop(k.url, n)))
        if args.which in ("arroyo", "both"):
            print("arroyo consume+decode msgs/s", round(arroyo_loop(k.url, n)))
    finally:
        k.stop(5)


if __name__ == "__main__":
    main()
