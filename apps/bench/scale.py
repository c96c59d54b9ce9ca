"""`gamemetrics bench scale`: does a second processor store more than one?

The consumer group and the topic's partitions are the scaling unit the prod
stack declares (`apps/core/topics.py`, the processor's HPA bound): each
processor of the group reads its share of the partitions and writes its own
batches. For each processor count asked, on a fresh platform: a backlog is
built with the processors stopped (closed-loop ingest, unique event ids,
realistic player cardinality), then that many processors start together and
drain it. The rate counted is the drain's steady part (10% to 90% of the
backlog stored, after the group has balanced), summed over the processors;
the end check counts every accepted event in `events` and the rollups.
Draining, not ingesting, is measured: on one machine the API would take the
CPU the processors need, and in a deployment they run on their own pods.
"""

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from apps.bench import procstat, report, watch
from apps.bench.errors import BenchError
from apps.bench.loadgen import LoadSpec, run_load
from apps.bench.platform import Platform, platform
from apps.bench.scenarios import PATH, SETTLE, Say, expected_body
from apps.bench.unique import unique_requests
from apps.core.topics import EVENTS
from apps.local.services import ServiceUnit

DRAIN_TIMEOUT: Final = 900.0
_POLL: Final = 0.25


@dataclass(frozen=True, slots=True)
class ScaleOptions:
    processors: tuple[int, ...] = (1, 2)
    backlog_seconds: float = 20.0
    connections: int = 32
    workers: int = 2
    batch_size: int = 100
    templates: int = 200
    players: int = 50_000
    events_per_player: int = 10
    command: str = "gamemetrics bench scale"


@dataclass(frozen=True, slots=True)
class ScaleRun:
    processors: int
    backlog: int
    drain_per_s: float
    """Rows/s while 10% to 90% of the backlog was stored, all processors together."""
    seconds: float
    """From the processors' start to the last row stored."""
    cores: dict[str, float]
    check: str


@dataclass(frozen=True, slots=True)
class ScaleReport:
    command: str
    machine: report.Machine
    settings: str
    runs: tuple[ScaleRun, ...]


def run(options: ScaleOptions, say: Say) -> ScaleReport:
    """One fresh platform per processor count; blocks a few minutes per count."""
    machine = report.machine()
    say(f"machine: {machine.describe()}")
    runs = []
    for count in options.processors:
        if count > EVENTS.partitions["local"]:
            raise BenchError(
                f"{count} processors but {EVENTS.partitions['local']} local partitions: "
                "the extra processors would idle"
            )
        say(f"== {count} processor(s)")
        with platform(
            say, workers=options.workers, processor=True, spare_processors=count - 1
        ) as plat:
            runs.append(_run_one(options, plat, count, say))
    settings = (
        f"{options.batch_size}-event requests from {options.templates} templates, "
        f"{options.events_per_player} events in a row per player, {options.players:,} players; "
        f"{EVENTS.partitions['local']} partitions; {options.workers} ingest workers; backlog of "
        f"{options.backlog_seconds:g} s of closed-loop ingest"
    )
    return ScaleReport(options.command, report.with_load_after(machine), settings, tuple(runs))


def _run_one(options: ScaleOptions, plat: Platform, count: int, say: Say) -> ScaleRun:
    t = plat.target
    headers = {"Authorization": f"Bearer {t.key}", "Content-Type": "application/json"}
    source = unique_requests(
        host=t.host, port=t.port, path=PATH, headers=headers, templates=options.templates,
        events=options.batch_size, phase=count, players=options.players,
        now=datetime.now(UTC), events_per_player=options.events_per_player,
    )  # fmt: skip
    # Stopped only once it has joined the group: a member stopped mid-join leaves the local
    # broker's group waiting for it well past the session timeout (seen: over 40 s).
    first = plat.processor
    assert first is not None
    _wait(first.drained, "the first processor to join its group")
    plat.stop_processor()
    time.sleep(SETTLE)
    say(f"  building a backlog: closed loop for {options.backlog_seconds:g} s...")
    spec = LoadSpec(
        host=t.host, port=t.port, requests=(), events_per_request=options.batch_size,
        expected_body=expected_body(options.batch_size), connections=options.connections,
        duration=options.backlog_seconds, warmup=0.0, source=source,
    )  # fmt: skip
    load, _, _ = run_load(spec, lambda: None)
    backlog = load.all_events
    say(f"  {backlog:,} events waiting; starting {count} processor(s) together...")
    units = [u for u in (plat.processor, *plat.spares) if u is not None][:count]
    started = time.monotonic()
    for unit in units:  # together: the group balances once, before most of the drain
        unit.launch()
    for unit in units:
        unit.wait_healthy()
    pids = {f"processor-{i + 1}": u.proc.pid for i, u in enumerate(units) if u.proc is not None}
    pids["postgres"] = t.pids["postgres"]
    before = procstat.snapshot(pids, ())
    series = _drain(units, backlog, started)
    seconds = time.monotonic() - started
    after = procstat.snapshot(pids, ())
    cores = procstat.cores_used(before, after, seconds)
    rate = _steady_rate(series, backlog)
    check = _check(plat, load.all_events)
    say(f"  drained in {seconds:.1f} s; steady {rate:,.0f} rows/s; {check}")
    return ScaleRun(count, backlog, rate, seconds, cores, check)


def _drain(units: list[ServiceUnit], backlog: int, started: float) -> list[tuple[float, float]]:
    """(time, rows stored by all units) until every unit is caught up and all is stored."""
    series: list[tuple[float, float]] = []
    while time.monotonic() - started < DRAIN_TIMEOUT:
        stored = 0.0
        with contextlib.suppress(OSError):
            stored = sum(watch.processor_metrics(u.url).stored for u in units)
            series.append((time.monotonic(), stored))
        if stored >= backlog and all(u.drained() for u in units):
            return series
        time.sleep(_POLL)
    raise BenchError(f"the processors did not drain {backlog:,} events in {DRAIN_TIMEOUT:.0f} s")


def _wait(ready: Callable[[], bool], what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise BenchError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(_POLL)


def _steady_rate(series: list[tuple[float, float]], backlog: int) -> float:
    low = next((p for p in series if p[1] >= 0.1 * backlog), None)
    high = next((p for p in series if p[1] >= 0.9 * backlog), None)
    if low is None or high is None or high[0] <= low[0]:
        return 0.0
    return (high[1] - low[1]) / (high[0] - low[0])


def _check(plat: Platform, accepted: int) -> str:
    import psycopg

    with psycopg.connect(plat.postgres_dsn, autocommit=True) as conn:
        counts = [
            int(row[0])
            for query in (
                "SELECT count(*) FROM events WHERE game_id = %s",
                "SELECT coalesce(sum(events), 0) FROM segment_days WHERE game_id = %s",
                "SELECT coalesce(sum(events), 0) FROM event_counts WHERE game_id = %s",
            )
            if (row := conn.execute(query, (plat.game_id,)).fetchone()) is not None
        ]
    ok = counts == [accepted] * 3
    return (
        f"{'OK' if ok else 'MISMATCH'}: accepted {accepted:,}; events, segment_days, "
        f"event_counts: {', '.join(f'{c:,}' for c in counts)}"
    )


def render(result: ScaleReport) -> str:
    base = next((r.drain_per_s for r in result.runs if r.processors == 1), None)
    header = ("processors", "backlog", "drained rows/s (steady)", "vs 1", "seconds",
              "CPU cores used", "end check")  # fmt: skip
    rows = [
        (
            str(r.processors), f"{r.backlog:,}", report.num(r.drain_per_s),
            f"{r.drain_per_s / base:.2f}x" if base else "-", f"{r.seconds:.1f}",
            report.cores_text(r.cores), r.check,
        )
        for r in result.runs
    ]  # fmt: skip
    return "\n".join([
        f"command: `{result.command}`",
        f"machine: {result.machine.describe()}",
        f"settings: {result.settings}",
        "",
        report.grid(header, rows, left={5, 6}),
    ])  # fmt: skip
