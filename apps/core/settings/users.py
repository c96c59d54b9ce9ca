"""The users API's settings: its environment variables, declared once."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from types import MappingProxyType

from apps.core import buckets, services
from apps.core.settings import common
from apps.core.settings.contract import SECTION, ServiceSettings, env
from apps.core.settings.kafka_tls import KafkaTls
from apps.core.settings.s3 import S3Settings
from apps.core.topics import EVENTS, Stack


@dataclass(frozen=True, slots=True, kw_only=True)
class UsersSettings(ServiceSettings):
    SERVICE = services.USERS

    postgres_dsn: str = field(metadata=common.POSTGRES_DSN)
    kafka_bootstrap: str = field(metadata=common.KAFKA_BOOTSTRAP)
    host: str = common.host(services.USERS)
    port: int = common.port(services.USERS)
    workers: int = common.workers(services.USERS)
    stack: Stack = field(default="local", metadata=common.STACK)
    pool_size: int = field(
        default=8,
        metadata=env(
            "USERS_POOL_SIZE",
            "connections per worker process: the most requests it serves at once",
            minimum=1, maximum=100,
        ),
    )  # fmt: skip
    statement_timeout: timedelta = field(
        default=timedelta(seconds=5),
        metadata=env(
            "USERS_STATEMENT_TIMEOUT_SECONDS", "applies to every SQL statement of the service",
            minimum=0.01,
        ),
    )  # fmt: skip
    session_ttl: timedelta = field(
        default=timedelta(hours=12),
        metadata=env(
            "USERS_SESSION_TTL_SECONDS", "how long a session token from POST /v1/sessions works",
            minimum=60, maximum=30 * 24 * 3600,
        ),
    )  # fmt: skip
    login_window: timedelta = field(
        default=timedelta(minutes=15),
        metadata=env(
            "USERS_LOGIN_WINDOW_SECONDS",
            "the throttling window: failed logins count within it, and a refused login may"
            " retry when it closes (Retry-After)",
            minimum=1, maximum=24 * 3600,
        ),
    )  # fmt: skip
    login_failures_per_account: int = field(
        default=5,
        metadata=env(
            "USERS_LOGIN_FAILURES_PER_ACCOUNT",
            "failed logins for one email in a window before its logins are refused (429)",
            minimum=1, maximum=1000,
        ),
    )  # fmt: skip
    login_failures_per_address: int = field(
        default=20,
        metadata=env(
            "USERS_LOGIN_FAILURES_PER_ADDRESS",
            "failed logins from one client address in a window before its logins are refused",
            minimum=1, maximum=100_000,
        ),
    )  # fmt: skip
    max_body_bytes: int = field(
        default=16 * 1024,
        metadata=env(
            "USERS_MAX_BODY_BYTES", "largest request body (every body is a small JSON object)",
            minimum=1024, maximum=1024 * 1024,
        ),
    )  # fmt: skip
    privacy_signing_key: str | None = field(
        default=None,
        metadata=env(
            "USERS_PRIVACY_SIGNING_KEY",
            "Ed25519 private key (32 bytes, base64) that signs erasure receipts; unset, the"
            " service makes one and keeps it in PostgreSQL (privacy_signing_keys)",
            secret=True,
        ),
    )  # fmt: skip
    privacy_runners: int = field(
        default=1,
        metadata=env(
            "USERS_PRIVACY_RUNNERS", "privacy jobs (export, erasure) run at once per worker",
            minimum=0, maximum=16,
        ),
    )  # fmt: skip
    privacy_lease: timedelta = field(
        default=timedelta(seconds=30),
        metadata=env(
            "USERS_PRIVACY_LEASE_SECONDS",
            "a running job is its runner's for this long, renewed while it runs: a runner"
            " killed mid-job has its job taken over when the lease lapses",
            minimum=0.5, maximum=3600,
        ),
    )  # fmt: skip
    privacy_kafka_wait: timedelta = field(
        default=timedelta(minutes=10),
        metadata=env(
            "USERS_PRIVACY_KAFKA_WAIT_SECONDS",
            "how long a job waits for the processor to store the events in flight when it"
            " started before it fails (naming the partitions behind)",
            minimum=1, maximum=24 * 3600,
        ),
    )  # fmt: skip
    privacy_export_retention: timedelta = field(
        default=timedelta(days=7),
        metadata=env(
            "USERS_PRIVACY_EXPORT_RETENTION_SECONDS",
            "how long a finished export can be downloaded before its data is deleted",
            minimum=60, maximum=90 * 24 * 3600,
        ),
    )  # fmt: skip
    processor_group: str = field(
        default=services.USERS.awaits[0].consumer_group,
        metadata=env(
            "USERS_PROCESSOR_GROUP",
            "the processor's consumer group, whose committed offsets privacy jobs wait for",
        ),
    )  # fmt: skip
    events_topic: str = EVENTS.name
    usd_rates: tuple[tuple[str, float], ...] = common.usd_rates()
    """Player profiles' revenue, converted as the analytics API converts it."""
    archive_bucket: str = field(default=buckets.ARCHIVE.local_name, metadata=common.ARCHIVE_BUCKET)
    s3: S3Settings = field(default_factory=S3Settings, metadata=SECTION)
    kafka_tls: KafkaTls | None = field(default=None, metadata=SECTION)

    @property
    def usd_per_unit(self) -> Mapping[str, float]:
        return MappingProxyType(dict(self.usd_rates))
