"""An asyncio face on confluent-kafka's producer: await until a whole batch is acknowledged.

librdkafka does the batching and retries in its own threads; one polling
thread here runs the delivery callbacks and hands each batch's outcome back
to the event loop once, when its last record is acknowledged or any fails.
"""

import asyncio
import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from apps.core.errors import GameMetricsError

log = logging.getLogger(__name__)


class BrokerUnavailable(GameMetricsError):
    """The broker did not acknowledge every record; nothing of the batch may be reported durable."""


class _Batch:
    __slots__ = ("_future", "_loop", "error", "remaining")

    def __init__(self, loop: asyncio.AbstractEventLoop, future: asyncio.Future[None], n: int):
        self._loop, self._future, self.remaining = loop, future, n
        self.error: str | None = None

    def on_delivery(self, err: KafkaError | None, _msg: Message) -> None:
        # Runs on the polling thread, the only thread that calls it.
        if err is not None and self.error is None:
            self.error = err.str()
            self._loop.call_soon_threadsafe(self._settle)
            return
        self.remaining -= 1
        if self.remaining == 0 and self.error is None:
            self._loop.call_soon_threadsafe(self._settle)

    def _settle(self) -> None:
        if self._future.done():
            return
        if self.error is None:
            self._future.set_result(None)
        else:
            self._future.set_exception(BrokerUnavailable(self.error))


class AsyncProducer:
    """Produce batches and await their acknowledgement (acks=all, idempotent).

    `start` and `close` are called from the event loop's thread; `send`
    may be called concurrently by many requests.
    """

    def __init__(self, config: dict[str, Any]) -> None:
        self._config = config
        self._producer = Producer({**config, "error_cb": self._on_error})
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll_forever, name="kafka-poll", daemon=True)
        self._down_since: float | None = None
        self._fatal: str | None = None
        self._stalled = threading.Event()
        self._lock = threading.Lock()

    def start(self) -> None:
        self._thread.start()

    def close(self, timeout: float = 5.0) -> int:
        """Flush what is queued (up to `timeout`) and stop; returns records left undelivered."""
        left: int = self._producer.flush(timeout)
        self._stop.set()
        self._thread.join(timeout=2)
        self._producer.close()  # release the client: no reconnect attempts after this
        return left

    def metadata(self, timeout: float) -> None:
        """Ask the cluster for metadata (blocking); raises KafkaException if unreachable."""
        self._producer.list_topics(timeout=timeout)

    @property
    def queue_depth(self) -> int:
        return len(self._producer)

    @property
    def broker_down(self) -> bool:
        return self._down_since is not None or self._fatal is not None

    async def send(
        self, topic: str, records: Sequence[tuple[bytes, bytes]], *, within: float
    ) -> None:
        """Resolve when every (key, value) is acknowledged within `within` seconds;
        raise BrokerUnavailable otherwise.

        Fails at once while the broker is known to be unreachable, so clients
        are told to retry instead of waiting out the delivery timeout.
        """
        if self._fatal is not None:
            self._recreate()
        if self._down_since is not None:
            raise BrokerUnavailable("broker unreachable")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        batch = _Batch(loop, future, len(records))
        produce = self._producer.produce
        for key, value in records:
            try:
                produce(topic, value, key, on_delivery=batch.on_delivery)
            except BufferError:
                batch.error = "producer queue is full"
                raise BrokerUnavailable(batch.error) from None
            except KafkaException as e:
                batch.error = str(e)
                raise BrokerUnavailable(batch.error) from None
        try:
            await asyncio.wait_for(future, within)
        except TimeoutError:
            batch.error = "delivery timed out"
            self._stalled.set()
            raise BrokerUnavailable(batch.error) from None
        except BrokerUnavailable:
            self._stalled.set()
            raise

    def _poll_forever(self) -> None:
        last_probe = 0.0
        while not self._stop.is_set():
            self._producer.poll(0.05)
            if self._down_since is not None and time.monotonic() - last_probe > 0.5:
                last_probe = time.monotonic()
                self._probe()
            elif self._stalled.is_set():
                self._stalled.clear()
                self._check_stall()

    def _check_stall(self) -> None:
        """Deliveries failed: if the broker answers anyway, this producer is wedged.

        A broker that lost its producer-id state (an in-memory broker restarted)
        leaves an idempotent producer retrying forever without a fatal error;
        a new producer gets a new id and carries on.
        """
        try:
            self._producer.list_topics(timeout=1.0)
        except KafkaException:
            return
        log.warning("deliveries fail while the broker is reachable: recreating the producer")
        self._fatal = "deliveries fail while the broker is reachable"

    def _probe(self) -> None:
        try:
            self._producer.list_topics(timeout=0.5)
        except KafkaException:
            return
        down_for = time.monotonic() - (self._down_since or time.monotonic())
        log.warning("broker reachable again after %.1f s", down_for)
        self._down_since = None

    def _on_error(self, err: KafkaError) -> None:
        if err.fatal():
            log.error("fatal producer error, the producer will be recreated: %s", err.str())
            self._fatal = err.str()
        elif err.code() == KafkaError._ALL_BROKERS_DOWN:
            if self._down_since is None:
                log.warning("all brokers down: answering 503 until one is back")
                self._down_since = time.monotonic()
        else:
            log.info("producer: %s", err.str())

    def _recreate(self) -> None:
        with self._lock:
            if self._fatal is None:
                return
            old = self._producer
            self._producer = Producer({**self._config, "error_cb": self._on_error})
            self._fatal = None
        old.purge()
        old.close()
