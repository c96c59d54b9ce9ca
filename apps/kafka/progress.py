"""Where the events topic ends, and how far the processor has stored it (Kafka offsets).

Read by the services that wait for the processor (`Service.awaits`): the user
service's privacy jobs and the retention service's passes. A privacy job first takes
the end offset of every partition of the events topic: every event accepted before
the job started lies below them. It then waits until the
processor's consumer group has committed past each of them (the processor commits a
record's offset once the record is stored or dead-lettered), so the erasure or export
that follows sees every event of the player that was in flight.

The end offsets come from a fetch of each partition's last batch, whose response carries
the partition's high watermark: ListOffsets alone undercounts on Tansu, which answers it
with the base offset of the partition's last batch + 1 (apps/processor/assignment.py).
One fetch is enough, not a read to the end: under a load that outpaces the reader, the
end moves on as it is read, and any end taken after the job started will do.
The consumer never subscribes, so it never joins the processor's group, and it never
commits: it only reads the group's committed offsets (OffsetFetch).
"""

import time
from collections.abc import Mapping
from typing import Protocol

from confluent_kafka import OFFSET_INVALID, Consumer, KafkaError, KafkaException, TopicPartition

from apps.core.settings.kafka_tls import KafkaTls
from apps.kafka.config import consumer_config


class AwaitsProcessor(Protocol):
    """The settings of a service that waits for the processor."""

    @property
    def kafka_bootstrap(self) -> str: ...
    @property
    def processor_group(self) -> str: ...
    @property
    def events_topic(self) -> str: ...
    @property
    def kafka_tls(self) -> KafkaTls | None: ...


class KafkaUnavailable(Exception):
    """The broker did not answer in time; the job retries later."""


class Progress:
    """Reads the end offsets of the events topic and the processor group's commits."""

    def __init__(self, settings: AwaitsProcessor, client_id: str, timeout: float = 10.0) -> None:
        self._topic = settings.events_topic
        self._timeout = timeout
        self._config = consumer_config(
            settings.kafka_bootstrap, group_id=settings.processor_group, client_id=client_id,
            tls=settings.kafka_tls,
        ) | {"enable.partition.eof": True, "auto.offset.reset": "latest"}  # fmt: skip

    def end_offsets(self) -> dict[int, int]:
        """The offset after the last record of each partition (0 where it is empty)."""
        consumer = Consumer(self._config)
        try:
            listed = self._listed(consumer)
            ends = {p: 0 for p, high in listed.items() if high <= 0}
            pending = {p: high for p, high in listed.items() if high > 0}
            if pending:
                consumer.assign(
                    [TopicPartition(self._topic, p, high - 1) for p, high in pending.items()]
                )
            deadline = time.monotonic() + self._timeout
            while pending:
                if time.monotonic() > deadline:
                    raise KafkaUnavailable(f"partitions {sorted(pending)}: no fetch answered")
                msg = consumer.poll(0.2)
                if msg is None:
                    continue
                error = msg.error()
                partition, offset = msg.partition(), msg.offset()
                if partition is None or partition not in pending:
                    continue
                if error is not None and error.code() != KafkaError._PARTITION_EOF:
                    if not error.retriable():
                        raise KafkaUnavailable(f"partition {partition}: {error.str()}")
                    continue
                # The fetch that brought this record (or end-of-partition) carried the
                # partition's high watermark: the end as of now, past the job's start.
                _, high = consumer.get_watermark_offsets(
                    TopicPartition(self._topic, partition), cached=True
                )
                seen = (offset or 0) + (1 if error is None else 0)
                ends[partition] = max(high, seen, pending.pop(partition))
            return ends
        except KafkaException as e:
            raise KafkaUnavailable(str(e)) from None
        finally:
            consumer.close()

    def committed(self, partitions: Mapping[int, int]) -> dict[int, int]:
        """The processor group's committed offset of each partition (-1: none yet)."""
        consumer = Consumer(self._config)
        try:
            found = consumer.committed(
                [TopicPartition(self._topic, p) for p in partitions], timeout=self._timeout
            )
        except KafkaException as e:
            raise KafkaUnavailable(str(e)) from None
        finally:
            consumer.close()
        out: dict[int, int] = {}
        for tp in found:
            if tp.error is not None:
                raise KafkaUnavailable(f"partition {tp.partition}: {tp.error}")
            out[tp.partition] = -1 if tp.offset == OFFSET_INVALID else tp.offset
        return out

    def _listed(self, consumer: Consumer) -> dict[int, int]:
        meta = consumer.list_topics(self._topic, timeout=self._timeout)
        topic = meta.topics.get(self._topic)
        if topic is None or topic.error is not None or not topic.partitions:
            why = topic.error if topic is not None else "missing"
            raise KafkaUnavailable(f"topic {self._topic}: {why}")
        return {
            p: consumer.get_watermark_offsets(
                TopicPartition(self._topic, p), timeout=self._timeout
            )[1]
            for p in sorted(topic.partitions)
        }


def behind(needed: Mapping[int, int], committed: Mapping[int, int]) -> dict[int, int]:
    """The partitions whose committed offset is short of the one needed, with how far."""
    return {
        p: end - committed.get(p, -1)
        for p, end in needed.items()
        if end > 0 and committed.get(p, -1) < end
    }
