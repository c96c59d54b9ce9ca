"""The raw limits of this machine, measured in the same run as the ingestion API.

Two baselines bound what the API can reach: how fast one Python process can
produce the API's records to the broker (same producer settings, same keys
and values), and how fast Starlette on uvicorn can take the same bodies and
run `parse_batch` alone, without authentication, rate limiting or Kafka.
Each runs in its own spawned process.
"""

import multiprocessing
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, Literal

import msgspec
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from apps.core.events import encode_records
from apps.core.topics import EVENTS, Topic
from apps.core.validation import TimePolicy, parse_batch

BENCH_TOPIC: Final = Topic(
    name="gm.bench.produce.v1",
    partitions=EVENTS.partitions,
    retention=timedelta(hours=1),
    purpose="the produce baseline of `gamemetrics bench ingest`; nothing consumes it",
    compression=EVENTS.compression,
)
PARSE_GAME_ID: Final = "00000000-0000-4000-8000-000000000000"


ProduceMode = Literal["callbacks", "poll-thread", "no-callbacks"]
PRODUCE_MODES: Final[dict[ProduceMode, str]] = {
    "callbacks": "a delivery callback per record, polled by the producing thread",
    "poll-thread": "a callback per record run by a separate polling thread, as the API",
    "no-callbacks": "no delivery callbacks (the broker and librdkafka alone)",
}


@dataclass(frozen=True, slots=True)
class ProduceResult:
    mode: ProduceMode
    messages: int
    """Records acknowledged (acks=all)."""
    errors: int
    seconds: float
    value_bytes: int

    @property
    def messages_per_s(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0


def stored_records(bodies: Sequence[bytes]) -> list[tuple[bytes, bytes]]:
    """(key, value) exactly as the API produces them for these bodies."""
    now = datetime.now(UTC)
    records: list[tuple[bytes, bytes]] = []
    for body in bodies:
        result = parse_batch(body, game_id=PARSE_GAME_ID, received_at=now, policy=TimePolicy())
        records += encode_records(PARSE_GAME_ID, result.accepted)
    return records


def measure_produce(
    bootstrap: str, bodies: Sequence[bytes], duration: float, mode: ProduceMode
) -> ProduceResult:
    """Run `produce_in_process` in a spawned process and return its result."""
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        result: ProduceResult = pool.apply(
            produce_in_process, (bootstrap, list(bodies), duration, mode)
        )
    return result


def produce_in_process(
    bootstrap: str, bodies: list[bytes], duration: float, mode: ProduceMode
) -> ProduceResult:
    """Produce for `duration` seconds as fast as the producer takes records, then flush.

    Messages/s counts records acknowledged over the time from the first
    produce to the end of the flush.
    """
    from confluent_kafka import KafkaError, Message, Producer

    from apps.kafka.config import producer_config

    records = stored_records(bodies)
    producer = Producer(producer_config(bootstrap, client_id="gamemetrics-bench"))
    producer.list_topics(BENCH_TOPIC.name, timeout=10)
    delivered = failed = 0

    def on_delivery(err: KafkaError | None, _msg: Message) -> None:
        nonlocal delivered, failed
        if err is None:
            delivered += 1
        else:
            failed += 1

    stop = threading.Event()

    def poll_forever() -> None:
        while not stop.is_set():
            producer.poll(0.05)

    poller = threading.Thread(target=poll_forever, name="kafka-poll", daemon=True)
    callbacks, own_poll = mode != "no-callbacks", mode != "poll-thread"
    topic, produce, poll = BENCH_TOPIC.name, producer.produce, producer.poll
    n, i, sent, value_bytes = len(records), 0, 0, 0
    started = time.perf_counter()
    if not own_poll:
        poller.start()
    end = started + duration
    while time.perf_counter() < end:
        for _ in range(1000):
            key, value = records[i]
            i = i + 1 if i + 1 < n else 0
            while True:
                try:
                    if callbacks:
                        produce(topic, value, key, on_delivery=on_delivery)
                    else:
                        produce(topic, value, key)
                    break
                except BufferError:
                    if own_poll:
                        poll(0.005)
                    else:
                        time.sleep(0.001)
            sent += 1
            value_bytes += len(value)
        if own_poll:
            poll(0)
    if not own_poll:
        stop.set()
        poller.join()
    left: int = producer.flush(60)
    seconds = time.perf_counter() - started
    if not callbacks:
        delivered, failed = sent - left, left
    return ProduceResult(mode, delivered, failed, seconds, value_bytes)


def parse_only_app() -> Starlette:
    """Starlette: read the body, run `parse_batch`, answer 202 as the API does; nothing else."""
    encode = msgspec.json.encode
    policy = TimePolicy()

    async def post_events(request: Request) -> Response:
        body = await request.body()
        result = parse_batch(
            body, game_id=PARSE_GAME_ID, received_at=datetime.now(UTC), policy=policy
        )
        answer = {
            "accepted": len(result.accepted),
            "rejected": [r.as_json() for r in result.rejected],
        }
        return Response(encode(answer), 202, media_type="application/json")

    return Starlette(routes=[Route("/v1/events", post_events, methods=["POST"])])


def serve_parse_only(port: int) -> None:
    """Process target: the parse-only app on uvicorn (uvloop, httptools) like `serve`."""
    import uvicorn

    uvicorn.run(
        parse_only_app(),
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
        server_header=False,
    )
