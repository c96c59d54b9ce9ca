"""What one running ingestion API holds: clients opened at start-up and closed at shutdown."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import redis.asyncio as aioredis
from psycopg_pool import AsyncConnectionPool

from apps.core.settings.ingest import IngestSettings
from apps.ingest.auth import KeyResolver, stop_task
from apps.ingest.metrics import IngestMetrics
from apps.ingest.ratelimit import RateLimiter
from apps.ingest.suppressions import Suppressions
from apps.kafka.config import producer_config
from apps.kafka.producer import AsyncProducer

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: IngestSettings
    pool: AsyncConnectionPool
    keys: KeyResolver
    suppressions: Suppressions
    limiter: RateLimiter
    producer: AsyncProducer
    metrics: IngestMetrics


@contextlib.asynccontextmanager
async def open_runtime(settings: IngestSettings) -> AsyncIterator[Runtime]:
    """Open every client; on exit flush the producer and close them all.

    Start-up does not wait for the database or Redis: /readyz reports them,
    and requests answer 503 while a backend is down.
    """
    pool = AsyncConnectionPool(
        settings.postgres_dsn, min_size=1, max_size=8, open=False, kwargs={"autocommit": True}
    )
    await pool.open(wait=False)
    redis_client = aioredis.Redis.from_url(
        settings.redis_url, socket_timeout=0.5, socket_connect_timeout=0.5
    )
    delivery_ms = int(settings.delivery_timeout.total_seconds() * 1000)
    producer = AsyncProducer(
        producer_config(
            settings.kafka_bootstrap,
            client_id="gamemetrics-ingest",
            delivery_timeout_ms=delivery_ms,
            linger_ms=settings.kafka_linger.total_seconds() * 1000,
            tls=settings.kafka_tls,
        )
    )
    producer.start()
    resolver = KeyResolver(pool, settings.postgres_dsn, settings.key_cache_ttl)
    listener = asyncio.create_task(resolver.run_listener(), name="key-listener")
    suppressions = Suppressions(pool, settings.postgres_dsn)
    suppression_listener = asyncio.create_task(
        suppressions.run_listener(), name="suppression-listener"
    )
    metrics = IngestMetrics(lambda: producer.queue_depth)
    rt = Runtime(
        settings=settings,
        pool=pool,
        keys=resolver,
        suppressions=suppressions,
        limiter=RateLimiter(redis_client, metrics.rate_limiter_failures),
        producer=producer,
        metrics=metrics,
    )
    try:
        yield rt
    finally:
        await stop_task(listener)
        await stop_task(suppression_listener)
        left = await producer.close(5.0)
        if left:
            log.error("%d records were still unacknowledged at shutdown", left)
        await redis_client.aclose()
        await pool.close()
