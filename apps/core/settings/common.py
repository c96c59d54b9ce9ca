"""Variables several services share, declared once, and the per-service listen address.

`STACK`, `POSTGRES_DSN`, `KAFKA_BOOTSTRAP`, `REDIS_URL`, `USD_RATES` and the S3
variables mean the same for every service that reads them, so they are one
declaration (the S3 ones are grouped by `apps/core/settings/s3.py`); each service's
host and port variables are named after the service and default to its
`apps/core/services.py` entry.
"""

import math
from dataclasses import field
from typing import Any, Final
from urllib.parse import urlsplit

from apps.core.currency import USD_PER_UNIT
from apps.core.errors import ConfigError
from apps.core.services import Service
from apps.core.settings.contract import Wire, env

LOOPBACK: Final = "127.0.0.1"

STACK: Final = env(
    "STACK", "which deployment runs the service: local, dev, staging or prod", wire=Wire.STACK
)
POSTGRES_DSN: Final = env(
    "POSTGRES_DSN",
    "libpq URL of the database (credentials included)",
    secret=True,
    wire=Wire.POSTGRES_DSN,
)
KAFKA_BOOTSTRAP: Final = env(
    "KAFKA_BOOTSTRAP", "the brokers, host:port[,host:port...]", wire=Wire.KAFKA_BOOTSTRAP
)
REDIS_URL: Final = env(
    "REDIS_URL", "redis:// or rediss:// URL (credentials included)", secret=True,
    wire=Wire.REDIS_URL,
)  # fmt: skip


def parse_s3_endpoint(key: str, raw: str) -> str:
    """An http(s) URL with a host and an optional port, nothing more (credentials apart)."""
    url = raw.strip().rstrip("/")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError as e:
        raise ConfigError(f"{key}={raw!r} is not a URL: {e}") from None
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ConfigError(f"{key}={raw!r} must be an http:// or https:// URL with a host")
    if parts.path or parts.query or parts.fragment or parts.username or parts.password:
        raise ConfigError(
            f"{key}={raw!r} must be scheme://host[:port] only; credentials have their own "
            "variables (S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY)"
        )
    return url


S3_ENDPOINT: Final = env(
    "S3_ENDPOINT",
    "http(s):// URL of an S3-compatible store; unset in AWS, where boto3 finds S3 itself",
    wire=Wire.S3_ENDPOINT,
    parse=parse_s3_endpoint,
)
S3_REGION: Final = env(
    "S3_REGION", "the buckets' region; unset: the AWS default chain (AWS_REGION in a pod)"
)
S3_ACCESS_KEY_ID: Final = env(
    "S3_ACCESS_KEY_ID",
    "access key of the local store; unset in AWS, where the pod's IRSA role signs requests",
    secret=True,
    wire=Wire.S3_ACCESS_KEY_ID,
)
S3_SECRET_ACCESS_KEY: Final = env(
    "S3_SECRET_ACCESS_KEY", "secret of S3_ACCESS_KEY_ID", secret=True,
    wire=Wire.S3_SECRET_ACCESS_KEY,
)  # fmt: skip
ARCHIVE_BUCKET: Final = env(
    "S3_ARCHIVE_BUCKET", "the bucket of the raw-event archive", wire=Wire.ARCHIVE_BUCKET
)
LATE_HORIZON: Final = env(
    "LATE_HORIZON_SECONDS",
    "how old an event may be when it arrives (a game may set its own): ingestion refuses"
    " older ones, and retention moves a day out of PostgreSQL only once it is past it",
    minimum=60,
)


def variable_prefix(service: Service) -> str:
    """`INGEST` for ingest, `DATA_RETENTION` for data-retention."""
    return service.name.upper().replace("-", "_")


def host(service: Service) -> Any:
    """The field of the listen address: loopback unless told (a pod is told 0.0.0.0)."""
    return field(
        default=LOOPBACK,
        metadata=env(f"{variable_prefix(service)}_HOST", "listen address", wire=Wire.HOST),
    )


def port(service: Service) -> Any:
    """The field of the listen port, by default the one `services.py` declares."""
    return field(
        default=service.port,
        metadata=env(
            f"{variable_prefix(service)}_PORT", "listen port (HTTP: API, probes, metrics)",
            minimum=1, maximum=65535, wire=Wire.PORT,
        ),
    )  # fmt: skip


def workers(service: Service) -> Any:
    """The field of the worker processes sharing the port (SO_REUSEPORT)."""
    return field(
        default=1,
        metadata=env(
            f"{variable_prefix(service)}_WORKERS",
            "processes sharing the port: one per core the pod or machine gives it",
            minimum=1, maximum=64,
        ),
    )  # fmt: skip


def parse_usd_rates(key: str, raw: str) -> tuple[tuple[str, float], ...]:
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


def _render_rates(rates: tuple[tuple[str, float], ...]) -> str:
    """Only what differs from the shipped table (`parse_usd_rates` merges over it)."""
    return ",".join(f"{code}={rate!r}" for code, rate in rates if USD_PER_UNIT.get(code) != rate)


def usd_rates() -> Any:
    """The field of the USD rate table: the analytics API and the users service's player
    profiles convert revenue alike."""
    return field(
        default=tuple(sorted(USD_PER_UNIT.items())),
        metadata=env(
            "USD_RATES", "CODE=RATE,... (USD per unit) merged over the shipped table",
            parse=parse_usd_rates, render=_render_rates,
        ),
    )  # fmt: skip
