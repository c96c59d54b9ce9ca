"""The processor's settings: its environment variables, declared once."""

from dataclasses import dataclass, field
from datetime import timedelta

from apps.core import services
from apps.core.settings import common
from apps.core.settings.contract import SECTION, ServiceSettings, Wire, env
from apps.core.settings.kafka_tls import KafkaTls
from apps.core.topics import EVENTS, EVENTS_DLQ, Stack


@dataclass(frozen=True, slots=True, kw_only=True)
class ProcessorSettings(ServiceSettings):
    SERVICE = services.PROCESSOR

    postgres_dsn: str = field(metadata=common.POSTGRES_DSN)
    kafka_bootstrap: str = field(metadata=common.KAFKA_BOOTSTRAP)
    host: str = common.host(services.PROCESSOR)
    port: int = common.port(services.PROCESSOR)
    stack: Stack = field(default="local", metadata=common.STACK)
    group_id: str = field(
        default=services.PROCESSOR.consumer_group,
        metadata=env(
            "PROCESSOR_GROUP", "the consumer group (its committed offsets are the progress)",
            wire=Wire.CONSUMER_GROUP,
        ),
    )  # fmt: skip
    events_topic: str = EVENTS.name
    dlq_topic: str = EVENTS_DLQ.name
    max_batch: int = field(
        default=5000,
        metadata=env(
            "PROCESSOR_MAX_BATCH",
            "records per batch (one transaction); bounds memory whatever the backlog",
            minimum=1, maximum=100_000,
        ),
    )  # fmt: skip
    batch_wait: timedelta = field(
        default=timedelta(milliseconds=250),
        metadata=env(
            "PROCESSOR_BATCH_WAIT_SECONDS",
            "how long a batch waits to fill: the floor of freshness when traffic is light, "
            "and at 50,000 events/s what lets two lanes write full batches",
            minimum=0.001,
        ),
    )
    writers: int = field(
        default=2,
        metadata=env(
            "PROCESSOR_WRITERS",
            "batches written at once, each on its own connection, by partition (p % writers)",
            minimum=1, maximum=16,
        ),
    )  # fmt: skip
    kafka_tls: KafkaTls | None = field(default=None, metadata=SECTION)
