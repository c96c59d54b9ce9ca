"""How much one client's worst accepted GraphQL query delays another client's cheap one.

    python -m apps.bench.experiments.hostile_query [--duration S] [--hostile N]

Starts the analytics service as production runs it (`gamemetrics serve analytics`,
prod stack, default limits, one worker process) on its own embedded PostgreSQL
and Redis, or on --postgres-url/--redis-url. A victim client sends `{ games { id } }`
in a closed loop and records each latency, alone (the baseline) and while N
hostile processes loop the costliest of a set of documents that pass every
limit (picked in the same run by timing each alone); then alone and beside a
fragment chain that the limits refuse (the attack of issue 15). Baseline and
hostile windows of 1 s alternate, so load from outside weighs on both alike.
It prints the workload and, per phase, the victim's p50/p99/max and the
hostile requests' rate and latency; the target is at most 50 ms added to the p99.
"""

import argparse
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import TypeAlias

import httpx
import psycopg

from apps.bench.experiments import argument_parser
from apps.core.services import ANALYTICS
from apps.core.settings.analytics import AnalyticsSettings
from apps.local import process
from apps.local.servers import EmbeddedPostgres, EmbeddedRedis
from apps.local.services import ServiceUnit
from apps.store import games, tokens
from apps.store.migrate import migrate

CHEAP = "{ games { id } }"
TARGET_MS = 50.0


def _fragment_chain(n: int, leaf: str = "id name") -> str:
    parts = ["query { games { ...F0 } }"]
    for i in range(n):
        body = f"...F{i + 1} ...F{i + 1}" if i < n - 1 else leaf
        parts.append(f"fragment F{i} on Game {{ {body} }}")
    return "\n".join(parts)


def accepted_candidates() -> dict[str, str]:
    """Documents within every default limit (100 fields, 2000 tokens, depth 4, 20 aliases)
    that make validation compare many fields pairwise."""
    query_fragments = " ".join(f"...Q{i}" for i in range(33))
    return {
        "50 x games { id }": "{ " + " ".join(["games { id }"] * 50) + " }",
        "33 Query fragments, games { id name }": (
            f"query {{ {query_fragments} }} "
            + " ".join(f"fragment Q{i} on Query {{ games {{ id name }} }}" for i in range(33))
        ),
        "games { 99 x id }": "{ games { " + " ".join(["id"] * 99) + " } }",
        "fragment chain of 7 (64 fields)": _fragment_chain(7, "id"),
        "14 aliased games { id name x3 }": "{ "
        + " ".join(f"g{i}: games {{ id name id name id name }}" for i in range(14))
        + " }",
    }


REFUSED = _fragment_chain(17)


@dataclass(frozen=True)
class Phase:
    name: str
    victim_ms: list[float]
    hostile_requests: int
    hostile_ms: float
    seconds: float

    def percentile(self, p: float) -> float:
        ordered = sorted(self.victim_ms)
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


def _post(client: httpx.Client, url: str, token: str, query: str) -> httpx.Response:
    return client.post(
        url + "/graphql", json={"query": query}, headers={"Authorization": f"Bearer {token}"}
    )


Done: TypeAlias = "multiprocessing.Queue[tuple[int, float]]"
WINDOW_S = 1.0
"""Baseline and hostile windows alternate at this length, so that load from outside the
benchmark weighs on both alike."""


def _hostile(url: str, token: str, query: str, active: Event, stop: Event, done: Done) -> None:
    count, spent = 0, 0.0
    with httpx.Client(timeout=60) as client:
        while not stop.is_set():
            if not active.wait(0.05):
                continue
            started = time.perf_counter()
            _post(client, url, token, query)
            spent += time.perf_counter() - started
            count += 1
    done.put((count, spent))


def _victim(client: httpx.Client, url: str, token: str, seconds: float) -> list[float]:
    latencies: list[float] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.perf_counter()
        r = _post(client, url, token, CHEAP)
        latencies.append(1000 * (time.perf_counter() - started))
        if r.status_code != 200 or "errors" in r.json():
            raise RuntimeError(f"the cheap query failed: {r.status_code} {r.text[:200]}")
    return latencies


def compare(
    name: str, url: str, token: str, seconds: float, hostile_query: str, hostile: int
) -> tuple[Phase, Phase]:
    """The victim alone and beside `hostile` processes looping `hostile_query`, in
    alternating windows (which comes first alternates too), `seconds` of each in all."""
    active, stop = multiprocessing.Event(), multiprocessing.Event()
    done: Done = multiprocessing.Queue()
    workers = [
        multiprocessing.Process(
            target=_hostile, args=(url, token, hostile_query, active, stop, done)
        )
        for _ in range(hostile)
    ]
    for w in workers:
        w.start()
    alone: list[float] = []
    beside: list[float] = []
    rounds = max(1, round(seconds / WINDOW_S))
    with httpx.Client(timeout=60) as client:
        for i in range(rounds):
            for with_hostile in (i % 2 == 0, i % 2 == 1):
                if with_hostile:
                    active.set()
                    time.sleep(0.1)  # the hostile loops are running before the first sample
                    beside.extend(_victim(client, url, token, seconds / rounds))
                    active.clear()
                    time.sleep(0.2)  # their last requests are answered
                else:
                    alone.extend(_victim(client, url, token, seconds / rounds))
    stop.set()
    results = [done.get(timeout=120) for _ in workers]
    for w in workers:
        w.join(60)
    count, spent = sum(c for c, _ in results), sum(s for _, s in results)
    return (
        Phase(f"victim alone ({name})", alone, 0, 0.0, seconds),
        Phase(f"beside {name} x{hostile}", beside, count, 1000 * spent / max(count, 1), seconds),
    )


def costliest(url: str, token: str) -> tuple[str, str, float]:
    """The accepted candidate whose request takes longest alone (mean of 5, after 1)."""
    timed: list[tuple[float, str, str]] = []
    with httpx.Client(timeout=60) as client:
        for label, query in accepted_candidates().items():
            r = _post(client, url, token, query)
            if r.status_code != 200 or "errors" in r.json():
                raise RuntimeError(f"candidate {label!r} was refused: {r.text[:300]}")
            samples = []
            for _ in range(5):
                started = time.perf_counter()
                _post(client, url, token, query)
                samples.append(1000 * (time.perf_counter() - started))
            timed.append((statistics.mean(samples), label, query))
            print(f"  candidate {label}: {statistics.mean(samples):.1f} ms alone")
    ms, label, query = max(timed)
    return label, query, ms


@contextmanager
def platform(
    postgres_url: str | None, redis_url: str | None, folder: Path
) -> Iterator[tuple[str, str]]:
    """PostgreSQL and Redis URLs: the given ones, or embedded servers started here."""
    started: list[EmbeddedPostgres | EmbeddedRedis] = []
    try:
        if postgres_url is None:
            pg = EmbeddedPostgres("postgres", folder / "postgres.log", data_dir=folder / "pg",
                                  port=process.free_port())  # fmt: skip
            pg.start()
            started.append(pg)
            postgres_url = pg.url
        if redis_url is None:
            redis = EmbeddedRedis("redis", folder / "redis.log", data_dir=folder / "redis",
                                  port=process.free_port())  # fmt: skip
            redis.start()
            started.append(redis)
            redis_url = redis.url
        yield postgres_url, redis_url
    finally:
        for server in reversed(started):
            server.stop(30)


def serve(postgres_url: str, redis_url: str, folder: Path) -> ServiceUnit:
    port = process.free_port()
    settings = AnalyticsSettings(
        postgres_dsn=postgres_url, redis_url=redis_url, stack="prod", host="127.0.0.1",
        port=port, workers=1, graphiql=False, introspection=False,
    )  # fmt: skip
    unit = ServiceUnit(ANALYTICS, port, {**os.environ, **settings.env()}, folder / "analytics.log")
    unit.start()
    return unit


def report(phases: list[Phase], say: Callable[[str], None]) -> None:
    say(f"{'phase':<34} {'victim n':>8} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7}"
        f" {'hostile/s':>9} {'hostile ms':>10}")  # fmt: skip
    for p in phases:
        say(
            f"{p.name:<34} {len(p.victim_ms):>8} {p.percentile(0.5):>7.1f}"
            f" {p.percentile(0.99):>7.1f} {max(p.victim_ms):>7.1f}"
            f" {p.hostile_requests / p.seconds:>9.1f} {p.hostile_ms:>10.1f}"
        )
    for alone, beside in zip(phases[::2], phases[1::2], strict=True):
        added = beside.percentile(0.99) - alone.percentile(0.99)
        verdict = "within" if added <= TARGET_MS else "OVER"
        say(f"added p99 ({beside.name}): {added:+.1f} ms ({verdict} the {TARGET_MS:.0f} ms target)")


def main(argv: list[str] | None = None) -> int:
    parser: argparse.ArgumentParser = argument_parser(__file__, __doc__)
    parser.add_argument("--duration", type=float, default=20.0, metavar="S",
                        help="seconds of each phase (default 20)")  # fmt: skip
    parser.add_argument("--hostile", type=int, default=1, metavar="N",
                        help="hostile client processes (default 1)")  # fmt: skip
    parser.add_argument("--postgres-url", help="a migrated PostgreSQL (default: embedded)")
    parser.add_argument("--redis-url", help="a Redis (default: embedded)")
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="gm-hostile-"))
    with platform(args.postgres_url, args.redis_url, folder) as (postgres_url, redis_url):
        migrate(postgres_url)
        with psycopg.connect(postgres_url) as conn:
            game = games.create_game(conn, f"bench-hostile-{os.getpid()}")
            token = tokens.create_token(conn, "bench-hostile", [game.game_id]).token
        unit = serve(postgres_url, redis_url, folder)
        try:
            print(
                f"workload: victim loops {CHEAP!r} on 1 connection; {args.hostile} hostile"
                f" process(es) loop one document each; {args.duration:.0f} s per phase;"
                f" service: 1 worker, prod stack, default limits; {os.cpu_count()} cores"
            )
            label, worst, alone = costliest(unit.url, token)
            print(f"worst accepted: {label} ({len(worst)} bytes, {alone:.1f} ms alone)")
            print(f"refused: fragment chain of 17 ({len(REFUSED)} bytes; it took 6 s before)")
            phases = [
                *compare("worst accepted", unit.url, token, args.duration, worst, args.hostile),
                *compare("refused chain", unit.url, token, args.duration, REFUSED, args.hostile),
            ]
            report(phases, print)
        finally:
            unit.stop(10)
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
