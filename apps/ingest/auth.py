"""Resolving `Authorization: Bearer <ingest key>` to a game, with a cache kept honest.

Grants are cached for `ttl`; a listener on the keys channel (NOTIFY sent by
every key change in the same transaction) clears the cache as soon as a
change commits, so a revoked key stops working at once. While the listener
is disconnected the cache is only a fallback for when the database cannot be
asked, so cached grants keep ingestion going through a database outage.
"""

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg_pool import AsyncConnectionPool

from apps.core import keys
from apps.ingest.errors import DependencyDown, Unauthorized
from apps.ingest.listen import listen
from apps.store.games import GRANT_SQL, KEYS_CHANNEL, KeyGrant

log = logging.getLogger(__name__)
_MAX_ENTRIES = 50_000
_NEGATIVE_TTL = 2.0


def bearer_token(header: str | None) -> str:
    if not header:
        raise Unauthorized(
            "missing Authorization header; send 'Authorization: Bearer <ingest key>'"
        )
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("Authorization must be 'Bearer <ingest key>'")
    if not keys.looks_like_key(token):
        raise Unauthorized("unknown or revoked ingest key")
    return token


class KeyResolver:
    """Resolves keys through the pool; `run_listener` must run for the cache to be used."""

    def __init__(self, pool: AsyncConnectionPool, dsn: str, ttl: timedelta) -> None:
        self._pool, self._dsn, self._ttl = pool, dsn, ttl.total_seconds()
        self._cache: dict[bytes, tuple[KeyGrant | None, float]] = {}
        self._listening = False

    async def resolve(self, key: str) -> KeyGrant:
        digest = keys.digest(key)
        now = time.monotonic()
        if self._listening:
            hit = self._cache.get(digest)
            if hit is not None and hit[1] > now:
                return _granted(hit[0])
        try:
            async with self._pool.connection(timeout=2.0) as conn:
                cur = await conn.execute(GRANT_SQL, (digest,))
                row = await cur.fetchone()
        except (psycopg.OperationalError, TimeoutError) as e:
            # No key change can commit while the database is down: a grant cached
            # before the outage is still right, listener or not.
            hit = self._cache.get(digest)
            if hit is not None and hit[1] > now:
                return _granted(hit[0])
            log.warning("key lookup failed: %s", type(e).__name__)
            raise DependencyDown("key store") from None
        grant = KeyGrant(*row) if row else None
        if len(self._cache) >= _MAX_ENTRIES:
            self._cache.clear()
        self._cache[digest] = (grant, now + self._expiry(grant))
        return _granted(grant)

    def _expiry(self, grant: KeyGrant | None) -> float:
        if grant is None:
            return _NEGATIVE_TTL
        if grant.expires_at is None:
            return self._ttl
        left = (grant.expires_at - datetime.now(UTC)).total_seconds()
        return max(0.0, min(self._ttl, left))

    async def run_listener(self) -> None:
        """LISTEN for key changes forever, reconnecting with backoff; cancel to stop."""
        await listen(self._dsn, KEYS_CHANNEL, lambda _: self._cache.clear(), self._listen_state)

    def _listen_state(self, listening: bool) -> None:
        # Changes may be missed while disconnected: the cache is then a fallback only,
        # and is cleared when listening resumes.
        if listening:
            self._cache.clear()
        self._listening = listening


def _granted(grant: KeyGrant | None) -> KeyGrant:
    if grant is None:
        raise Unauthorized("unknown or revoked ingest key")
    return grant


async def stop_task(task: "asyncio.Task[None]") -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
