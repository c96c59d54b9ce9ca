"""Per-game token buckets in Redis, shared by every ingestion replica.

Tokens are events: a game may send `rate` events per second with a burst of
`burst_seconds` worth (at least one full batch). Redis's own clock is used, so
replicas with skewed clocks agree. If Redis is unreachable the limiter lets
requests through (availability over policing) and counts the failures.
"""

import logging
import math
from typing import Final

import redis.asyncio as aioredis
from prometheus_client import Counter
from redis.exceptions import RedisError

from apps.core import limits

log = logging.getLogger(__name__)

_SCRIPT: Final = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(b[1])
local ts = tonumber(b[2])
if tokens == nil then tokens = burst; ts = now end
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate / 1000)
local allowed = 0
local wait_ms = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
else
  wait_ms = math.ceil((cost - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
return {allowed, wait_ms}
"""


class RateLimiter:
    def __init__(
        self, client: "aioredis.Redis", failures: Counter, burst_seconds: float = 2.0
    ) -> None:
        self._client = client
        self._script = client.register_script(_SCRIPT)
        self._burst_seconds = burst_seconds
        self._failures = failures
        self._failed = 0

    def burst(self, rate_eps: int) -> int:
        return max(math.ceil(rate_eps * self._burst_seconds), limits.MAX_EVENTS_PER_BATCH)

    async def acquire(self, game_id: str, rate_eps: int, cost: int) -> int:
        """Take `cost` tokens; returns 0 when allowed, else the seconds to wait (>= 1)."""
        try:
            allowed, wait_ms = await self._script(
                keys=[f"gm:rl:{game_id}"], args=[rate_eps, self.burst(rate_eps), cost]
            )
        except (RedisError, OSError) as e:
            self._failures.inc()
            self._failed += 1
            if self._failed == 1 or self._failed % 1000 == 0:
                log.warning("rate limiter unavailable (%s); letting requests through", e)
            return 0
        if allowed:
            return 0
        return max(1, math.ceil(int(wait_ms) / 1000))
