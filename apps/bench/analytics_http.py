"""The analytics API as the benchmark drives it: started as its own process, asked over HTTP.

The service runs as `gamemetrics serve analytics` does (one process, through
`ServiceUnit`), against the benchmark's PostgreSQL and an embedded Redis,
with an analyst token for the benchmark's game. The cache is off unless
asked for: a cached answer measures Redis, not the query.
"""

import contextlib
import importlib.util
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg

from apps.bench.analytics_cases import Args, Case, as_result
from apps.bench.errors import BenchError
from apps.core import services
from apps.core.settings.analytics import AnalyticsSettings
from apps.local import process
from apps.local.servers import EmbeddedRedis
from apps.local.services import ServiceUnit


def available() -> bool:
    """Whether this checkout has the analytics service."""
    return importlib.util.find_spec("apps.analytics.app") is not None


@dataclass(frozen=True, slots=True)
class Api:
    url: str
    token: str
    pid: int | None


def issue_token(dsn: str, game_id: uuid.UUID) -> str:
    from apps.store.tokens import create_token

    with psycopg.connect(dsn) as conn:
        return create_token(conn, "bench-analytics", [game_id]).token


@contextlib.contextmanager
def redis(folder: Path) -> Iterator[str]:
    server = EmbeddedRedis("redis", folder / "logs" / "redis.log", data_dir=folder / "redis",
                           port=process.free_port())  # fmt: skip
    server.start()
    try:
        yield server.url
    finally:
        server.stop(10)


@contextlib.contextmanager
def service(dsn: str, redis_url: str, token: str, logs: Path, *, cache: bool) -> Iterator[Api]:
    """The analytics service in its own process until the block ends."""
    port = process.free_port()
    settings = AnalyticsSettings(
        postgres_dsn=dsn, redis_url=redis_url, port=port, cache=cache, workers=1
    )
    env = {**os.environ, **settings.env()}
    name = "analytics-cache" if cache else "analytics"
    unit = ServiceUnit(services.ANALYTICS, port, env, logs / f"{name}.log")
    unit.start()
    try:
        pid = unit.proc.pid if unit.proc is not None else None
        yield Api(unit.url + services.ANALYTICS.endpoint_path, token, pid)
    finally:
        unit.stop(10)


async def ask(client: httpx.AsyncClient, api: Api, case: Case, args: Args) -> tuple[float, Any]:
    """(seconds, answer as the query layer's types) of one POST /graphql."""
    payload = {"query": case.document, "variables": case.variables(args)}
    started = time.perf_counter()
    response = await client.post(
        api.url, json=payload, headers={"Authorization": f"Bearer {api.token}"}
    )
    seconds = time.perf_counter() - started
    body = response.json()
    if response.status_code != 200 or body.get("errors"):
        raise BenchError(
            f"{case.name}: POST /graphql answered {response.status_code}: "
            f"{str(body.get('errors', body))[:500]}"
        )
    return seconds, as_result(case, body["data"]["game"][case.field])
