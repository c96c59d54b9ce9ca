"""The rate limiter's leases against the session's real Redis: fewer calls, never more tokens."""

import asyncio
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry, Counter

from apps.ingest.ratelimit import RateLimiter
from tests.support.servers import Endpoints


def _limiter(
    url: str, lease_seconds: float
) -> tuple[RateLimiter, list[tuple[int, int]], "aioredis.Redis"]:
    client = aioredis.Redis.from_url(url)
    failures = Counter("failures", "test", registry=CollectorRegistry())
    limiter = RateLimiter(client, failures, lease_seconds=lease_seconds)
    calls: list[tuple[int, int]] = []
    script = limiter._script

    async def counted(**kwargs: Any) -> Any:
        _, _, cost, _, refund = kwargs["args"]
        calls.append((cost, refund))
        return await script(**kwargs)

    limiter._script = counted  # type: ignore[assignment]
    return limiter, calls, client


def _run(test: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(test())


def test_a_busy_game_takes_tokens_from_redis_once_per_lease(endpoints: Endpoints) -> None:
    async def test() -> None:
        limiter, calls, client = _limiter(endpoints.redis_url, lease_seconds=10)
        game = str(uuid.uuid4())
        try:
            answers = [await limiter.acquire(game, 100_000, 100) for _ in range(50)]
        finally:
            await client.aclose()
        assert answers == [0] * 50
        assert len(calls) == 1  # a lease of 10 s x 100,000 events/s covers all 5,000 events

    _run(test)


def test_leases_never_grant_more_than_the_bucket(endpoints: Endpoints) -> None:
    """Rate 100/s, burst 1,000 (one full batch): two workers asking at once get at most
    the burst plus what refills while they ask, however the leases fall."""

    async def test() -> None:
        game = str(uuid.uuid4())
        workers = [_limiter(endpoints.redis_url, lease_seconds=3) for _ in range(2)]
        granted = 0
        redis_clock = workers[0][2]
        # The bucket refills by Redis's clock: the bound is read on that clock, so a slow
        # machine only widens it by what really refilled.
        started = await redis_clock.time()
        try:
            for _ in range(60):
                for limiter, _, _ in workers:
                    if await limiter.acquire(game, 100, 30) == 0:
                        granted += 30
            ended = await redis_clock.time()
        finally:
            for _, _, client in workers:
                await client.aclose()
        elapsed = (ended[0] - started[0]) + (ended[1] - started[1]) / 1e6
        assert 1000 - 2 * 300 < granted <= 1000 + 100 * elapsed  # leases: 300 tokens each

    _run(test)


def test_what_a_lease_holds_goes_back_to_the_bucket(endpoints: Endpoints) -> None:
    async def test() -> None:
        limiter, calls, client = _limiter(endpoints.redis_url, lease_seconds=10)
        game = str(uuid.uuid4())
        try:
            assert await limiter.acquire(game, 10, 900) == 0  # the burst is one batch, 1,000
            assert await limiter.acquire(game, 10, 10) == 0  # leases the 100 left
            assert await limiter.acquire(game, 10, 50) == 0  # from the lease, 40 left
            assert calls == [(900, 0), (10, 0)]
            assert await limiter.acquire(game, 10, 500) >= 1  # refused: about 40 in the bucket
            assert calls[-1] == (500, 40)  # with the lease's 40 given back
            assert await limiter.acquire(game, 10, 40) == 0  # which the bucket now has
            assert len(calls) == 4
        finally:
            await client.aclose()

    _run(test)


def test_an_expired_lease_is_given_back_not_lost(endpoints: Endpoints) -> None:
    """Two workers of a game at 100,000 events/s lease 10,000 tokens (0.1 s) each and
    use 100 before the lease expires: the rest goes back with the next call (dropped,
    the two would drain the bucket at 200,000 tokens/s against its refill of 100,000)."""

    async def test() -> None:
        game = str(uuid.uuid4())
        workers = [_limiter(endpoints.redis_url, lease_seconds=0.1) for _ in range(2)]
        try:
            for _ in range(4):
                for limiter, _, _ in workers:
                    assert await limiter.acquire(game, 100_000, 100) == 0
                # Not waiting for work: a lease expires after 0.1 s of the monotonic clock,
                # and a slower machine only sleeps longer.
                await asyncio.sleep(0.11)
            # One call per round (each lease had expired); each but the first gives back
            # what the expired lease still held.
            for _, calls, _ in workers:
                assert [refund for _, refund in calls] == [0, 9_900, 9_900, 9_900]
        finally:
            for _, _, client in workers:
                await client.aclose()

    _run(test)


def test_concurrent_requests_take_one_lease_between_them(endpoints: Endpoints) -> None:
    """32 requests at once on a game at 10,000,000 events/s: one leases 1,000,000 tokens
    (0.1 s), the others take their own 100; together far less than the 20,000,000 burst."""

    async def test() -> None:
        limiter, calls, client = _limiter(endpoints.redis_url, lease_seconds=0.1)
        game = str(uuid.uuid4())
        try:
            answers = await asyncio.gather(
                *(limiter.acquire(game, 10_000_000, 100) for _ in range(32))
            )
            (tokens,) = await client.hmget(f"gm:rl:{game}", ["tokens"])
        finally:
            await client.aclose()
        assert answers == [0] * 32
        assert len(calls) == 32
        assert tokens is not None
        assert float(tokens) >= 20_000_000 - 1_000_000 - 31 * 100

    _run(test)
