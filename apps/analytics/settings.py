"""The analytics API's configuration, built once in its `main` from the environment."""

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from types import MappingProxyType

from apps.core.config import EnvReader
from apps.core.currency import USD_PER_UNIT
from apps.core.errors import ConfigError
from apps.core.topics import STACKS, Stack


@dataclass(frozen=True, slots=True)
class QueryLimits:
    """Bounds on one GraphQL document, checked before anything runs (see limits.py)."""

    max_depth: int = 4
    """Nesting of selections; the deepest useful query (game/retention/retained) has 3."""
    max_aliases: int = 20
    max_tokens: int = 2000
    """Lexical tokens of the document: bounds parsing work whatever else it holds."""
    max_complexity: int = 20
    """Sum of the weights of the metric fields selected (limits.FIELD_WEIGHTS)."""
    max_body_bytes: int = 64 * 1024


@dataclass(frozen=True, slots=True)
class AnalyticsSettings:
    postgres_dsn: str
    redis_url: str
    host: str = "127.0.0.1"
    port: int = 8082
    workers: int = 1
    stack: Stack = "local"
    pool_size: int = 10
    """Connections per worker process: the most metric queries it runs at once."""
    statement_timeout: timedelta = timedelta(seconds=10)
    """Applies to every SQL statement of the service; beyond it a query is refused."""
    graphiql: bool = True
    """Serve GraphiQL on GET /graphql; defaults to on only for the local stack."""
    cache: bool = True
    cache_ttl: timedelta = timedelta(hours=1)
    """How long an unused answer stays in Redis; freshness never depends on it (cache.py)."""
    usd_rates: tuple[tuple[str, float], ...] = tuple(sorted(USD_PER_UNIT.items()))
    """USD per unit of each currency (a tuple, so the settings pickle into worker processes)."""
    limits: QueryLimits = field(default_factory=QueryLimits)

    @property
    def usd_per_unit(self) -> Mapping[str, float]:
        return MappingProxyType(dict(self.usd_rates))

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "AnalyticsSettings":
        read = EnvReader(env)
        stack = read.text("STACK", "local")
        if stack not in STACKS:
            raise ConfigError(f"{read.key('STACK')}={stack!r}; allowed: {', '.join(STACKS)}")
        return cls(
            postgres_dsn=read.text("POSTGRES_DSN"),
            redis_url=read.text("REDIS_URL"),
            host=read.text("ANALYTICS_HOST", "0.0.0.0"),  # noqa: S104 - a container listens on all
            port=read.integer("ANALYTICS_PORT", 8082, minimum=1, maximum=65535),
            workers=read.integer("ANALYTICS_WORKERS", 1, minimum=1, maximum=64),
            stack=stack,  # narrowed to Stack by the check above
            pool_size=read.integer("ANALYTICS_POOL_SIZE", 10, minimum=1, maximum=200),
            statement_timeout=read.seconds(
                "ANALYTICS_STATEMENT_TIMEOUT_SECONDS", timedelta(seconds=10), minimum=0.01
            ),
            graphiql=read.flag("ANALYTICS_GRAPHIQL", stack == "local"),
            cache=read.flag("ANALYTICS_CACHE", True),
            cache_ttl=read.seconds("ANALYTICS_CACHE_TTL_SECONDS", timedelta(hours=1), minimum=1),
            usd_rates=usd_rates(read.key("USD_RATES"), env.get(read.key("USD_RATES"), "")),
            limits=QueryLimits(
                max_depth=read.integer("ANALYTICS_MAX_DEPTH", 4, minimum=3, maximum=50),
                max_aliases=read.integer("ANALYTICS_MAX_ALIASES", 20, minimum=0, maximum=1000),
                max_tokens=read.integer("ANALYTICS_MAX_TOKENS", 2000, minimum=100),
                max_complexity=read.integer("ANALYTICS_MAX_COMPLEXITY", 20, minimum=1),
                max_body_bytes=read.integer(
                    "ANALYTICS_MAX_BODY_BYTES", 64 * 1024, minimum=1024, maximum=16 * 1024 * 1024
                ),
            ),
        )


def usd_rates(key: str, raw: str) -> tuple[tuple[str, float], ...]:
    """The shipped rate table with `CODE=RATE,...` overrides (USD per unit) merged over it.

    Codes are three upper-case letters; a rate is a positive finite number. A code
    the table lacks may be added (ingestion accepts only listed ones, so it matters
    only once the table ships it too).
    """
    rates = dict(USD_PER_UNIT)
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        code, sep, value = item.partition("=")
        code = code.strip()
        if not sep or len(code) != 3 or not code.isascii() or not code.isupper():
            raise ConfigError(f"{key}: {item!r} is not CODE=RATE with a 3-letter ISO 4217 code")
        try:
            rate = float(value)
        except ValueError:
            raise ConfigError(
                f"{key}: the rate of {code} ({value.strip()!r}) is not a number"
            ) from None
        if not math.isfinite(rate) or rate <= 0:
            raise ConfigError(f"{key}: the rate of {code} must be a positive number, not {rate}")
        rates[code] = rate
    return tuple(sorted(rates.items()))
