"""What the local broker (Tansu, memory storage) costs, and the settings that tame it.

Why the producers linger 10 ms, consumers wait at most 250 ms per fetch
(`apps/kafka/config.py`) and the local events topic has 2 partitions
(docs/benchmarks.md, "The local broker").

1. Delivery latency: a caught-up consumer, one record produced every 50 ms;
   the time from produce to receipt with `fetch.wait.max.ms` 500 (librdkafka's
   default), 250 (ours), 100 and 20. Tansu answers a fetch only after sleeping part
   of its wait, even when records are there.
2. The broker's CPU, window by window, while two producers (as two API workers)
   write `rate` records/s in 100-record requests and a consumer keeps up, for
   (linger, partitions) pairs: each batch fetched costs a walk over every batch
   the partition holds, so the CPU grows with the log, and with the number of
   batches, which lingering and fewer partitions cut.

    python -m apps.bench.experiments.local_broker [--rate 25000] [--windows 5]
        [--configs 2x6,10x6,10x2] [--waits 500,250,100,20]
"""

import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from apps.bench.experiments import argument_parser
from apps.bench.procstat import process_cpu
from apps.local.process import free_port
from apps.local.servers import Tansu

VALUE = os.urandom(200).hex().encode()
WINDOW_SECONDS = 10


def fresh_broker() -> Tansu:
    broker = Tansu("kafka", Path(tempfile.mkdtemp()) / "kafka.log", port=free_port())
    broker.start()
    return broker


def create_topic(url: str, partitions: int) -> None:
    admin = AdminClient({"bootstrap.servers": url})
    for future in admin.create_topics([NewTopic("t", partitions, 1)]).values():
        future.result()


def joined_consumer(url: str, **extra: object) -> Consumer:
    consumer = Consumer(
        {
            "bootstrap.servers": url,
            "group.id": f"g{time.monotonic_ns()}",
            "enable.auto.commit": False,
            "auto.offset.reset": "latest",
            # With the 45 s default a new member had not joined 20 s later.
            "session.timeout.ms": 6000,
            **extra,
        }
    )
    consumer.subscribe(["t"])
    deadline = time.monotonic() + 20
    while not consumer.assignment() and time.monotonic() < deadline:
        consumer.poll(0.1)
    consumer.poll(1.0)  # positions resolved, first fetch outstanding
    return consumer


def delivery_latency(waits: list[int]) -> None:
    broker = fresh_broker()
    try:
        create_topic(broker.url, 2)
        producer = Producer({"bootstrap.servers": broker.url, "linger.ms": 0, "acks": "all"})
        for wait_ms in waits:
            consumer = joined_consumer(broker.url, **{"fetch.wait.max.ms": wait_ms})
            latencies: list[float] = []

            def receive(c: Consumer = consumer, out: list[float] = latencies) -> None:
                deadline = time.monotonic() + 30
                while len(out) < 40 and time.monotonic() < deadline:
                    msg = c.poll(0.5)
                    if msg is not None and msg.error() is None:
                        out.append(time.time() - float(msg.value() or b"0"))

            thread = threading.Thread(target=receive)
            thread.start()
            for i in range(40):
                producer.produce("t", str(time.time()).encode(), str(i).encode())
                producer.flush()
                time.sleep(0.05)
            thread.join()
            consumer.close()
            q = statistics.quantiles(latencies, n=10)
            print(
                f"fetch.wait.max.ms {wait_ms:>3}: produce -> receive p50 "
                f"{statistics.median(latencies) * 1000:.0f} ms, p90 {q[8] * 1000:.0f} ms, "
                f"max {max(latencies) * 1000:.0f} ms ({len(latencies)} records)",
                flush=True,
            )
    finally:
        broker.stop(10)


def broker_cpu(linger_ms: float, partitions: int, rate: int, windows: int) -> None:
    broker = fresh_broker()
    assert broker.proc is not None
    pid = broker.proc.pid
    try:
        create_topic(broker.url, partitions)
        producers = [
            Producer(
                {
                    "bootstrap.servers": broker.url,
                    "acks": "all",
                    "enable.idempotence": True,
                    "compression.type": "lz4",
                    "linger.ms": linger_ms,
                }
            )
            for _ in range(2)
        ]
        consumer = joined_consumer(broker.url, **{"fetch.wait.max.ms": 100})
        stop, got = threading.Event(), [0]

        def consume() -> None:
            while not stop.is_set():
                got[0] += len(consumer.consume(5000, 0.1))

        thread = threading.Thread(target=consume)
        thread.start()
        started = window = time.monotonic()
        cpu, seen, sent, request = process_cpu(pid), 0, 0, 0
        while (elapsed := time.monotonic() - started) < WINDOW_SECONDS * windows:
            while sent < int(elapsed * rate):
                producer = producers[request % 2]
                request += 1
                for i in range(sent, sent + 100):
                    producer.produce("t", VALUE, f"p{i % 20_000}".encode())
                producer.poll(0)
                sent += 100
            if (now := time.monotonic()) - window >= WINDOW_SECONDS:
                now_cpu = process_cpu(pid)
                print(
                    f"linger {linger_ms:g} ms, {partitions} partitions: {sent:>9,} records "
                    f"in the log; broker {(now_cpu - cpu) / (now - window):.2f} cores, "
                    f"consumed {(got[0] - seen) / (now - window):,.0f}/s",
                    flush=True,
                )
                window, cpu, seen = now, now_cpu, got[0]
            time.sleep(0.002)
        for producer in producers:
            producer.flush()
        stop.set()
        thread.join()
        consumer.close()
    finally:
        broker.stop(10)


def main() -> None:
    parser = argument_parser(__file__, __doc__)
    parser.add_argument("--rate", type=int, default=25_000, help="records/s produced (25,000)")
    parser.add_argument("--windows", type=int, default=5, help="10 s windows per config (5)")
    parser.add_argument(
        "--configs",
        default="2x6,10x6,10x2",
        help="LINGER_MSxPARTITIONS pairs, comma-separated (2x6,10x6,10x2)",
    )
    parser.add_argument(
        "--waits", default="500,250,100,20", help="fetch.wait.max.ms values (500,250,100,20)"
    )
    args = parser.parse_args()
    delivery_latency([int(w) for w in args.waits.split(",") if w])
    for pair in filter(None, args.configs.split(",")):
        linger, partitions = pair.split("x")
        broker_cpu(float(linger), int(partitions), args.rate, args.windows)


if __name__ == "__main__":
    main()
