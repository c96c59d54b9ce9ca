"""Variables several services share, declared once, and the per-service listen address.

`STACK`, `POSTGRES_DSN`, `KAFKA_BOOTSTRAP` and `REDIS_URL` mean the same for
every service that reads them, so they are one declaration; each service's
host and port variables are named after the service and default to its
`apps/core/services.py` entry.
"""

from dataclasses import field
from typing import Any, Final

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
