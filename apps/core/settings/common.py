"""Variables several services share, declared once, and the per-service listen address.

`STACK`, `POSTGRES_DSN`, `KAFKA_BOOTSTRAP`, `REDIS_URL` and `USD_RATES` mean the
same for every service that reads them, so they are one declaration; each service's
host and port variables are named after the service and default to its
`apps/core/services.py` entry.
"""

import math
from dataclasses import field
from typing import Any, Final

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
