"""Liveness and readiness: what `/healthz` and `/readyz` answer, from named checks.

A readiness check is an async callable that returns when its backend answers
and raises when it does not; checks run concurrently, each bounded by its
timeout, and the body names each one: `{"status": "ready", "checks":
{"postgres": "ok", "kafka": "unreachable (TimeoutError)"}}`. A service is
ready only when every check passes. Liveness says whether the process should
be restarted (a stuck worker), never whether a backend is up.
"""

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import psycopg
from prometheus_client import CollectorRegistry
from psycopg_pool import AsyncConnectionPool

Check = Callable[[], Awaitable[None]]
CHECK_TIMEOUT_S: Final = 2.0


class Unready(Exception):
    """Raised by a check to say why, in words, instead of the exception's name."""


@dataclass(frozen=True)
class Probes:
    """What a running service shows its probes and its scrape."""

    registry: CollectorRegistry
    readiness: Mapping[str, Check] = field(default_factory=dict)
    liveness: Callable[[], str | None] = lambda: None
    """None while the process is healthy; otherwise why it should be restarted (a 503)."""


async def run_check(check: Check) -> str:
    """ "ok", or why not: the check's `Unready` reason or its exception's name."""
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            await check()
    except Unready as e:
        return f"unreachable ({e})"
    except Exception as e:
        return f"unreachable ({type(e).__name__})"
    return "ok"


async def readiness(checks: Mapping[str, Check]) -> tuple[bool, dict[str, Any]]:
    names = list(checks)
    results = await asyncio.gather(*(run_check(checks[n]) for n in names))
    outcome = dict(zip(names, results, strict=True))
    ok = all(r == "ok" for r in results)
    return ok, {"status": "ready" if ok else "unavailable", "checks": outcome}


def pool_check(pool: "AsyncConnectionPool[Any]", timeout: float = 1.0) -> Check:
    """PostgreSQL answers `SELECT 1` on a pooled connection within `timeout`."""

    async def check() -> None:
        async with pool.connection(timeout=timeout) as conn:
            await conn.execute("SELECT 1")

    return check


def dsn_check(dsn: str, timeout: int = 1) -> Check:
    """PostgreSQL accepts a new connection and answers `SELECT 1` (for services without a pool)."""

    async def check() -> None:
        async with await psycopg.AsyncConnection.connect(dsn, connect_timeout=timeout) as conn:
            await conn.execute("SELECT 1")

    return check
