"""The processor's configuration, built once in its `main` from the environment."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from apps.core.config import EnvReader
from apps.core.topics import EVENTS, EVENTS_DLQ
from apps.kafka.tls import KafkaTls


@dataclass(frozen=True, slots=True)
class ProcessorSettings:
    postgres_dsn: str
    kafka_bootstrap: str
    host: str = "127.0.0.1"
    port: int = 8081
    group_id: str = "gamemetrics-processor"
    events_topic: str = EVENTS.name
    dlq_topic: str = EVENTS_DLQ.name
    max_batch: int = 5000
    """Records per batch (one transaction); bounds memory whatever the backlog."""
    batch_wait: timedelta = timedelta(milliseconds=250)
    """How long a batch waits to fill: the floor of freshness when traffic is light, and
    at 50,000 events/s what lets two lanes write full batches (fewer transactions)."""
    writers: int = 2
    """Batches written at once, each on its own connection, by partition (p % writers):
    PostgreSQL works on several while the processor decodes the next."""
    kafka_tls: KafkaTls | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "ProcessorSettings":
        read = EnvReader(env)
        return cls(
            postgres_dsn=read.text("POSTGRES_DSN"),
            kafka_bootstrap=read.text("KAFKA_BOOTSTRAP"),
            host=read.text("PROCESSOR_HOST", "0.0.0.0"),  # noqa: S104 - a container listens on all
            port=read.integer("PROCESSOR_PORT", 8081, minimum=1, maximum=65535),
            group_id=read.text("PROCESSOR_GROUP", "gamemetrics-processor"),
            max_batch=read.integer("PROCESSOR_MAX_BATCH", 5000, minimum=1, maximum=100_000),
            batch_wait=read.seconds(
                "PROCESSOR_BATCH_WAIT_SECONDS", timedelta(milliseconds=250), minimum=0.001
            ),
            writers=read.integer("PROCESSOR_WRITERS", 2, minimum=1, maximum=16),
            kafka_tls=KafkaTls.from_env(read),
        )
