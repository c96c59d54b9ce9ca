"""The ingestion service's configuration, built once in its `main` from the environment."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from apps.core import limits
from apps.core.config import EnvReader
from apps.core.errors import ConfigError
from apps.core.topics import EVENTS, STACKS, Stack
from apps.kafka.tls import KafkaTls
from apps.store.games import DEFAULT_RATE_LIMIT_EPS


@dataclass(frozen=True, slots=True)
class IngestSettings:
    postgres_dsn: str
    kafka_bootstrap: str
    redis_url: str
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    """Processes sharing the port (SO_REUSEPORT): one per core a pod or machine gives it."""
    stack: Stack = "local"
    events_topic: str = EVENTS.name
    late_horizon: timedelta = limits.DEFAULT_LATE_HORIZON
    default_rate_limit_eps: int = DEFAULT_RATE_LIMIT_EPS
    delivery_timeout: timedelta = timedelta(seconds=5)
    kafka_linger: timedelta = timedelta(milliseconds=10)
    """How long the producer gathers records into a batch: part of every 202's latency."""
    key_cache_ttl: timedelta = timedelta(seconds=60)
    kafka_tls: KafkaTls | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "IngestSettings":
        read = EnvReader(env)
        stack = read.text("STACK", "local")
        if stack not in STACKS:
            raise ConfigError(f"{read.key('STACK')}={stack!r}; allowed: {', '.join(STACKS)}")
        return cls(
            postgres_dsn=read.text("POSTGRES_DSN"),
            kafka_bootstrap=read.text("KAFKA_BOOTSTRAP"),
            redis_url=read.text("REDIS_URL"),
            host=read.text("INGEST_HOST", "0.0.0.0"),  # noqa: S104 - a container listens on all
            port=read.integer("INGEST_PORT", 8080, minimum=1, maximum=65535),
            workers=read.integer("INGEST_WORKERS", 1, minimum=1, maximum=64),
            stack=stack,  # narrowed to Stack by the check above
            late_horizon=read.seconds(
                "LATE_HORIZON_SECONDS", limits.DEFAULT_LATE_HORIZON, minimum=60
            ),
            delivery_timeout=read.seconds(
                "DELIVERY_TIMEOUT_SECONDS", timedelta(seconds=5), minimum=0.1
            ),
            kafka_linger=read.seconds(
                "INGEST_KAFKA_LINGER_SECONDS", timedelta(milliseconds=10), minimum=0
            ),
            key_cache_ttl=read.seconds("KEY_CACHE_TTL_SECONDS", timedelta(seconds=60)),
            kafka_tls=KafkaTls.from_env(read),
        )
