"""The partitions assigned to this processor, and how far they are read.

Lag is computed from the watermarks that fetch responses carry (Tansu
answers ListOffsets with the base offset of the last batch + 1, which
undercounts). A partition is read to its end from its end-of-partition event
until its next record.

Every call is made on the consuming thread:

- `assign`/`revoke` from the rebalance callbacks (inside `consume`/`poll`);
  never block.
- `at_end` is updated by the caller as records and end-of-partition events
  arrive (a plain set: it is touched once per record).
- `lag(consumer)` reads positions and cached watermarks; no broker round trip.
- `read_to_end()`: every assigned partition read to its end; never blocks.
"""

from collections.abc import Iterable

from confluent_kafka import Consumer, TopicPartition


class Assignment:
    def __init__(self, topic: str) -> None:
        self._topic = topic
        self.assigned: set[int] = set()
        self.at_end: set[int] = set()
        """Assigned partitions read to their end (their last end-of-partition event)."""

    def assign(self, partitions: Iterable[int]) -> None:
        self.assigned |= set(partitions)

    def revoke(self, gone: set[int]) -> None:
        self.assigned -= gone
        self.at_end -= gone

    def read_to_end(self) -> bool:
        """Something is assigned, and every assigned partition is read to its end."""
        return bool(self.assigned) and self.assigned <= self.at_end

    def lag(self, consumer: Consumer) -> int:
        """Records of the assigned partitions not consumed yet."""
        lag = 0
        for partition in self.assigned:
            tp = TopicPartition(self._topic, partition)
            # Cached watermarks come from fetch responses: ListOffsets undercounts on Tansu.
            _, high = consumer.get_watermark_offsets(tp, cached=True)
            [position] = consumer.position([tp])
            if high >= 0 and position.offset >= 0:
                lag += max(0, high - position.offset)
        return lag
