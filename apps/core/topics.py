"""Kafka topics, declared once: the apps create and use them, infra derives KafkaTopics."""

from dataclasses import dataclass
from datetime import timedelta
from typing import Final, Literal

Stack = Literal["local", "dev", "staging", "prod"]
STACKS: Final[tuple[Stack, ...]] = ("local", "dev", "staging", "prod")


@dataclass(frozen=True, slots=True)
class Topic:
    name: str
    partitions: dict[Stack, int]
    retention: timedelta
    purpose: str
    compression: str = "zstd"

    def partitions_for(self, stack: Stack) -> int:
        return self.partitions[stack]

    def config(self) -> dict[str, str]:
        """Topic-level configuration, as the broker and Strimzi's KafkaTopic take it."""
        return {
            "retention.ms": str(int(self.retention.total_seconds() * 1000)),
            "compression.type": self.compression,
            "cleanup.policy": "delete",
        }


EVENTS: Final = Topic(
    name="gm.events.v1",
    partitions={"local": 2, "dev": 6, "staging": 12, "prod": 48},
    retention=timedelta(days=7),
    purpose="validated gameplay events, keyed by game and player (ingest -> processor)",
)
"""Locally one processor reads every partition, so more than two would only split each
produce into more, smaller batches, which the local broker pays for per fetched batch
times the batches it holds (docs/benchmarks.md, "The local broker")."""
EVENTS_DLQ: Final = Topic(
    name="gm.events.dlq.v1",
    partitions={"local": 1, "dev": 1, "staging": 3, "prod": 6},
    retention=timedelta(days=30),
    purpose="records the processor could not decode or store, with the reason in a header",
)
ALL: Final[tuple[Topic, ...]] = (EVENTS, EVENTS_DLQ)
