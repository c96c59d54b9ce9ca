"""What resolvers are given: the process's runtime (settings, pool, cache, metrics) and the
request's caller."""

import contextlib
import logging
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from typing import Any

import psycopg
import redis.asyncio as aioredis
from psycopg_pool import AsyncConnectionPool

from apps.analytics.cache import ResultCache
from apps.analytics.metrics import AnalyticsMetrics
from apps.analytics.prepare import Prepared
from apps.analytics.validator import Validator
from apps.archive.read import ArchiveReader
from apps.core.settings.analytics import AnalyticsSettings
from apps.store.tokens import TokenGrant

log = logging.getLogger(__name__)
_ARCHIVE_THREADS = 4
"""Archive reads at once per process (each reads up to 8 parts at once itself)."""


@dataclass(frozen=True, slots=True)
class Runtime:
    """Opened once per process in the app's lifespan."""

    settings: AnalyticsSettings
    pool: AsyncConnectionPool
    cache: ResultCache
    metrics: AnalyticsMetrics
    validator: Validator
    archive: ArchiveReader
    """Reads the days only the archive holds; S3 is reached only by the queries that
    need such a day (readiness does not depend on it)."""
    archive_threads: ThreadPoolExecutor
    """The threads those reads block: their own, so a slow S3 never takes the default
    threads asyncio resolves host names with."""


@dataclass(frozen=True, slots=True)
class Context:
    """One request's: who asks (checked before execution), the UTC day it asks on, and the
    document it runs (parsed and validated by apps/analytics/prepare.py)."""

    runtime: Runtime
    grant: TokenGrant
    today: date
    prepared: Prepared


@contextlib.asynccontextmanager
async def open_runtime(settings: AnalyticsSettings) -> AsyncIterator[Runtime]:
    """Open the pool, the Redis client and the validation workers; close them on exit.

    Start-up does not wait for PostgreSQL, Redis or S3: /readyz reports PostgreSQL,
    requests answer an error while it is down, and work without Redis; only answers
    that need an archived day need S3. It waits for the validation workers (a second
    or two), which no request should pay.
    """
    timeout_ms = max(1, int(settings.statement_timeout.total_seconds() * 1000))

    async def configure(conn: psycopg.AsyncConnection[Any]) -> None:
        # Every statement of the service, token lookups included, runs under the timeout.
        await conn.execute("SELECT set_config('statement_timeout', %s, false)", (str(timeout_ms),))

    pool = AsyncConnectionPool(
        settings.postgres_dsn,
        min_size=1,
        max_size=settings.pool_size,
        open=False,
        kwargs={"autocommit": True},
        configure=configure,
        check=AsyncConnectionPool.check_connection,
        # Fields of one request share the pool: a wait covers a sibling's statement.
        timeout=5.0 + settings.statement_timeout.total_seconds(),
    )
    await pool.open(wait=False)
    metrics = AnalyticsMetrics()
    client = (
        aioredis.Redis.from_url(
            settings.redis_url, socket_timeout=0.25, socket_connect_timeout=0.25
        )
        if settings.cache
        else None
    )
    validator = Validator(settings.validation_processes)
    archive_threads = ThreadPoolExecutor(_ARCHIVE_THREADS, thread_name_prefix="archive-read")
    try:
        await validator.start()
        cache = ResultCache(client, settings.cache_ttl, metrics)
        archive = ArchiveReader(settings.s3, settings.archive_bucket)
        yield Runtime(settings, pool, cache, metrics, validator, archive, archive_threads)
    finally:
        archive_threads.shutdown(wait=False, cancel_futures=True)
        validator.close()
        if client is not None:
            await client.aclose()
        await pool.close()
