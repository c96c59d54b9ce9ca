"""How long after `resume` a paused, caught-up consumer gets its next record from Tansu.

Why the processor does not pause its partitions between batches to fetch less
(docs/benchmarks.md, "Where the time goes"). A producer writes about 500
records/s; 40 times, the consumer pauses its partitions for 0.1 s, resumes,
and the time to its first record is taken.

    python -m apps.bench.experiments.resume_latency
"""

import statistics
import tempfile
import threading
import time
from pathlib import Path

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from apps.bench.experiments import argument_parser
from apps.kafka.config import consumer_config, producer_config
from apps.local.process import free_port
from apps.local.servers import Tansu


def main() -> None:
    argument_parser(__file__, __doc__).parse_args()
    broker = Tansu("kafka", Path(tempfile.mkdtemp()) / "kafka.log", port=free_port())
    broker.start()
    try:
        admin = AdminClient({"bootstrap.servers": broker.url})
        for future in admin.create_topics([NewTopic("resume", 6, 1)]).values():
            future.result()
        producer = Producer(producer_config(broker.url, client_id="resume"))
        stop = threading.Event()

        def produce() -> None:
            i = 0
            while not stop.is_set():
                producer.produce("resume", b"x" * 200, f"k{i}".encode())
                producer.poll(0)
                i += 1
                time.sleep(0.002)
            producer.flush()

        thread = threading.Thread(target=produce)
        thread.start()
        config = consumer_config(broker.url, group_id="resume", client_id="resume")
        consumer = Consumer({**config, "enable.partition.eof": True})
        consumer.subscribe(["resume"])
        joined_by = time.monotonic() + 5
        while time.monotonic() < joined_by:
            consumer.consume(5000, 0.1)
        latencies: list[float] = []
        for _ in range(40):
            consumer.pause(consumer.assignment())
            time.sleep(0.1)  # the pause being measured, not a wait for work
            consumer.resume(consumer.assignment())
            resumed = time.monotonic()
            while not [m for m in consumer.consume(5000, 0.005) if m.error() is None]:
                if time.monotonic() - resumed > 3:
                    break
            latencies.append(1000 * (time.monotonic() - resumed))
        latencies.sort()
        p90 = latencies[int(0.9 * len(latencies))]
        print(f"resume -> first record: p50 {statistics.median(latencies):.0f} ms, "
              f"p90 {p90:.0f} ms, max {latencies[-1]:.0f} ms")  # fmt: skip
        stop.set()
        thread.join()
        consumer.close()
    finally:
        broker.stop(10)


if __name__ == "__main__":
    main()
