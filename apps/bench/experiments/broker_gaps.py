"""Does the local broker (Tansu 0.6, memory storage) answer a fetch with a later batch?

Tansu's produce raises the partition's high watermark, then stores the batch;
its fetch lists the stored batches below the high watermark from the offset
asked for. A fetch that lands between another producer's two steps can thus
skip that producer's batch. This probe makes that likely: `--producers`
processes (as API workers) write one partition in small batches while a
consumer tails it with short fetch waits and `--burners` busy processes
preempt everyone. The consumer notes every jump in offsets (without reading
again); after the producers stop, a fresh reader reads the partition from 0
and checks that every offset is there: a gap seen while tailing but not on the
re-read is a fetch that skipped records which the broker does hold, which is
what apps/processor/gaps.py reads again.

    python -m apps.bench.experiments.broker_gaps [--seconds 60] [--producers 4] [--burners 2]
        [--rate 10000] [--linger-ms 10]
"""

import multiprocessing as mp
import os
import threading
import time
from multiprocessing.sharedctypes import Synchronized

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

from apps.bench.experiments import argument_parser
from apps.bench.experiments.local_broker import create_topic, fresh_broker
from apps.kafka.config import producer_config
from apps.processor.gaps import OffsetGaps

RECORD = os.urandom(100)


def produce(
    url: str, seconds: float, rate: int, linger_ms: float, counter: "Synchronized[int]"
) -> None:
    """`rate` records/s in 100-record requests, as one API worker."""
    producer = Producer(producer_config(url, client_id="gaps", linger_ms=linger_ms))
    sent, failed = 0, 0

    def delivered(err: object, _msg: object) -> None:
        nonlocal failed
        failed += err is not None

    start = time.monotonic()
    while (now := time.monotonic()) < start + seconds:
        if sent > (now - start) * rate:
            time.sleep(0.001)
            continue
        for _ in range(100):
            producer.produce("t", RECORD, b"k", on_delivery=delivered)
        sent += 100
        producer.poll(0)
    if producer.flush(30):
        raise SystemExit("records not delivered")
    with counter.get_lock():
        counter.value += sent - failed


def burn(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def reader(url: str, wait_ms: int) -> Consumer:
    consumer = Consumer(
        {
            "bootstrap.servers": url,
            "group.id": f"gaps-{time.monotonic_ns()}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "fetch.wait.max.ms": wait_ms,
        }
    )
    consumer.assign([TopicPartition("t", 0, 0)])
    return consumer


def tail(url: str, until: float, out: dict[str, object], guard: bool) -> None:
    """Read until `until` and then to the end: offsets taken, jumps (expected, got); with
    `guard`, a jump is read again from its start as the processor does."""
    consumer = reader(url, wait_ms=5)
    gaps = OffsetGaps()
    gaps.start(0, 0)
    expected, jumps, taken = 0, [], set()
    at_end = False
    while time.monotonic() < until or not at_end:
        if time.monotonic() > until + 120:
            print("the tailing consumer did not reach the end within 120 s")
            break
        for msg in consumer.consume(5000, 0.05):
            err = msg.error()
            if err is not None:
                at_end = err.code() == KafkaError._PARTITION_EOF
                continue
            at_end = False
            offset = msg.offset() or 0
            if guard:
                gap = gaps.check(0, offset)
                if gap is not None and gap.refetch:
                    jumps.append((gap.expected, offset))
                    consumer.seek(TopicPartition("t", 0, gap.expected))
                    break  # the rest of this answer is past the gap too
            elif offset != expected:
                jumps.append((expected, offset))
            expected = offset + 1
            taken.add(offset)
    consumer.close()
    out.update(taken=taken, jumps=jumps)


def offsets_held(url: str) -> set[int]:
    consumer = reader(url, wait_ms=100)
    held: set[int] = set()
    at_end = False
    while not at_end:
        for m in consumer.consume(5000, 1.0):
            err = m.error()
            if err is None:
                held.add(m.offset() or 0)
            elif err.code() == KafkaError._PARTITION_EOF:
                at_end = True
    consumer.close()
    return held


def main() -> None:
    parser = argument_parser(__file__, __doc__)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--producers", type=int, default=4)
    parser.add_argument("--burners", type=int, default=2)
    parser.add_argument("--rate", type=int, default=10_000, help="records/s per producer")
    parser.add_argument("--linger-ms", type=float, default=10)
    args = parser.parse_args()
    broker = fresh_broker()
    try:
        create_topic(broker.url, 1)
        produced = mp.Value("q", 0)
        procs = [
            mp.Process(
                target=produce,
                args=(broker.url, args.seconds, args.rate, args.linger_ms, produced),
            )
            for _ in range(args.producers)
        ] + [mp.Process(target=burn, args=(args.seconds,)) for _ in range(args.burners)]
        for p in procs:
            p.start()
        until = time.monotonic() + args.seconds + 5
        results: dict[str, dict[str, object]] = {"plain": {}, "guarded": {}}
        tails = [
            threading.Thread(target=tail, args=(broker.url, until, out, name == "guarded"))
            for name, out in results.items()
        ]
        for t in tails:
            t.start()
        for p in procs:
            p.join()
        for t in tails:
            t.join()
        held = offsets_held(broker.url)
        holes = [o for o in range(max(held) + 1) if o not in held] if held else []
        print(
            f"{args.producers} producers at {args.rate:,}/s, {args.burners} burners, "
            f"linger {args.linger_ms:g} ms, {args.seconds:g} s: {produced.value:,} records "
            f"acknowledged; re-read from 0: {len(held):,} offsets held, {len(holes)} holes"
        )
        for name, result in results.items():
            taken, jumps = result["taken"], result["jumps"]
            assert isinstance(taken, set)
            assert isinstance(jumps, list)
            below = max(taken, default=-1)
            lost = sum(1 for o in held if o < below and o not in taken)
            print(
                f"{name} tailing consumer: {len(jumps)} jumps; took {len(taken):,} offsets "
                f"(up to {below:,}); {lost:,} held offsets below that never taken"
            )
            for expected, got in jumps[:20]:
                there = all(o in held for o in range(expected, got))
                print(
                    f"  expected {expected:,}, got {got:,} ({got - expected} skipped, "
                    f"{'held by the broker' if there else 'ABSENT'})"
                )
    finally:
        broker.stop(10)


if __name__ == "__main__":
    main()
