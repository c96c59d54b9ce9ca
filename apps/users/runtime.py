"""What a running users service holds: its settings, a PostgreSQL pool and its metrics.

The store modules (apps/store) are synchronous and argon2id is CPU work, so
every request's database work runs in a worker thread on a pooled
connection (autocommit: each store function opens its own transaction, and a
handler that changes several things wraps them in one).
"""

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
from prometheus_client import CollectorRegistry, Counter, Histogram
from psycopg.rows import TupleRow
from psycopg_pool import ConnectionPool

from apps.archive.eraser import register_archive
from apps.core.erasers import Erasers
from apps.core.settings.users import UsersSettings
from apps.store.erasure import register_postgres


class UsersMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "users_requests", "requests answered, by route and status",
            ["route", "status"], registry=self.registry,
        )  # fmt: skip
        self.logins = Counter(
            "users_logins", "login attempts by outcome (ok, failed, throttled)",
            ["outcome"], registry=self.registry,
        )  # fmt: skip
        self.latency = Histogram(
            "users_request_seconds", "time to answer a request", registry=self.registry
        )
        self.privacy_jobs = Counter(
            "users_privacy_jobs", "privacy job runs by kind and outcome (done, failed, retry,"
            " taken_over, handed_back)", ["kind", "outcome"], registry=self.registry,
        )  # fmt: skip
        self.privacy_seconds = Histogram(
            "users_privacy_job_seconds", "time of one run of a privacy job", ["kind"],
            buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800), registry=self.registry,
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Runtime:
    settings: UsersSettings
    pool: "ConnectionPool[psycopg.Connection[TupleRow]]"
    metrics: UsersMetrics


@contextlib.contextmanager
def open_runtime(settings: UsersSettings) -> Iterator[Runtime]:
    """Open the pool without waiting for PostgreSQL (/readyz reports it); close it on exit."""
    timeout_ms = max(1, int(settings.statement_timeout.total_seconds() * 1000))

    def configure(conn: psycopg.Connection[Any]) -> None:
        conn.execute("SELECT set_config('statement_timeout', %s, false)", (str(timeout_ms),))

    pool: ConnectionPool[psycopg.Connection[TupleRow]] = ConnectionPool(
        settings.postgres_dsn,
        min_size=1,
        max_size=settings.pool_size,
        open=False,
        kwargs={"autocommit": True},
        configure=configure,
        check=ConnectionPool.check_connection,
        timeout=5.0,
    )
    pool.open(wait=False)
    try:
        yield Runtime(settings, pool, UsersMetrics())
    finally:
        pool.close()


def platform_erasers(settings: UsersSettings) -> Erasers:
    """Every store a player's erasure must reach: PostgreSQL first, then the raw-event
    archive on S3, then each store a later service adds (its eraser registered here)."""
    erasers = Erasers()
    register_postgres(erasers, settings.postgres_dsn)
    register_archive(erasers, settings.postgres_dsn, settings.s3, settings.archive_bucket)
    return erasers
