"""The local broker's CPU with a caught-up consumer: per fetch, growing with the log.

Why freshness at mid load is close to its limit in `gamemetrics bench pipeline`
(docs/benchmarks.md, "Where the time goes"). Starts a fresh Tansu (memory
storage), fills a 6-partition topic with `prefill` 200-byte records, then
measures the broker's CPU while a consumer keeps up with 20,000 records/s
produced in 100-record batches, with librdkafka's defaults and with
`fetch.min.bytes`, and while the consumer is caught up with nothing produced.

    python benchmarks/broker_fetch_cost.py [prefill]   # default 1,000,000
"""

import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from apps.local.process import free_port
from apps.local.servers import Tansu

TOPIC = "fetch-cost"
RATE = 20_000
SECONDS = 15
VALUE = os.urandom(100).hex().encode()


def broker_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().split()
    return (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")


def produce(producer: Producer, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        while True:
            try:
                producer.produce(TOPIC, VALUE, f"p{i % 20_000}".encode())
                break
            except BufferError:
                producer.poll(0.01)
        if i % 100 == 99:
            producer.poll(0)


def measure(url: str, pid: int, producer: Producer, label: str, extra: dict[str, Any],
            rate: int) -> None:  # fmt: skip
    consumer = Consumer({
        "bootstrap.servers": url, "group.id": f"fetch-cost-{time.monotonic_ns()}",
        "enable.auto.commit": False, "auto.offset.reset": "latest",
        "session.timeout.ms": 6000,  # Tansu: with the 45 s default it had not joined 20 s later
        **extra,
    })  # fmt: skip
    consumer.subscribe([TOPIC])
    stop, got = threading.Event(), [0]

    def consume() -> None:
        while not stop.is_set():
            got[0] += len(consumer.consume(5000, 0.1))

    thread = threading.Thread(target=consume)
    thread.start()
    time.sleep(5)  # joined and caught up
    started, cpu0, got0, sent = time.monotonic(), broker_seconds(pid), got[0], 0
    while (elapsed := time.monotonic() - started) < SECONDS:
        while sent < int(elapsed * rate):
            produce(producer, 100, sent)
            sent += 100
        time.sleep(0.005)
    producer.flush()
    elapsed = time.monotonic() - started
    cores = (broker_seconds(pid) - cpu0) / elapsed
    print(f"{label:<40} broker {cores:.2f} cores; produced {sent / elapsed:>8,.0f}/s, "
          f"consumed {(got[0] - got0) / elapsed:>8,.0f}/s", flush=True)  # fmt: skip
    stop.set()
    thread.join()
    consumer.close()


def main() -> None:
    prefill = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    logs = Path(tempfile.mkdtemp(prefix="broker-fetch-cost-"))
    broker = Tansu("kafka", logs / "kafka.log", port=free_port())
    broker.start()
    assert broker.proc is not None
    try:
        admin = AdminClient({"bootstrap.servers": broker.url})
        for future in admin.create_topics([NewTopic(TOPIC, 6, 1)]).values():
            future.result()
        producer = Producer({"bootstrap.servers": broker.url, "acks": "all",
                             "enable.idempotence": True, "linger.ms": 2})  # fmt: skip
        produce(producer, prefill)
        producer.flush()
        print(f"log: {prefill:,} records in 6 partitions")
        pid = broker.proc.pid
        measure(broker.url, pid, producer, f"caught up at {RATE:,}/s, defaults", {}, RATE)
        measure(broker.url, pid, producer, f"caught up at {RATE:,}/s, fetch.min.bytes 256k",
                {"fetch.min.bytes": 262_144, "fetch.wait.max.ms": 100}, RATE)  # fmt: skip
        measure(broker.url, pid, producer, "caught up, nothing produced", {}, 0)
    finally:
        broker.stop(10)


if __name__ == "__main__":
    main()
