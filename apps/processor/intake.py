"""Step 1 of the chain: the records of a fetch into the lanes' pending batches.

Each record is decoded (`records.to_row`, pure) into its partition's lane's
pending batch as a row, or as a dead letter if it can never be stored. An
end-of-partition event marks the partition read to its end; a record past an
offset gap sends the partition back to the gap's start (`refetch`), and the
partition's later records of the same fetch are dropped.

`add(consumer, messages)` runs on the consuming thread, between fetches. It
never blocks; it raises `KafkaException` on a fatal consumer error (others
librdkafka retries by itself: logged). The loop is written for speed: it
runs once per record, 50,000 times a second.
"""

import logging

from confluent_kafka import Consumer, KafkaError, KafkaException, Message

from apps.processor.assignment import Assignment
from apps.processor.dlq import dead_letter
from apps.processor.lanes import Lanes
from apps.processor.records import Poison, to_row
from apps.processor.refetch import Refetch

log = logging.getLogger(__name__)


class Intake:
    def __init__(self, lanes: Lanes, assignment: Assignment, refetch: Refetch) -> None:
        self._lanes = lanes
        self._assignment = assignment
        self._refetch = refetch

    def add(self, consumer: Consumer, messages: list[Message]) -> None:
        """Decode each record into its partition's lane's pending batch."""
        lanes, at_end, gaps = self._lanes.all, self._assignment.at_end, self._refetch.gaps
        n = len(lanes)
        refetching: set[int] = set()
        for msg in messages:
            partition = msg.partition() or 0
            batch = lanes[partition % n].pending
            err = msg.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    at_end.add(partition)
                    continue
                if err.fatal():
                    raise KafkaException(err)
                log.warning("consumer: %s (librdkafka retries by itself)", err.str())
                continue
            offset = msg.offset() or 0
            if partition in refetching:
                continue  # fetched past a gap: read again from its start
            gap = gaps.check(partition, offset)
            if gap is not None and self._refetch.seek(consumer, gap):
                refetching.add(partition)
                continue
            at_end.discard(partition)
            batch.consumed += 1
            batch.next_offsets[partition] = offset + 1
            row = to_row(msg.value())
            if isinstance(row, Poison):
                batch.letters.append(dead_letter(msg, row.reason, row.code))
            else:
                batch.rows.append(row)
                batch.sources.append(msg)
