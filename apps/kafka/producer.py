"""An asyncio face on confluent-kafka's producer: await until a whole batch is acknowledged.

librdkafka batches, compresses and retries in its own threads. Delivery
reports are served on the event loop's thread by a pump task that calls
`poll(0)` every millisecond while batches are outstanding: each report then
settles its batch's future directly, with no thread hand-off. (A separate
polling thread costs a quarter of the API's throughput in GIL hand-offs:
docs/benchmarks.md.) Anything that may block — probing the broker — runs in
a worker thread.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from apps.core.errors import GameMetricsError

log = logging.getLogger(__name__)
_BUSY_POLL_S = 0.001
_IDLE_POLL_S = 0.1
_PROBE_EVERY_S = 0.5


class BrokerUnavailable(GameMetricsError):
    """The broker did not acknowledge every record; nothing of the batch may be reported durable."""


class _Batch:
    __slots__ = ("future", "remaining")

    def __init__(self, future: asyncio.Future[None], n: int) -> None:
        self.future, self.remaining = future, n

    def on_delivery(self, err: KafkaError | None, _msg: Message) -> None:
        # Called by poll() on the event loop's thread.
        if self.future.done():
            return
        if err is not None:
            self.future.set_exception(BrokerUnavailable(err.str()))
            return
        self.remaining -= 1
        if self.remaining == 0:
            self.future.set_result(None)


class AsyncProducer:
    """Produce batches and await their acknowledgement (acks=all, idempotent).

    Every method is called on the event loop's thread; `send` may be called
    by many requests at once.
    """

    def __init__(self, config: dict[str, Any]) -> None:
        self._config = config
        self._producer = self._new_producer()
        self._outstanding = 0
        self._wake = asyncio.Event()
        self._pump_task: asyncio.Task[None] | None = None
        self._down_since: float | None = None
        self._replace_reason: str | None = None
        self._stalled = False

    def _new_producer(self) -> Producer:
        return Producer({**self._config, "error_cb": self._on_error})

    def start(self) -> None:
        self._pump_task = asyncio.get_running_loop().create_task(self._pump(), name="kafka-pump")

    async def close(self, grace: float = 5.0) -> int:
        """Deliver what is queued (up to `grace` s), then stop; returns records left undelivered."""
        deadline = time.monotonic() + grace
        while len(self._producer) and time.monotonic() < deadline:
            self._producer.poll(0)
            await asyncio.sleep(0.005)
        if self._pump_task is not None:
            self._pump_task.cancel()
        left = len(self._producer)
        self._producer.purge()
        self._producer.poll(0)
        self._producer.close()
        return left

    @property
    def queue_depth(self) -> int:
        return len(self._producer)

    @property
    def broker_down(self) -> bool:
        return self._down_since is not None

    def metadata(self, timeout: float) -> None:
        """Ask the cluster for metadata; blocks, so call it from a thread. Raises if down."""
        self._producer.list_topics(timeout=timeout)

    async def send(
        self, topic: str, records: Sequence[tuple[bytes, bytes]], *, within: float
    ) -> None:
        """Resolve when every (key, value) is acknowledged within `within` seconds;
        raise BrokerUnavailable otherwise.

        Fails at once while the broker is known to be unreachable, so clients
        are told to retry instead of waiting out the delivery timeout.
        """
        if self._replace_reason is not None:
            self._replace()
        if self._down_since is not None:
            raise BrokerUnavailable("broker unreachable")
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        batch = _Batch(future, len(records))
        produce, report = self._producer.produce, batch.on_delivery
        try:
            for key, value in records:
                produce(topic, value, key, on_delivery=report)
        except BufferError:
            future.cancel()
            raise BrokerUnavailable("producer queue is full") from None
        except KafkaException as e:
            future.cancel()
            self._note_fatal(e)
            raise BrokerUnavailable(str(e)) from None
        self._outstanding += 1
        self._wake.set()
        try:
            await asyncio.wait_for(future, within)
        except TimeoutError:
            self._stalled = True
            raise BrokerUnavailable("delivery timed out") from None
        except BrokerUnavailable:
            self._stalled = True
            raise
        finally:
            self._outstanding -= 1

    async def _pump(self) -> None:
        """Serve delivery reports and error callbacks; watch the broker's health.

        It must outlive any error: without it no request is ever answered.
        """
        last_probe = 0.0
        while True:
            try:
                self._producer.poll(0)
            except KafkaException as e:  # poll raises a fatal error once the producer is unusable
                self._note_fatal(e)
            now = time.monotonic()
            unhealthy = self._down_since is not None or self._stalled
            if unhealthy and now - last_probe > _PROBE_EVERY_S:
                last_probe = now
                try:
                    await self._probe()
                except Exception:
                    log.exception("broker probe failed")
            if self._outstanding:
                await asyncio.sleep(_BUSY_POLL_S)
            else:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), _IDLE_POLL_S)

    async def _probe(self) -> None:
        """While down: is the broker back? After failed deliveries: is this producer wedged?

        A broker that lost its producer-id state (an in-memory broker restarted)
        leaves an idempotent producer retrying forever without a fatal error;
        a new producer gets a new id and carries on.
        """
        try:
            await asyncio.to_thread(self.metadata, 1.0)
        except KafkaException:
            return
        if self._down_since is not None:
            log.warning("broker reachable again after %.1f s", time.monotonic() - self._down_since)
            self._down_since = None
        elif self._stalled:
            log.warning("deliveries fail while the broker is reachable: recreating the producer")
            self._replace_reason = "deliveries fail while the broker is reachable"
        self._stalled = False

    def _note_fatal(self, exc: KafkaException) -> None:
        err = exc.args[0] if exc.args and isinstance(exc.args[0], KafkaError) else None
        if err is not None and (err.fatal() or err.code() == KafkaError._FATAL):
            if self._replace_reason is None:
                log.error("producer in a fatal state, it will be recreated: %s", err.str())
            self._replace_reason = err.str()
        else:
            log.warning("producer: %s", exc)

    def _on_error(self, err: KafkaError) -> None:
        if err.fatal():
            log.error("fatal producer error, the producer will be recreated: %s", err.str())
            self._replace_reason = err.str()
        elif err.code() == KafkaError._ALL_BROKERS_DOWN:
            if self._down_since is None:
                log.warning("all brokers down: answering 503 until one is back")
                self._down_since = time.monotonic()
        else:
            log.info("producer: %s", err.str())

    def _replace(self) -> None:
        """Swap in a new producer; batches still waiting on the old one fail with 503."""
        old = self._producer
        self._producer = self._new_producer()
        self._replace_reason = None
        old.purge()
        old.poll(0)  # purged records report errors now, settling their batches
        old.close()
