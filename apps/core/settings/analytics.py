"""The analytics API's settings: its environment variables, declared once."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from types import MappingProxyType

from apps.core import buckets, services
from apps.core.settings import common
from apps.core.settings.contract import SECTION, ServiceSettings, Settings, env
from apps.core.settings.s3 import S3Settings
from apps.core.topics import Stack


@dataclass(frozen=True, slots=True, kw_only=True)
class QueryLimits(Settings):
    """Bounds on one GraphQL document, checked before anything runs (apps/analytics/limits.py)."""

    max_depth: int = field(
        default=4,
        metadata=env(
            "ANALYTICS_MAX_DEPTH",
            "nesting of selections; the deepest useful query (game/retention/retained) has 3",
            minimum=3, maximum=50,
        ),
    )  # fmt: skip
    max_aliases: int = field(
        default=20, metadata=env("ANALYTICS_MAX_ALIASES", "aliases per document", maximum=1000)
    )
    max_tokens: int = field(
        default=2000,
        metadata=env(
            "ANALYTICS_MAX_TOKENS",
            "lexical tokens of the document: bounds parsing work whatever else it holds",
            minimum=100,
        ),
    )
    max_complexity: int = field(
        default=20,
        metadata=env(
            "ANALYTICS_MAX_COMPLEXITY",
            "sum of the weights of the metric fields selected (limits.FIELD_WEIGHTS)",
            minimum=1,
        ),
    )
    max_fields: int = field(
        default=100,
        metadata=env(
            "ANALYTICS_MAX_FIELDS",
            "field selections of the document with every fragment spread expanded; validation"
            " time grows with their square (a full dashboard query has about 40)",
            minimum=10, maximum=2000,
        ),
    )  # fmt: skip
    max_nesting: int = field(
        default=24,
        metadata=env(
            "ANALYTICS_MAX_NESTING",
            "brackets open at once in the document ({, [ and ( together), and levels of the"
            " JSON body: bounds every recursive walk of the request",
            minimum=8, maximum=100,
        ),
    )  # fmt: skip
    max_json_values: int = field(
        default=2000,
        metadata=env(
            "ANALYTICS_MAX_JSON_VALUES",
            "values in the JSON body, variables included: coercing them takes time per value"
            " (the largest useful variables hold a few hundred)",
            minimum=100,
        ),
    )
    request_timeout: timedelta = field(
        default=timedelta(seconds=15),
        metadata=env(
            "ANALYTICS_REQUEST_TIMEOUT_SECONDS",
            "time budget of one request from parsing to the last field; beyond it the request"
            " is refused",
            minimum=0.01,
        ),
    )
    max_body_bytes: int = field(
        default=64 * 1024,
        metadata=env(
            "ANALYTICS_MAX_BODY_BYTES", "largest request body",
            minimum=1024, maximum=16 * 1024 * 1024,
        ),
    )  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class AnalyticsSettings(ServiceSettings):
    SERVICE = services.ANALYTICS

    postgres_dsn: str = field(metadata=common.POSTGRES_DSN)
    redis_url: str = field(metadata=common.REDIS_URL)
    host: str = common.host(services.ANALYTICS)
    port: int = common.port(services.ANALYTICS)
    workers: int = common.workers(services.ANALYTICS)
    stack: Stack = field(default="local", metadata=common.STACK)
    archive_bucket: str = field(default=buckets.ARCHIVE.local_name, metadata=common.ARCHIVE_BUCKET)
    s3: S3Settings = field(default_factory=S3Settings, metadata=SECTION)
    pool_size: int = field(
        default=10,
        metadata=env(
            "ANALYTICS_POOL_SIZE",
            "connections per worker process: the most metric queries it runs at once",
            minimum=1, maximum=200,
        ),
    )  # fmt: skip
    validation_processes: int = field(
        default=1,
        metadata=env(
            "ANALYTICS_VALIDATION_PROCESSES",
            "worker processes that validate large documents (apps/analytics/validator.py)",
            minimum=1, maximum=32,
        ),
    )  # fmt: skip
    statement_timeout: timedelta = field(
        default=timedelta(seconds=10),
        metadata=env(
            "ANALYTICS_STATEMENT_TIMEOUT_SECONDS",
            "applies to every SQL statement of the service; beyond it a query is refused",
            minimum=0.01,
        ),
    )
    graphiql: bool = field(
        default=True,
        metadata=env(
            "ANALYTICS_GRAPHIQL", "serve GraphiQL on GET /graphql (default: on for local only)",
            default_from=lambda read: read.get("stack") == "local",
        ),
    )  # fmt: skip
    introspection: bool = field(
        default=False,
        metadata=env(
            "ANALYTICS_INTROSPECTION",
            "answer __schema and __type (GraphiQL needs them; default: on for local only)",
            default_from=lambda read: read.get("stack") == "local",
        ),
    )  # fmt: skip
    cache: bool = field(
        default=True, metadata=env("ANALYTICS_CACHE", "keep answers in Redis (cache.py)")
    )
    cache_ttl: timedelta = field(
        default=timedelta(hours=1),
        metadata=env(
            "ANALYTICS_CACHE_TTL_SECONDS",
            "how long an unused answer stays in Redis; freshness never depends on it",
            minimum=1,
        ),
    )
    usd_rates: tuple[tuple[str, float], ...] = common.usd_rates()
    """A tuple, so the settings pickle into worker processes."""
    limits: QueryLimits = field(default_factory=QueryLimits, metadata=SECTION)

    @property
    def usd_per_unit(self) -> Mapping[str, float]:
        return MappingProxyType(dict(self.usd_rates))
