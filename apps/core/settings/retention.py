"""The retention service's settings: its environment variables, declared once."""

from dataclasses import dataclass, field
from datetime import timedelta

from apps.core import buckets, limits, services
from apps.core.settings import common
from apps.core.settings.contract import SECTION, ServiceSettings, env
from apps.core.settings.kafka_tls import KafkaTls
from apps.core.settings.s3 import S3Settings
from apps.core.topics import EVENTS, Stack


@dataclass(frozen=True, slots=True, kw_only=True)
class RetentionSettings(ServiceSettings):
    SERVICE = services.RETENTION

    postgres_dsn: str = field(metadata=common.POSTGRES_DSN)
    kafka_bootstrap: str = field(metadata=common.KAFKA_BOOTSTRAP)
    host: str = common.host(services.RETENTION)
    port: int = common.port(services.RETENTION)
    stack: Stack = field(default="local", metadata=common.STACK)
    archive_bucket: str = field(default=buckets.ARCHIVE.local_name, metadata=common.ARCHIVE_BUCKET)
    late_horizon: timedelta = field(
        default=limits.DEFAULT_LATE_HORIZON, metadata=common.LATE_HORIZON
    )
    interval: timedelta = field(
        default=timedelta(hours=1),
        metadata=env(
            "RETENTION_INTERVAL_SECONDS",
            "time between the starts of two passes (`gamemetrics retention run --once` runs"
            " one now)",
            minimum=1, maximum=7 * 24 * 3600,
        ),
    )  # fmt: skip
    retry_initial: timedelta = field(
        default=timedelta(seconds=5),
        metadata=env(
            "RETENTION_RETRY_INITIAL_SECONDS",
            "wait before retrying a pass that stopped on a fault (S3, PostgreSQL or Kafka"
            " down); doubled after each failure, up to the interval",
            minimum=0.1, maximum=3600,
        ),
    )  # fmt: skip
    rows_per_part: int = field(
        default=1_000_000,
        metadata=env(
            "RETENTION_ROWS_PER_PART",
            "rows of one Parquet part: what a pass holds in memory at once (about 250 MB"
            " per million rows of the benchmark's events while writing)",
            minimum=1, maximum=10_000_000,
        ),
    )  # fmt: skip
    rows_per_group: int = field(
        default=100_000,
        metadata=env(
            "RETENTION_ROWS_PER_GROUP",
            "rows of one Parquet row group: readers skip whole groups by their player_id"
            " and event_time ranges",
            minimum=1, maximum=10_000_000,
        ),
    )  # fmt: skip
    prepare_ahead: int = field(
        default=2,
        metadata=env(
            "RETENTION_PREPARE_AHEAD",
            "daily partitions a pass reads, writes and verifies at once (each on a database"
            " connection of its own, each holding a part in memory); commits stay in order",
            minimum=1, maximum=16,
        ),
    )  # fmt: skip
    statement_timeout: timedelta = field(
        default=timedelta(minutes=10),
        metadata=env(
            "RETENTION_STATEMENT_TIMEOUT_SECONDS",
            "applies to every SQL statement of a pass (deleting a large day takes a while)",
            minimum=1,
        ),
    )  # fmt: skip
    kafka_wait: timedelta = field(
        default=timedelta(minutes=10),
        metadata=env(
            "RETENTION_KAFKA_WAIT_SECONDS",
            "how long a pass waits for the processor to store the events in flight before"
            " it deletes nothing and retries later",
            minimum=1, maximum=24 * 3600,
        ),
    )  # fmt: skip
    processor_group: str = field(
        default=services.RETENTION.awaits[0].consumer_group,
        metadata=env(
            "RETENTION_PROCESSOR_GROUP",
            "the processor's consumer group, whose committed offsets a pass waits for",
        ),
    )  # fmt: skip
    events_topic: str = EVENTS.name
    s3: S3Settings = field(default_factory=S3Settings, metadata=SECTION)
    kafka_tls: KafkaTls | None = field(default=None, metadata=SECTION)
