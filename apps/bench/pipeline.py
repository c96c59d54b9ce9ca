"""`gamemetrics bench pipeline`: HTTP -> Kafka -> processor -> PostgreSQL on this machine.

Stages, each with the load from separate processes and every event id new
(`unique.py`): (1) the closed loop at the maximum the API takes, where the
rate that counts is the one at which rows and rollups are committed (they
commit in one transaction); (1b) an open loop offering exactly the target
rate, which is sustained if storing keeps up with it and the backlog does
not grow (a closed loop overdrives the API, which then takes the CPU that
storing needs on a shared machine); (2) an open loop at half of what was
sustained, measuring freshness (202 -> visible in the rollups) on marker
events, and
(2b) at half the target when that differs; (3) a backlog built with the
processor stopped, then drained, while the processor's RSS is sampled.
Baselines in the same run (`storage.py`): COPY into a copy of `events`, the
writer alone, and a batched Kafka consume. At the end the stored rows are
counted against the events the API accepted and against the rollups.
"""

import contextlib
import dataclasses
import multiprocessing
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from apps.bench import procstat, report, storage, watch
from apps.bench.errors import BenchError
from apps.bench.freshness import Freshness, freshness, poll_markers
from apps.bench.loadgen import LoadResult, LoadSpec, run_load
from apps.bench.platform import Platform, platform
from apps.bench.profile import ProfileSummary, finish_recording, start_recording, summarize
from apps.bench.scenarios import PATH, SETTLE, Say, expected_body, outcome
from apps.bench.unique import unique_requests
from apps.core import services
from apps.core.settings.contract import Wire
from apps.core.settings.processor import ProcessorSettings
from apps.core.topics import EVENTS

TARGET_EVENTS_PER_S: Final = 50_000
TARGET_COPY_SHARE: Final = 0.40
TARGET_COPY_SHARE_ONE_PER_PLAYER: Final = 0.25
"""Every event another player's: each event is a distinct player's rollup rows."""
TARGET_FRESH_P99_S: Final = 2.0
SPLIT: Final = ("processor",)
DRAIN_TIMEOUT: Final = 600.0
MIB: Final = 1024 * 1024
# Event-id phases: no two load runs of one benchmark share one.
_SUSTAINED, _FRESH, _FRESH_TARGET, _BACKLOG, _PROFILE, _AT_TARGET, _BASELINE = 1, 2, 3, 4, 5, 6, 7
_CAPACITY: Final = (10, 11)
"""(1c)'s two windows (8 is the writer baseline's: _BASELINE + 1)."""


@dataclass(frozen=True, slots=True)
class PipelineBenchOptions:
    duration: float = 60.0
    """Seconds measured in stages (1) and (2) (after the warm-up)."""
    warmup: float = 5.0
    connections: int = 32
    load_processes: int = 1
    batch_size: int = 100
    templates: int = 200
    players: int = 50_000
    events_per_player: int = 10
    """Consecutive events of one player in a request (a mobile SDK flushes 5-30); 100, the
    whole request, is one player's session per request, as the runs before 2026-12 sent."""
    workers: int = 2
    """Ingest worker processes."""
    open_rate_eps: float | None = None
    """Events/s of stage (2); default half of what (1) sustained."""
    marker_every: int = 10
    """Stage (2): one request in this many carries a marker event."""
    backlog_seconds: float = 20.0
    """Stage (3): seconds of closed-loop ingestion with the processor stopped."""
    baseline_rows: int = 300_000
    consume_seconds: float = 10.0
    max_batch: int | None = None
    """GAMEMETRICS_PROCESSOR_MAX_BATCH for the processor (default: its own)."""
    batch_wait: float | None = None
    profile_dir: Path | None = None
    postgres_settings: tuple[tuple[str, str], ...] = ()
    """Extra options of the embedded PostgreSQL (on top of apps/local/servers.py)."""
    command: str = "gamemetrics bench pipeline"


@dataclass(frozen=True, slots=True)
class Stage:
    scenario: str
    ingested_per_s: float | None
    stored_per_s: float | None
    lag_start: int | None = None
    lag_end: int | None = None
    fresh_p50_ms: float | None = None
    fresh_p99_ms: float | None = None
    rss_max_mib: float | None = None
    failed: int = 0
    cores: dict[str, float] = field(default_factory=dict)
    note: str = ""


@dataclass(frozen=True, slots=True)
class Verdict:
    target: str
    measured: str
    met: bool
    detail: str


@dataclass(frozen=True, slots=True)
class Statement:
    query: str
    calls: int
    us_per_row: float
    wal_bytes_per_row: float


@dataclass(frozen=True, slots=True)
class PipelineReport:
    command: str
    machine: report.Machine
    settings: str
    stages: tuple[Stage, ...]
    baselines: tuple[storage.RateResult, ...]
    verdicts: tuple[Verdict, ...]
    checks: tuple[str, ...]
    costs: tuple[str, ...]
    profile: ProfileSummary | None = None
    statements: tuple[Statement, ...] = ()
    events_per_player: int = 100
    sustained_per_s: float = 0.0
    """The rate stored as fast as it came: the closed loop's, or an open loop's kept up."""


@dataclass(frozen=True, slots=True)
class _Window:
    """What a load run measured, with the processor's counters and CPU at both ends."""

    load: LoadResult
    stored_per_s: float
    lag_start: int
    lag_end: int
    cores: dict[str, float]
    postgres: watch.PostgresCounters | None = None
    """What PostgreSQL wrote during the window."""


_Probe = tuple[procstat.CpuSnapshot, watch.ProcessorCounters | None, watch.PostgresCounters]


class _Bench:
    def __init__(self, options: PipelineBenchOptions, plat: Platform, say: Say) -> None:
        self.options, self.plat, self.say = options, plat, say
        t = plat.target
        headers = {"Authorization": f"Bearer {t.key}", "Content-Type": "application/json"}
        self.source = unique_requests(
            host=t.host, port=t.port, path=PATH, headers=headers,
            templates=options.templates, events=options.batch_size, phase=0,
            players=options.players, now=datetime.now(UTC),
            events_per_player=options.events_per_player,
        )  # fmt: skip
        self.rss = watch.RssSampler(lambda: plat.processor_pid).start()
        self.accepted = 0
        """Events the API accepted over the whole run (what must be stored)."""

    @property
    def processor_url(self) -> str:
        unit = self.plat.processor
        assert unit is not None
        return unit.url

    def spec(
        self, phase: int, duration: float, warmup: float, rate: float | None, markers: bool = False
    ) -> LoadSpec:
        o, t = self.options, self.plat.target
        marker_every = o.marker_every if markers else 0
        source = dataclasses.replace(self.source, phase=phase, marker_every=marker_every)
        return LoadSpec(
            host=t.host, port=t.port, requests=(), events_per_request=o.batch_size,
            expected_body=expected_body(o.batch_size), connections=o.connections,
            duration=duration, warmup=warmup, rate=rate, processes=o.load_processes,
            source=source,
        )  # fmt: skip

    def window(
        self, spec: LoadSpec, with_processor: bool = True,
        on_probe: Callable[[bool], None] | None = None,
    ) -> _Window:  # fmt: skip
        """One load run; `on_probe(opening)` is called as the measured window opens (True)
        and as it closes (False), before the counters are read."""
        pids = self.plat.target.pids
        probes = 0

        def probe() -> _Probe:
            nonlocal probes
            if on_probe is not None:
                on_probe(probes == 0)
            probes += 1
            counters = watch.processor_metrics(self.processor_url) if with_processor else None
            pg = watch.postgres_counters(self.plat.postgres_dsn)
            return procstat.snapshot(pids, SPLIT), counters, pg

        result, (cpu0, m0, pg0), (cpu1, m1, pg1) = run_load(spec, probe)
        self.accepted += result.all_events
        cores = procstat.cores_used(cpu0, cpu1, spec.duration)
        cores["loadgen"] = result.load_cpu_seconds / spec.duration
        if m0 is None or m1 is None:
            return _Window(result, 0.0, 0, 0, cores, pg1.minus(pg0))
        stored = (m1.stored - m0.stored) / (m1.at - m0.at)
        self.say(
            f"  (stored {m1.stored - m0.stored:,.0f} in {m1.at - m0.at:.2f} s; metrics scraped in "
            f"{m0.took * 1000:.0f} and {m1.took * 1000:.0f} ms)"
        )
        return _Window(result, stored, int(m0.lag), int(m1.lag), cores, pg1.minus(pg0))

    def drain(self, what: str) -> tuple[float, list[watch.ProcessorCounters]]:
        """Wait until the processor reports every partition read and committed, steadily
        for a second; returns the seconds that took and the counters polled meanwhile."""
        unit = self.plat.processor
        assert unit is not None
        started = time.monotonic()
        steady: float | None = None
        series: list[watch.ProcessorCounters] = []
        while time.monotonic() - started < DRAIN_TIMEOUT:
            with contextlib.suppress(OSError):
                series.append(watch.processor_metrics(unit.url))
            if unit.drained():
                steady = steady or time.monotonic()
                if time.monotonic() - steady >= 1.0:
                    return steady - started, series
            else:
                steady = None
            time.sleep(0.25)
        raise BenchError(f"the processor did not catch up within {DRAIN_TIMEOUT:.0f} s ({what})")

    def stage(
        self, name: str, w: _Window, label: str, note: str, f: Freshness | None = None
    ) -> Stage:
        rss = watch.max_rss(self.rss.samples(), label)
        return Stage(
            scenario=name,
            ingested_per_s=w.load.events_per_s,
            stored_per_s=w.stored_per_s,
            lag_start=w.lag_start,
            lag_end=w.lag_end,
            fresh_p50_ms=_ms(f.quantile(50)) if f else None,
            fresh_p99_ms=_ms(f.quantile(99)) if f else None,
            rss_max_mib=rss / MIB if rss else None,
            failed=w.load.failed,
            cores=w.cores,
            note=note,
        )


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000


def run(options: PipelineBenchOptions, say: Say) -> PipelineReport:
    """Every stage and baseline; blocks for about 4 x duration + 3 minutes."""
    machine = report.machine()
    say(f"machine: {machine.describe()}")
    env: dict[str, str] = {}
    if options.max_batch is not None:
        env[ProcessorSettings.key("max_batch")] = str(options.max_batch)
    if options.batch_wait is not None:
        env[ProcessorSettings.key("batch_wait")] = str(options.batch_wait)
    pg = dict(options.postgres_settings)
    if options.profile_dir is not None:
        pg |= {"shared_preload_libraries": "pg_stat_statements", "pg_stat_statements.track": "all"}
    with platform(
        say, workers=options.workers, processor=True, processor_env=env, postgres_settings=pg
    ) as plat:
        bench = _Bench(options, plat, say)
        try:
            return _run(bench, machine, env)
        finally:
            bench.rss.stop()


def _run(bench: _Bench, machine: report.Machine, env: dict[str, str]) -> PipelineReport:
    o, say = bench.options, bench.say
    baselines = _storage_baselines(bench)
    stages: list[Stage] = []

    time.sleep(SETTLE)
    bench.rss.label("sustained")
    say(f"(1) closed loop, {o.connections} connections, for {o.warmup:g}+{o.duration:g} s...")
    first = bench.window(bench.spec(_SUSTAINED, o.duration, o.warmup, None))
    bench.rss.label("after")
    drained_in, _ = bench.drain("after (1)")
    sustained = min(first.load.events_per_s, first.stored_per_s)
    stages.append(bench.stage(
        "(1) closed loop, maximum load", first, "sustained",
        f"{o.connections} conns; {outcome(first.load)}; caught up {drained_in:.1f} s after",
    ))  # fmt: skip
    say(
        f"  ingested {first.load.events_per_s:,.0f}/s, stored {first.stored_per_s:,.0f}/s, "
        f"lag {first.lag_start:,} -> {first.lag_end:,}; caught up {drained_in:.1f} s later"
    )
    if first.load.events == 0:
        raise BenchError(f"stage (1) got no events accepted: {outcome(first.load)}")

    at_target = _at_target(bench)
    stages.append(at_target[0])
    sustained = max(sustained, at_target[1])
    for stage, kept in _capacity(bench, at_target[1], at_target[0].stored_per_s or 0.0):
        stages.append(stage)
        sustained = max(sustained, kept)

    baselines += _consume_baselines(bench)

    half = o.open_rate_eps or sustained / 2
    fresh = [(_FRESH, half, "(2) open loop at half of (1)")]
    target_half = TARGET_EVENTS_PER_S / 2
    if o.open_rate_eps is None and abs(half - target_half) > 0.05 * target_half:
        fresh.append((_FRESH_TARGET, target_half, "(2b) open loop at half the target"))
    at_half: tuple[Stage, Freshness, _Window] | None = None
    for phase, eps, name in fresh:
        result = _freshness_stage(bench, phase, eps, name)
        stages.append(result[0])
        at_half = result
    assert at_half is not None

    backlog_stages, backlog = _backlog(bench)
    stages += backlog_stages

    profile: ProfileSummary | None = None
    statements: tuple[Statement, ...] = ()
    if o.profile_dir is not None:
        profile, statements = _profile(bench, o.profile_dir)

    checks = _checks(bench)
    samples = bench.rss.samples()
    verdicts = _verdicts(first, sustained, baselines, at_half, samples, backlog,
                         copy_share_target(o.events_per_player))  # fmt: skip
    settings = _settings_text(env, o)
    if o.postgres_settings:
        settings += "; PostgreSQL " + ", ".join(f"{k}={v}" for k, v in o.postgres_settings)
    return PipelineReport(
        command=o.command,
        machine=report.with_load_after(machine),
        settings=settings,
        stages=tuple(stages),
        baselines=tuple(baselines),
        verdicts=verdicts,
        checks=tuple(checks),
        costs=tuple(_costs(stages[0], sustained, first.postgres, o.duration)),
        profile=profile,
        statements=statements,
        events_per_player=min(o.events_per_player, o.batch_size),
        sustained_per_s=sustained,
    )


def _at_target(bench: _Bench) -> tuple[Stage, float]:
    """(1b): offered exactly the target rate, does storing keep up for the whole window?
    Returns the stage and the rate it sustained (0 when the backlog grew)."""
    o = bench.options
    eps = float(TARGET_EVENTS_PER_S)
    name = f"(1b) open loop at the target, {eps:,.0f} ev/s"
    return _open_loop(bench, _AT_TARGET, eps, name, o.duration)


def _capacity(
    bench: _Bench, at_target: float, stored_at_target: float
) -> list[tuple[Stage, float]]:
    """(1c): the highest offered rate that storing keeps up with, in two shorter windows:
    above the target when (1b) kept up, else just under what (1b) stored. The closed
    loop overdrives the API, which then takes the CPU storing needs on a shared machine;
    an offered rate is what a deployment sees."""
    o = bench.options
    found = []
    if at_target:
        rates = [TARGET_EVENTS_PER_S * 1.15, TARGET_EVENTS_PER_S * 1.3]
    else:
        rates = [stored_at_target * 0.9, stored_at_target * 0.75]
    for phase, eps in zip(_CAPACITY, rates, strict=True):
        eps = round(eps / 1000) * 1000.0
        name = f"(1c) open loop at {eps:,.0f} ev/s"
        stage, kept = _open_loop(bench, phase, eps, name, o.duration / 2)
        found.append((stage, kept))
        if bool(kept) != bool(at_target):  # above: stop at the first miss; below: at a keep
            break
    return found


def _open_loop(
    bench: _Bench, phase: int, eps: float, name: str, duration: float
) -> tuple[Stage, float]:
    o, say = bench.options, bench.say
    time.sleep(SETTLE)
    bench.rss.label("sustained")
    say(f"{name}, for {o.warmup:g}+{duration:g} s...")
    w = bench.window(bench.spec(phase, duration, o.warmup, eps / o.batch_size))
    bench.rss.label("after")
    drained_in, _ = bench.drain(f"after {name.split()[0]}")
    grew = w.lag_end - w.lag_start
    kept = (
        w.load.missed == 0
        and w.load.events_per_s >= 0.98 * eps
        and w.stored_per_s >= 0.98 * eps
        and grew <= eps  # less than a second of traffic behind at the end than at the start
    )
    verdict = "kept up" if kept else "did NOT keep up"
    note = (
        f"{verdict}: backlog {'+' if grew >= 0 else ''}{grew:,} over the window; missed "
        f"{w.load.missed}; {outcome(w.load)}; caught up {drained_in:.1f} s after"
    )
    say(f"  ingested {w.load.events_per_s:,.0f}/s, stored {w.stored_per_s:,.0f}/s, lag "
        f"{w.lag_start:,} -> {w.lag_end:,}: {verdict}")  # fmt: skip
    stage = bench.stage(name, w, "sustained", note)
    return stage, (min(w.load.events_per_s, w.stored_per_s) if kept else 0.0)


def _settings_text(env: dict[str, str], o: PipelineBenchOptions) -> str:
    # What the processor reads: the inherited environment, then the bench's overrides.
    required = {Wire.POSTGRES_DSN: "-", Wire.KAFKA_BOOTSTRAP: "-"}
    s = ProcessorSettings.from_env({**os.environ, **env, **ProcessorSettings.wire(required)})
    wait = f"{s.batch_wait.total_seconds():g}"
    return (
        f"processor max_batch {s.max_batch}, batch_wait {wait} s, {s.writers} writers; "
        f"{o.workers} ingest workers; "
        f"{o.batch_size}-event requests from {o.templates} templates, "
        f"{min(o.events_per_player, o.batch_size)} events in a row per player, "
        f"{o.players:,} players; "
        f"{EVENTS.partitions['local']} partitions"
    )


def _storage_baselines(bench: _Bench) -> list[storage.RateResult]:
    o, say, dsn = bench.options, bench.say, bench.plat.postgres_dsn
    source = dataclasses.replace(bench.source, phase=_BASELINE)
    batch = o.max_batch or 5000
    results = []
    for fmt in ("binary", "text"):
        time.sleep(SETTLE)
        say(f"(a) COPY {fmt} of {o.baseline_rows:,} rows into a copy of events...")
        result = storage.in_process(
            storage.copy_in_process, dsn, source, o.baseline_rows, batch, fmt
        )
        say(f"  {result.per_s:,.0f} rows/s")
        results.append(result)
    time.sleep(SETTLE)
    say(f"(c) the writer alone on {o.baseline_rows:,} rows...")
    writer_source = dataclasses.replace(source, phase=_BASELINE + 1)
    result = storage.in_process(
        storage.writer_in_process, dsn, writer_source, o.baseline_rows, batch
    )
    say(f"  {result.per_s:,.0f} rows/s")
    results.append(result)
    return results


def _consume_baselines(bench: _Bench) -> list[storage.RateResult]:
    o, say = bench.options, bench.say
    bootstrap = bench.plat.target.kafka_bootstrap
    assert bootstrap is not None
    results = []
    for decode in (False, True):
        time.sleep(SETTLE)
        what = "consume + decode" if decode else "consume"
        say(f"(b) Kafka {what} of {EVENTS.name} for up to {o.consume_seconds:g} s...")
        result = storage.in_process(
            storage.consume_in_process, bootstrap, EVENTS.name, o.consume_seconds, decode,
            o.max_batch or 5000,
        )  # fmt: skip
        say(f"  {result.per_s:,.0f} msgs/s")
        results.append(result)
    return results


def _freshness_stage(
    bench: _Bench, phase: int, eps: float, name: str
) -> tuple[Stage, Freshness, _Window]:
    o, say, plat = bench.options, bench.say, bench.plat
    ctx = multiprocessing.get_context("spawn")
    stop = ctx.Event()
    receive, send = ctx.Pipe(duplex=False)
    poller = ctx.Process(
        target=poll_markers, args=(plat.postgres_dsn, plat.game_id, phase, stop, send),
        name="marker-poller", daemon=True,
    )  # fmt: skip
    poller.start()
    time.sleep(SETTLE)
    label = f"fresh-{phase}"
    bench.rss.label(label)
    say(f"{name} at {eps:,.0f} events/s for {o.warmup:g}+{o.duration:g} s...")
    rate = eps / o.batch_size
    try:
        w = bench.window(bench.spec(phase, o.duration, o.warmup, rate, markers=True))
        bench.rss.label("after")
        bench.drain(name)
        stop.set()
        if not receive.poll(60):
            raise BenchError("the marker poller did not report")
        seen: dict[int, float] = receive.recv()
    finally:
        stop.set()
        poller.join(10)
        if poller.is_alive():
            poller.kill()
    f = freshness(w.load.marks, seen, phase)
    note = (
        f"target {rate:,.0f} req/s, achieved {w.load.requests_per_s:,.0f}; missed "
        f"{w.load.missed}; {len(f.seconds)} markers, {f.missing} not seen"
    )
    stage = bench.stage(f"{name} at {eps:,.0f} ev/s", w, label, note, f)
    say(f"  stored {w.stored_per_s:,.0f}/s; freshness p50 {stage.fresh_p50_ms or 0:,.0f} ms, "
        f"p99 {stage.fresh_p99_ms or 0:,.0f} ms over {len(f.seconds)} markers")  # fmt: skip
    return stage, f, w


@dataclass(frozen=True, slots=True)
class _Backlog:
    events: int
    drain_seconds: float
    drain_per_s: float
    rss_drain: int | None
    rss_steady: int | None


def _backlog(bench: _Bench) -> tuple[list[Stage], _Backlog]:
    o, say, plat = bench.options, bench.say, bench.plat
    time.sleep(SETTLE)
    say("(3) stopping the processor...")
    plat.stop_processor()
    bench.rss.label("stopped")
    say(f"(3) closed loop with the processor stopped for {o.backlog_seconds:g} s...")
    build = bench.window(bench.spec(_BACKLOG, o.backlog_seconds, 0.0, None), with_processor=False)
    backlog = build.load.all_events
    say(f"  {backlog:,} events waiting; starting the processor...")
    bench.rss.label("drain")
    started = time.monotonic()
    plat.start_processor()
    drained_in, series = bench.drain("the backlog")
    total = time.monotonic() - started
    bench.rss.label("after")
    rate = _drain_rate(series)
    samples = bench.rss.samples()
    steady = max(
        (s.rss for s in samples if s.label == "sustained" or s.label.startswith("fresh")),
        default=None,
    )
    drain_rss = watch.max_rss(samples, "drain")
    say(
        f"  drained in {total:.1f} s at {rate:,.0f} rows/s; RSS max {(drain_rss or 0) / MIB:,.0f}"
        f" MiB (steady state {(steady or 0) / MIB:,.0f} MiB)"
    )
    stages = [
        Stage(
            "(3) backlog built, processor stopped",
            build.load.events_per_s, None, failed=build.load.failed, cores=build.cores,
            note=f"{backlog:,} events accepted in {o.backlog_seconds:g} s",
        ),
        Stage(
            "(3) backlog drained (no ingest)",
            None, rate, lag_start=backlog, lag_end=0,
            rss_max_mib=drain_rss / MIB if drain_rss else None,
            note=f"{backlog:,} events in {total:.1f} s from the processor's start "
                 f"(caught up after {drained_in:.1f} s of polling)",
        ),
    ]  # fmt: skip
    return stages, _Backlog(backlog, total, rate, drain_rss, steady)


def _drain_rate(series: list[watch.ProcessorCounters]) -> float:
    """Rows/s from the first counter that moved to the first that reached the final count."""
    moving = [c for c in series if c.stored > 0]
    if len(moving) < 2:
        return 0.0
    final = moving[-1].stored
    end = next(c for c in moving if c.stored >= final)
    first = moving[0]
    return (end.stored - first.stored) / (end.at - first.at) if end.at > first.at else 0.0


def _profile(bench: _Bench, folder: Path) -> tuple[ProfileSummary, tuple[Statement, ...]]:
    import psycopg

    o, say, plat = bench.options, bench.say, bench.plat
    pid = plat.processor_pid
    if pid is None:
        raise BenchError("the processor is not running")
    seconds = min(o.duration, 20.0)
    out = folder.resolve() / "processor.pyspy.txt"
    with psycopg.connect(plat.postgres_dsn, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        conn.execute("SELECT pg_stat_statements_reset()")
    recording: list[Callable[[], None]] = []

    def probe() -> tuple[procstat.CpuSnapshot, watch.ProcessorCounters | None]:
        if not recording:
            proc = start_recording(pid, seconds, out)
            recording.append(lambda: finish_recording(proc))
        return procstat.snapshot(plat.target.pids, SPLIT), watch.processor_metrics(
            bench.processor_url
        )

    time.sleep(SETTLE)
    say(f"profiling the processor with py-spy during a closed loop into {out}...")
    result, (_, m0), (_, m1) = run_load(bench.spec(_PROFILE, seconds, o.warmup, None), probe)
    bench.accepted += result.all_events
    recording[0]()
    bench.drain("the profiled run")
    stored = max(1.0, (m1.stored if m1 else 0) - (m0.stored if m0 else 0))
    with psycopg.connect(plat.postgres_dsn, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT left(regexp_replace(query, '\\s+', ' ', 'g'), 70), calls, total_exec_time,"
            " wal_bytes FROM pg_stat_statements WHERE calls > 5"
            " ORDER BY total_exec_time DESC LIMIT 10"
        ).fetchall()
    statements = tuple(
        Statement(q, calls, ms * 1000 / stored, float(wal) / stored) for q, calls, ms, wal in rows
    )
    return summarize(out), statements


def copy_share_target(events_per_player: int) -> float:
    return TARGET_COPY_SHARE_ONE_PER_PLAYER if events_per_player == 1 else TARGET_COPY_SHARE


_TOTALS: Final = {
    "events": "SELECT count(*) FROM events WHERE game_id = %s",
    "event_counts": "SELECT coalesce(sum(events), 0) FROM event_counts WHERE game_id = %s",
    "segment_days": "SELECT coalesce(sum(events), 0) FROM segment_days WHERE game_id = %s",
    "daily_stats": "SELECT coalesce(sum(events), 0) FROM daily_stats WHERE game_id = %s",
}
_PLAYER_DAYS: Final = {
    "daily_stats": "SELECT coalesce(sum(players), 0) FROM daily_stats WHERE game_id = %s",
    "player_days": "SELECT count(*) FROM (SELECT DISTINCT day, player_id FROM player_days"
    " WHERE game_id = %s) d",
}


def _checks(bench: _Bench) -> list[str]:
    """Every accepted event stored once, and every rollup adds up to the stored rows."""
    import psycopg

    plat = bench.plat

    def totals(queries: dict[str, str]) -> dict[str, int]:
        found = {}
        for name, query in queries.items():
            (value,) = conn.execute(query, (plat.game_id,)).fetchone()  # type: ignore[misc]
            found[name] = int(value)
        return found

    with psycopg.connect(plat.postgres_dsn, autocommit=True) as conn:
        events, player_days = totals(_TOTALS), totals(_PLAYER_DAYS)
    ok = set(events.values()) == {bench.accepted} and len(set(player_days.values())) == 1
    processor = watch.processor_metrics(bench.processor_url)
    return [
        f"{'OK' if ok else 'MISMATCH'}: the API accepted {bench.accepted:,} events; "
        + "; ".join(f"{name} holds {n:,}" for name, n in events.items())
        + "; player-days: "
        + ", ".join(f"{name} {n:,}" for name, n in player_days.items()),
        f"offset gaps (fetches that skipped records): {processor.gaps_refetched:,.0f} read "
        f"again, {processor.gaps_accepted:,.0f} accepted",
    ]


def _verdicts(
    first: _Window,
    sustained: float,
    baselines: list[storage.RateResult],
    at_half: tuple[Stage, Freshness, _Window],
    samples: list[watch.RssSample],
    backlog: _Backlog,
    share_target: float = TARGET_COPY_SHARE,
) -> tuple[Verdict, ...]:
    short = TARGET_EVENTS_PER_S - sustained
    throughput = Verdict(
        target=f">= {TARGET_EVENTS_PER_S:,} events/s end to end (committed with rollups)",
        measured=f"{sustained:,.0f} events/s sustained; the closed loop (1) ingested "
        f"{first.load.events_per_s:,.0f}/s and stored {first.stored_per_s:,.0f}/s",
        met=short <= 0,
        detail="met"
        if short <= 0
        else f"missed by {short:,.0f} events/s ({short / TARGET_EVENTS_PER_S:.0%} short)",
    )
    # The COPY baseline as the issue defines it: psycopg's write_row (text format).
    copy = next(b for b in baselines if b.what == "COPY text")
    binary = next(b for b in baselines if b.what == "COPY binary")
    share = sustained / copy.per_s if copy.per_s else 0.0
    binary_share = sustained / binary.per_s if binary.per_s else 0.0
    ratio = Verdict(
        target=f">= {share_target:.0%} of the COPY baseline (write_row, text)",
        measured=f"{share:.0%} of {copy.per_s:,.0f} rows/s "
        f"({binary_share:.0%} of binary COPY's {binary.per_s:,.0f} rows/s)",
        met=share >= share_target,
        detail="met" if share >= share_target
        else f"missed by {(share_target - share) * 100:.0f} points",
    )  # fmt: skip
    stage, f, w = at_half
    p99 = f.quantile(99)
    rate = w.load.spec_rate or 0.0
    kept_up = w.load.missed == 0 and w.load.requests_per_s >= 0.95 * rate
    fresh_met = p99 is not None and p99 <= TARGET_FRESH_P99_S and kept_up
    if p99 is None:
        detail = "no markers"
    elif not kept_up:
        detail = "the API did not keep up with the open-loop rate"
    elif p99 > TARGET_FRESH_P99_S:
        detail = f"over by {(p99 - TARGET_FRESH_P99_S) * 1000:,.0f} ms"
    else:
        detail = f"met, {(TARGET_FRESH_P99_S - p99) * 1000:,.0f} ms to spare"
    fresh = Verdict(
        target=f"freshness p99 <= {TARGET_FRESH_P99_S:g} s at half the load",
        measured=f"p99 {stage.fresh_p99_ms or 0:,.0f} ms, p50 {stage.fresh_p50_ms or 0:,.0f} ms "
        f"({stage.scenario})",
        met=fresh_met,
        detail=detail,
    )
    limit = services.PROCESSOR.memory_limit_mib * MIB
    peak = max((s.rss for s in samples), default=0)
    drain = backlog.rss_drain or 0
    rss = Verdict(
        target=f"processor RSS bounded whatever the backlog (limit {limit // MIB} MiB)",
        measured=f"max {peak / MIB:,.0f} MiB over the run; {drain / MIB:,.0f} MiB draining "
        f"{backlog.events:,} events vs {(backlog.rss_steady or 0) / MIB:,.0f} MiB with no backlog",
        met=0 < peak <= limit,
        detail="met" if 0 < peak <= limit else "over the deployment's memory limit",
    )
    return throughput, ratio, fresh, rss


def _costs(
    first: Stage, sustained: float, pg: watch.PostgresCounters | None, seconds: float
) -> list[str]:
    """CPU per event for each component in stage (1): cores used / events per second;
    and what PostgreSQL wrote per event."""
    if not sustained:
        return []
    rate = first.stored_per_s or sustained
    wal = []
    if pg is not None:
        events = rate * seconds
        wal = [
            f"PostgreSQL in (1): {pg.wal_bytes / events:,.0f} B of WAL per stored event, "
            f"{pg.wal_fpi / events * 1000:,.1f} full-page images per 1,000 events, "
            f"{pg.checkpoints_requested} checkpoints requested (WAL full) and "
            f"{pg.checkpoints_timed} timed, WAL buffers full {pg.wal_buffers_full:,} times"
        ]
    parts = [
        f"{name} {cores / rate * 1e6:,.1f} µs"
        for name, cores in first.cores.items()
        if name != "machine" and "/" not in name
    ]
    machine = first.cores.get("machine")
    total = f"; machine {machine:.2f} cores busy" if machine is not None else ""
    return ["per stored event in (1): " + ", ".join(parts) + total, *wal]


def render(result: PipelineReport) -> str:
    """The report as Markdown: machine, stages, baselines, targets, where the time went."""
    lines = [
        f"command: `{result.command}`",
        f"machine: {result.machine.describe()}",
        f"settings: {result.settings}",
        "",
        _stage_table(result.stages),
        "",
        _baseline_table(result.baselines),
        "",
        "targets:",
    ]
    for v in result.verdicts:
        mark = "MET " if v.met else "MISS"
        lines.append(f"- [{mark}] {v.target}: {v.measured} — {v.detail}")
    lines += ["", "checks:", *(f"- {c}" for c in result.checks)]
    if result.costs:
        lines += ["", "CPU:", *(f"- {c}" for c in result.costs)]
    if result.profile is not None:
        p = result.profile
        lines += [
            "",
            f"profile of the processor (closed loop, py-spy): {p.samples} samples, raw stacks "
            f"in {p.raw_path}",
            "threads: " + ", ".join(f"{s.what} {s.percent:.0f}%" for s in p.threads),
            "top functions by self time:",
            *(f"  {s.percent:5.1f}%  {s.what}" for s in p.self_time),
            "project functions by inclusive time:",
            *(f"  {s.percent:5.1f}%  {s.what}" for s in p.inclusive),
        ]
    if result.statements:
        lines += ["", "PostgreSQL time per stored row (pg_stat_statements, profiled run):"]
        lines += [
            f"  {s.us_per_row:6.2f} µs  {s.wal_bytes_per_row:5.0f} B WAL  {s.calls:6d} calls  "
            f"{s.query}"
            for s in result.statements
        ]
    return "\n".join(lines)


def side_by_side(reports: list[PipelineReport]) -> str:
    """The runs at several player cardinalities in one table (each with its own baselines)."""
    header = ("events per player", "closed loop stored ev/s", "sustained ev/s", "COPY text rows/s",
              "share of COPY", "target", "fresh p99 ms", "end check")  # fmt: skip
    rows = []
    for r in reports:
        copy = next(b for b in r.baselines if b.what == "COPY text")
        fresh = next((s for s in r.stages if s.fresh_p99_ms is not None), None)
        rows.append((
            str(r.events_per_player), report.num(r.stages[0].stored_per_s),
            report.num(r.sustained_per_s), report.num(copy.per_s),
            f"{r.sustained_per_s / copy.per_s:.0%}" if copy.per_s else "-",
            f">= {copy_share_target(r.events_per_player):.0%}",
            report.num(fresh.fresh_p99_ms) if fresh else "-",
            r.checks[0].split(":")[0] if r.checks else "-",
        ))  # fmt: skip
    return report.grid(header, rows, left=set())


def _stage_table(stages: tuple[Stage, ...]) -> str:
    header = ("stage", "ingested ev/s", "stored ev/s", "lag start", "lag end",
              "fresh p50 ms", "fresh p99 ms", "RSS max MiB", "failed", "CPU cores used",
              "notes")  # fmt: skip
    num = report.num
    lines = [
        (
            s.scenario,
            num(s.ingested_per_s),
            num(s.stored_per_s),
            num(s.lag_start),
            num(s.lag_end),
            num(s.fresh_p50_ms),
            num(s.fresh_p99_ms),
            num(s.rss_max_mib),
            str(s.failed),
            report.cores_text(s.cores),
            s.note,
        )
        for s in stages
    ]
    return report.grid(header, lines, left={0, 9, 10})


def _baseline_table(baselines: tuple[storage.RateResult, ...]) -> str:
    header = ("baseline", "per s", "items", "seconds", "notes")
    lines = [
        (b.what, report.num(b.per_s), f"{b.items:,}", f"{b.seconds:.2f}", b.note) for b in baselines
    ]
    return report.grid(header, lines, left={0, 4})
