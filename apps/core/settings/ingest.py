"""The ingestion service's settings: its environment variables, declared once."""

from dataclasses import dataclass, field
from datetime import timedelta

from apps.core import limits, services
from apps.core.settings import common
from apps.core.settings.contract import SECTION, ServiceSettings, env
from apps.core.settings.kafka_tls import KafkaTls
from apps.core.topics import EVENTS, Stack


@dataclass(frozen=True, slots=True, kw_only=True)
class IngestSettings(ServiceSettings):
    SERVICE = services.INGEST

    postgres_dsn: str = field(metadata=common.POSTGRES_DSN)
    kafka_bootstrap: str = field(metadata=common.KAFKA_BOOTSTRAP)
    redis_url: str = field(metadata=common.REDIS_URL)
    host: str = common.host(services.INGEST)
    port: int = common.port(services.INGEST)
    workers: int = common.workers(services.INGEST)
    stack: Stack = field(default="local", metadata=common.STACK)
    events_topic: str = EVENTS.name
    late_horizon: timedelta = field(
        default=limits.DEFAULT_LATE_HORIZON, metadata=common.LATE_HORIZON
    )
    delivery_timeout: timedelta = field(
        default=timedelta(seconds=5),
        metadata=env(
            "DELIVERY_TIMEOUT_SECONDS",
            "how long a request waits for the brokers' acknowledgement before a 503",
            minimum=0.1,
        ),
    )
    kafka_linger: timedelta = field(
        default=timedelta(milliseconds=10),
        metadata=env(
            "INGEST_KAFKA_LINGER_SECONDS",
            "how long the producer gathers records into a batch: part of every 202's latency",
        ),
    )
    key_cache_ttl: timedelta = field(
        default=timedelta(seconds=60),
        metadata=env(
            "KEY_CACHE_TTL_SECONDS",
            "how long a resolved ingest key is trusted without asking PostgreSQL "
            "(revocations reach running services at once through NOTIFY)",
        ),
    )
    read_timeout: timedelta = field(
        default=limits.READ_TIMEOUT,
        metadata=env(
            "INGEST_READ_TIMEOUT_SECONDS",
            "how long a client may take to send a request body once its headers are in "
            "(then 408 and the connection is closed)",
            minimum=0.01,
        ),
    )
    kafka_tls: KafkaTls | None = field(default=None, metadata=SECTION)
