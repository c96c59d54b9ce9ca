"""Steps 4 and 5 of the chain: a written batch's dead letters, then its offsets.

The order is the processor's guarantee: a batch's offsets are committed only
after its transaction committed and its dead letters were acknowledged, so a
crash anywhere before replays the batch, and the idempotent write makes the
replay harmless. Lanes finish in any order; a partition's batches, all in
one lane, finish in order.

`finish(lane, consumer, dead, stop)` runs on the consuming thread, once the
lane's write ended (`Lanes.gather`) or, at stop, for each batch in flight.
It blocks while the database is down (`outage.retry`, which raises
`Stopping` if asked to stop meanwhile: nothing is committed), until the
dead-letter topic acknowledged (while it does not, the partitions are paused
and the letters sent again with the same backoff: the batch's offsets, and so
its partitions' later records, wait behind them; `Stopping` if asked to stop),
and until the group coordinator answers the commit. A failed commit is logged, not raised:
the batch is stored, and whoever reads the partition next replays it
harmlessly. It raises a write's error that is neither an outage nor rejected
data. Then the lane is free (`lane.writing` is None).
"""

import logging
import threading
import time

from confluent_kafka import Consumer, KafkaException, TopicPartition

from apps.processor.dlq import DeadLetter, DeadLetters
from apps.processor.errors import DATABASE_DOWN, DeadLetterFailed
from apps.processor.lanes import Lane
from apps.processor.metrics import ProcessorMetrics
from apps.processor.outage import FIRST_BACKOFF, MAX_BACKOFF, Outage

log = logging.getLogger(__name__)


class Committer:
    def __init__(self, topic: str, metrics: ProcessorMetrics, outage: Outage) -> None:
        self._topic = topic
        self._metrics = metrics
        self._outage = outage

    def finish(
        self, lane: Lane, consumer: Consumer, dead: DeadLetters, stop: threading.Event
    ) -> None:
        """Once the lane's batch's rows are committed: its dead letters, then its offsets."""
        writing = lane.writing
        assert writing is not None
        batch = writing.batch
        metrics = self._metrics
        if writing.future is not None:
            try:
                written, rejected = writing.future.result()
            except DATABASE_DOWN as e:
                db = lane.db
                written, rejected = self._outage.retry(
                    consumer, stop, e, lambda: db.write(batch.rows, batch.sources), db.disconnect
                )
            self._outage.answered(consumer)
            batch.letters.extend(rejected)
            metrics.rows.labels("stored").inc(written.stored)
            # A row the database rejected was received and not stored, but it is no
            # duplicate: it is counted with the dead letters; a suppressed player's too,
            # with the suppressed events (dropped, and its offset committed all the same).
            metrics.rows.labels("duplicate").inc(
                written.received - written.stored - written.suppressed - len(rejected)
            )
            metrics.suppressed.inc(written.suppressed)
        if batch.letters:
            self._dead_letter(batch.letters, consumer, dead, stop)
            for letter in batch.letters:
                metrics.dead_letters.labels(letter.code).inc()
        self._commit(consumer, batch.next_offsets)
        lane.writing = None
        metrics.batches.inc()
        metrics.batch_seconds.observe(time.perf_counter() - writing.started)

    def _dead_letter(
        self, letters: list[DeadLetter], consumer: Consumer, dead: DeadLetters,
        stop: threading.Event,
    ) -> None:  # fmt: skip
        """Send until acknowledged: never commit past a letter, never drop one."""
        backoff = FIRST_BACKOFF
        while True:
            try:
                dead.send(letters)
            except DeadLetterFailed as e:
                self._metrics.dead_letter_failures.inc()
                log.warning("%s; retrying in %.1f s, partitions paused", e, backoff)
                self._outage.back_off(consumer, backoff, stop)
                backoff = min(backoff * 2, MAX_BACKOFF)
                continue
            if self._outage.resume(consumer):
                log.info("dead-letter topic back; consuming again")
            return

    def _commit(self, consumer: Consumer, next_offsets: dict[int, int]) -> None:
        if not next_offsets:
            return
        offsets = [TopicPartition(self._topic, p, o) for p, o in next_offsets.items()]
        try:
            consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as e:
            # Stored already; after a rebalance the new owner replays it harmlessly.
            log.warning("offset commit failed (%s); the batch will be replayed", e)
