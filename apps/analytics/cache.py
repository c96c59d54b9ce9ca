"""Metric answers cached in Redis, never older than the data they were computed from.

Freshness: the key holds the game's data version (`game_versions.version`),
read from PostgreSQL BEFORE the answer is computed. The processor bumps the
version in the same transaction that stores the game's events, so

- an answer stored under version v was computed from data at least as new as v;
- a reader that sees version v' > v looks up another key, and computes.

A hit is therefore exactly as fresh as a computation started at the same
moment would be; the TTL only bounds memory. The key also holds everything
else an answer depends on: the field, its arguments, and the inputs that are
not data (today's date for retention, the USD rates for revenue). It does not
hold the token: access is checked before the cache is asked.

The archive (issue 17): moving a day's raw events to the archive changes no
answer (funnel and eventCounts read the archived days), so it bumps no version.
An archived day expires by the calendar (the game's `archive_days`), not by a
new version: the keys of the fields that read raw events hold today's date. An
erasure changes answers: PostgreSQL's eraser bumps the version as it commits,
and the archive's eraser must bump it again in the transaction that records the
rewritten parts in the catalog (until then, answers still count the player).

Redis is an accelerator, never a dependency: when it fails, the answer is
computed, the failure is counted, and Redis is left alone for a few seconds.
"""

import hashlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Final, TypeVar

import msgspec
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from apps.analytics.metrics import AnalyticsMetrics

log = logging.getLogger(__name__)
T = TypeVar("T")

SCHEMA: Final = "v1"
"""Bump when a cached result type changes shape: old entries are then never read."""
_BACKOFF: Final = 5.0
_encode = msgspec.json.Encoder(order="sorted").encode


def cache_key(game_id: uuid.UUID, version: int, field: str, arguments: object) -> str:
    """`gm:analytics:<schema>:<game>:<version>:<field>:<digest of the arguments>`."""
    digest = hashlib.sha256(_encode(arguments)).hexdigest()[:32]
    return f"gm:analytics:{SCHEMA}:{game_id}:{version}:{field}:{digest}"


class ResultCache:
    """Looks answers up and stores them; `client` None disables caching."""

    def __init__(
        self, client: aioredis.Redis | None, ttl: timedelta, metrics: AnalyticsMetrics
    ) -> None:
        self._client, self._ttl = client, max(1, int(ttl.total_seconds()))
        self._metrics = metrics
        self._skip_until = 0.0

    @property
    def enabled(self) -> bool:
        return self._client is not None

    async def get_or_compute(
        self, key: str, result_type: type[T], compute: Callable[[], Awaitable[T]]
    ) -> T:
        """The cached answer under `key`, or `compute()` stored there. Never raises for Redis."""
        raw = await self._get(key)
        if raw is not None:
            try:
                value = msgspec.json.decode(raw, type=result_type)
            except msgspec.DecodeError:
                log.warning("undecodable cache entry %s; computing", key)
            else:
                self._metrics.cache.labels("hit").inc()
                return value
        value = await compute()
        await self._put(key, _encode(value))
        return value

    def _usable(self) -> aioredis.Redis | None:
        if self._client is None or time.monotonic() < self._skip_until:
            return None
        return self._client

    async def _get(self, key: str) -> bytes | None:
        client = self._usable()
        if client is None:
            if self._client is not None:
                self._metrics.cache.labels("error").inc()
            return None
        try:
            raw = await client.get(key)
        except (RedisError, OSError) as e:
            self._failed(e)
            return None
        if raw is None:
            self._metrics.cache.labels("miss").inc()
            return None
        return raw if isinstance(raw, bytes) else raw.encode()

    async def _put(self, key: str, raw: bytes) -> None:
        client = self._usable()
        if client is None:
            return
        try:
            await client.set(key, raw, ex=self._ttl)
        except (RedisError, OSError) as e:
            self._failed(e)

    def _failed(self, e: Exception) -> None:
        self._metrics.cache.labels("error").inc()
        if time.monotonic() >= self._skip_until:
            log.warning("Redis cache unavailable (%s); computing without it", type(e).__name__)
        self._skip_until = time.monotonic() + _BACKOFF
