"""Per-game token buckets in Redis, shared by every ingestion replica.

Tokens are events: a game may send `rate` events per second with a burst of
`burst_seconds` worth (at least one full batch). Redis's own clock is used, so
replicas with skewed clocks agree. If Redis is unreachable the limiter lets
requests through (availability over policing) and counts the failures.

Each worker takes a busy game's tokens from the bucket in leases of up to
`lease_seconds` of its rate (never less than the request's cost) and spends
them locally, so the game costs Redis one call per lease rather than one per
request (a call cost about 140 µs of the worker's CPU, a tenth of a 100-event
request). Every token a request spends came out of the shared bucket, so no
game gets more than its rate and burst. What a lease still holds when it runs
out or expires goes back into the bucket with the worker's next call for that
game, so a lease never wastes a game's tokens. A game whose rate is below a
request's cost per lease makes one call per request, as without leases.
"""

import logging
import math
import time
from dataclasses import dataclass
from typing import Final

import redis.asyncio as aioredis
from prometheus_client import Counter
from redis.exceptions import RedisError

from apps.core import limits

log = logging.getLogger(__name__)
_MAX_LEASES: Final = 1024
"""Games with a lease in one worker before expired ones are swept out."""

# Gives back `refund` tokens, then takes at least `cost` and at most `want` (whole tokens)
# when `cost` are there.
_SCRIPT: Final = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local want = tonumber(ARGV[4])
local refund = tonumber(ARGV[5])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(b[1])
local ts = tonumber(b[2])
if tokens == nil then tokens = burst; ts = now end
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate / 1000 + refund)
local taken = 0
local wait_ms = 0
if tokens >= cost then
  taken = math.max(cost, math.min(want, math.floor(tokens)))
  tokens = tokens - taken
else
  wait_ms = math.ceil((cost - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
return {taken, wait_ms}
"""


@dataclass(slots=True)
class _Lease:
    tokens: int
    until: float
    """time.monotonic() after which the lease is dropped."""


class RateLimiter:
    """Called on the event loop's thread only (the lease bookkeeping does not await)."""

    def __init__(
        self,
        client: "aioredis.Redis",
        failures: Counter,
        burst_seconds: float = 2.0,
        lease_seconds: float = 0.1,
    ) -> None:
        self._client = client
        self._script = client.register_script(_SCRIPT)
        self._burst_seconds = burst_seconds
        self._lease_seconds = lease_seconds
        self._leases: dict[str, _Lease] = {}
        self._leasing: set[str] = set()
        self._failures = failures
        self._failed = 0

    def burst(self, rate_eps: int) -> int:
        return max(math.ceil(rate_eps * self._burst_seconds), limits.MAX_EVENTS_PER_BATCH)

    async def acquire(self, game_id: str, rate_eps: int, cost: int) -> int:
        """Take `cost` tokens; returns 0 when allowed, else the seconds to wait (>= 1)."""
        refund = 0
        lease = self._leases.pop(game_id, None)
        if lease is not None:
            if lease.tokens >= cost and lease.until > time.monotonic():
                lease.tokens -= cost
                self._leases[game_id] = lease
                return 0
            refund = lease.tokens
        # One lease at a time per game: requests that come while it is being taken ask
        # for their own cost only, or 32 connections would each lease a tenth of a second.
        leasing = game_id not in self._leasing
        want = max(cost, math.floor(rate_eps * self._lease_seconds)) if leasing else cost
        if leasing:
            self._leasing.add(game_id)
        try:
            taken, wait_ms = await self._script(
                keys=[f"gm:rl:{game_id}"],
                args=[rate_eps, self.burst(rate_eps), cost, want, refund],
            )
        except (RedisError, OSError) as e:
            self._failures.inc()
            self._failed += 1
            if self._failed == 1 or self._failed % 1000 == 0:
                log.warning("rate limiter unavailable (%s); letting requests through", e)
            return 0
        finally:
            if leasing:
                self._leasing.discard(game_id)
        if not int(taken):
            return max(1, math.ceil(int(wait_ms) / 1000))
        extra = int(taken) - cost
        if extra:
            now = time.monotonic()
            # Another request may have leased meanwhile (it awaited Redis too): pool them.
            current = self._leases.get(game_id)
            if current is not None:
                current.tokens += extra
                current.until = now + self._lease_seconds
            else:
                if len(self._leases) >= _MAX_LEASES:
                    self._sweep(now)
                self._leases[game_id] = _Lease(extra, now + self._lease_seconds)
        return 0

    def _sweep(self, now: float) -> None:
        """Forget expired leases (their tokens are lost: the bucket refills anyway)."""
        self._leases = {g: x for g, x in self._leases.items() if x.until > now}
