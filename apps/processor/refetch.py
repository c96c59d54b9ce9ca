"""Reading again what a fetch skipped: the consumer's side of `gaps.OffsetGaps`.

`OffsetGaps` (pure) decides whether a record's offset is the one owed; this
module tells it where each partition's reading starts, seeks the consumer
back to a gap's first offset, and counts and logs gaps (`docs/PIPELINE.md`
says why fetches skip).

Every call is made on the consuming thread:

- `start(consumer, partitions)` from the assignment callback: asks the group
  for the partitions' committed offsets, so a first fetch that skips is
  noticed too; blocks up to 10 s on the broker, and on failure only logs
  (gaps are then checked from each partition's first record).
- `forget(partitions)` from the revocation callback; never blocks.
- `seek(consumer, gap)` for each `Gap` that `gaps.check` returns: True when it
  seeked back, and the caller drops the partition's records of this fetch; a
  local operation of librdkafka (no broker round trip): the next fetch reads
  from the gap's start.
"""

import logging
from collections.abc import Iterable

from confluent_kafka import Consumer, KafkaException, TopicPartition

from apps.processor.gaps import Gap, OffsetGaps
from apps.processor.metrics import ProcessorMetrics

log = logging.getLogger(__name__)


class Refetch:
    """Seeks back over offset gaps of `topic`; `gaps` is checked by the caller per record."""

    def __init__(self, topic: str, metrics: ProcessorMetrics) -> None:
        self.gaps = OffsetGaps()
        self._topic = topic
        self._metrics = metrics

    def start(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Where each partition's reading starts, so a first fetch that skips is noticed."""
        try:
            committed = consumer.committed(partitions, timeout=10)
        except KafkaException as e:
            log.warning("committed offsets unavailable (%s); gaps checked from the first record", e)
            return
        for tp in committed:
            if tp.offset >= 0:
                self.gaps.start(tp.partition, tp.offset)

    def forget(self, partitions: Iterable[int]) -> None:
        self.gaps.forget(partitions)

    def seek(self, consumer: Consumer, gap: Gap) -> bool:
        """Seek back to the gap's start (True: drop the partition's records until then)."""
        self._metrics.offset_gaps.labels("refetched" if gap.refetch else "accepted").inc()
        if not gap.refetch:
            log.error(
                "partition %d: offsets %d-%d still missing after refetching; taking offset %d",
                gap.partition, gap.expected, gap.got - 1, gap.got,
            )  # fmt: skip
            return False
        log.warning(
            "partition %d: fetched offset %d where %d was next; reading again from %d",
            gap.partition, gap.got, gap.expected, gap.expected,
        )  # fmt: skip
        consumer.seek(TopicPartition(self._topic, gap.partition, gap.expected))
        return True
