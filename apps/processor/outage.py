"""While PostgreSQL is down: pause, keep polling, back off, write again, resume.

A write that fails because the database is unreachable (`errors.DATABASE_DOWN`)
is tried again on the consuming thread until it lands. Meanwhile the
assignment is paused, so nothing more is fetched and memory stays bounded,
and the consumer is still polled, so the processor stays in its group (a
rebalance runs its callbacks in that poll). The backoff starts at 0.5 s and
doubles up to 10 s. Nothing is committed until the write lands: a crash or a
stop meanwhile replays the batch.

Every call is made on the consuming thread:

- `retry(...)` after a write raised a `DATABASE_DOWN` error: blocks until the
  write lands and returns its result (the assignment is still paused: call
  `answered`). Raises `Stopping` if asked to stop meanwhile (nothing
  committed; the batch is replayed), and whatever else the write raises.
- `answered(consumer)` when a write landed: resumes the assignment if it was
  paused; never blocks.
- `hold(consumer, partitions)` from the assignment callback: partitions
  assigned during an outage start paused too; never blocks.
- `back_off(consumer, seconds, stop)` and `resume(consumer)`: the same wait
  for another dependency (the dead-letter topic, `commit.py`).
"""

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from confluent_kafka import Consumer, TopicPartition

from apps.processor.errors import DATABASE_DOWN, Stopping
from apps.processor.metrics import ProcessorMetrics

log = logging.getLogger(__name__)
FIRST_BACKOFF = 0.5
MAX_BACKOFF = 10.0
_POLL_SECONDS = 0.1
"""How often the stop flag is looked at while backing off."""

R = TypeVar("R")


class Outage:
    """Whether the database answered, and how the processor waits when it does not."""

    def __init__(self, metrics: ProcessorMetrics, beat: Callable[[], None]) -> None:
        self._metrics = metrics
        self._beat = beat
        """Called while backing off: the processor's loop is alive, only waiting."""
        self.database_ok = False
        """The last write (or the first connection) landed."""
        self.paused = False

    def retry(
        self, consumer: Consumer, stop: threading.Event, error: Exception,
        write: Callable[[], R], reset: Callable[[], None],
    ) -> R:  # fmt: skip
        """Back off (`reset` first: drop the broken connection) and `write` again, until it
        lands. Blocks; raises `Stopping` when `stop` is set while backing off."""
        backoff = FIRST_BACKOFF
        while True:
            self.database_ok = False
            self._metrics.db_errors.inc()
            log.warning(
                "database unavailable (%s); retrying in %.1f s", type(error).__name__, backoff
            )
            reset()
            self.back_off(consumer, backoff, stop)
            backoff = min(backoff * 2, MAX_BACKOFF)
            try:
                return write()
            except DATABASE_DOWN as e:
                error = e

    def answered(self, consumer: Consumer) -> None:
        """The database took a write: consume again if paused."""
        if self.resume(consumer):
            log.info("database back; consuming again")
        self.database_ok = True

    def resume(self, consumer: Consumer) -> bool:
        """Consume again if paused; whether it was."""
        if not self.paused:
            return False
        consumer.resume(list(consumer.assignment()))
        self.paused = False
        return True

    def hold(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Newly assigned partitions wait with the others while paused."""
        if self.paused:
            consumer.pause(partitions)

    def back_off(self, consumer: Consumer, seconds: float, stop: threading.Event) -> None:
        """Back off without leaving the group: partitions paused, polling served. Raises
        `Stopping` when `stop` is set meanwhile."""
        if not self.paused:
            consumer.pause(list(consumer.assignment()))
            self.paused = True
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if stop.is_set():
                raise Stopping
            self._beat()
            msg = consumer.poll(_POLL_SECONDS)
            if msg is not None and msg.error() is None:
                # A partition assigned during the pause delivered a record: put it back.
                tp = TopicPartition(msg.topic() or "", msg.partition() or 0, msg.offset() or 0)
                consumer.seek(tp)
                consumer.pause([tp])
