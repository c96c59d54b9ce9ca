"""The users API's settings: its environment variables, declared once."""

from dataclasses import dataclass, field
from datetime import timedelta

from apps.core import services
from apps.core.settings import common
from apps.core.settings.contract import ServiceSettings, env
from apps.core.topics import Stack


@dataclass(frozen=True, slots=True, kw_only=True)
class UsersSettings(ServiceSettings):
    SERVICE = services.USERS

    postgres_dsn: str = field(metadata=common.POSTGRES_DSN)
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
