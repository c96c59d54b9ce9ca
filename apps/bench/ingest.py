"""`gamemetrics bench ingest`: what the ingestion API sustains on this machine, and why.

Scenarios, each from separate load processes: (1) 100-event batches in a
closed loop, (2) single events in a closed loop, (3) 100-event batches in an
open loop at half the events/s of (1), and (3b) at 50k events/s (half the
target, where the latency target is stated) when that differs. Baselines in the same run: (a) Kafka
produce with the API's producer settings and records, (b) Starlette on
uvicorn running `parse_batch` alone. With `--profile`, scenarios (1) and (2)
are run once more under py-spy and the summaries say where the API's time goes.
"""

import contextlib
import multiprocessing
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from apps.bench import baselines, bodies, report
from apps.bench.errors import BenchError
from apps.bench.loadgen import LoadResult
from apps.bench.platform import Target, own_platform
from apps.bench.scenarios import (
    SETTLE,
    LoadOptions,
    ProfiledRun,
    Say,
    Scenarios,
    outcome,
)
from apps.local import process

TARGET_EVENTS_PER_S: Final = 100_000
TARGET_P99_S: Final = 0.050


@dataclass(frozen=True, slots=True)
class IngestBenchOptions:
    duration: float = 20.0
    """Seconds measured per scenario (after the warm-up)."""
    warmup: float = 2.0
    connections: int = 32
    load_processes: int = 1
    batch_size: int = 100
    distinct_bodies: int = 200
    url: str | None = None
    key: str | None = None
    kafka_bootstrap: str | None = None
    open_rate_eps: float | None = None
    """Events/s of scenario (3); default half of what (1) reached."""
    profile_dir: Path | None = None
    workers: int = 2
    """Ingest worker processes of the own platform (SO_REUSEPORT)."""
    command: str = "gamemetrics bench ingest"


@dataclass(frozen=True, slots=True)
class Verdict:
    target: str
    measured: str
    met: bool
    detail: str


@dataclass(frozen=True, slots=True)
class IngestReport:
    command: str
    machine: report.Machine
    rows: tuple[report.Row, ...]
    verdicts: tuple[Verdict, ...]
    produce: tuple[baselines.ProduceResult, ...] = ()
    profiles: tuple[ProfiledRun, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)


def run(options: IngestBenchOptions, say: Say) -> IngestReport:
    """Run every scenario and baseline; blocks for about 10 x (warm-up + duration) seconds."""
    if (options.url is None) != (options.key is None):
        raise BenchError("--url and --key go together: the key must belong to a game at that URL")
    machine = report.machine()
    say(f"machine: {machine.describe()}")
    say("building request bodies...")
    batch = bodies.bodies(options.distinct_bodies, events=options.batch_size, seed=1)
    single = bodies.bodies(options.distinct_bodies, events=1, seed=2)
    rows: list[report.Row] = []
    notes: list[str] = []
    produce: list[baselines.ProduceResult] = []
    profiles: list[ProfiledRun] = []
    with _target(options, say) as target:
        bench = Scenarios(_load_options(options), target, say)
        first = bench.closed("(1) API, 100-event batches, closed loop", batch, options.batch_size)
        rows.append(first[1])
        if first[0].events == 0:
            raise BenchError(f"scenario (1) got no events accepted: {outcome(first[0])}")
        rows.append(bench.closed("(2) API, single events, closed loop", single, 1)[1])
        open_eps = options.open_rate_eps or first[0].events_per_s / 2
        third = bench.open(
            "(3) API, 100-event batches, open loop", batch, options.batch_size, open_eps
        )
        rows.append(third[1])
        at_half = third[0]
        half = TARGET_EVENTS_PER_S / 2
        if abs(open_eps - half) > 0.05 * half:
            # The latency target is stated at half the *target* rate: measure there too.
            extra = bench.open(
                "(3b) API, 100-event batches, open loop, the target's half rate",
                batch,
                options.batch_size,
                half,
            )
            rows.append(extra[1])
            at_half = extra[0]
        verdicts = _verdicts(first[0], at_half)
        if options.profile_dir is not None:
            folder = options.profile_dir
            profiles.append(bench.profiled("(1)", batch, options.batch_size, folder, "batches"))
            profiles.append(bench.profiled("(2)", single, 1, folder, "single"))
        if target.kafka_bootstrap is not None:
            produce = _produce_baselines(target.kafka_bootstrap, batch, options, say)
            rows += [_produce_row(p) for p in produce]
        else:
            notes.append("Kafka produce baseline skipped: pass --kafka-bootstrap with --url")
    rows += _parse_baselines(options, batch, single, say)
    return IngestReport(
        command=options.command,
        machine=report.with_load_after(machine),
        rows=tuple(rows),
        verdicts=verdicts,
        produce=tuple(produce),
        profiles=tuple(profiles),
        notes=tuple(notes),
    )


def _load_options(options: IngestBenchOptions) -> LoadOptions:
    return LoadOptions(
        options.duration, options.warmup, options.connections, options.load_processes
    )


@contextlib.contextmanager
def _target(options: IngestBenchOptions, say: Say) -> Iterator[Target]:
    if options.url is not None and options.key is not None:
        yield Target(options.url, options.key, options.kafka_bootstrap)
        return
    with own_platform(say, workers=options.workers) as target:
        yield target


def _verdicts(first: LoadResult, at_half: LoadResult) -> tuple[Verdict, ...]:
    eps = first.events_per_s
    short = TARGET_EVENTS_PER_S - eps
    if short <= 0:
        detail = "met"
    elif eps:
        detail = (
            f"missed by {short:,.0f} events/s ({short / TARGET_EVENTS_PER_S:.0%} short; "
            f"x{TARGET_EVENTS_PER_S / eps:.2f} needed)"
        )
    else:
        detail = "nothing accepted"
    throughput = Verdict(
        target=f">= {TARGET_EVENTS_PER_S:,} events/s with 100-event batches (closed loop)",
        measured=f"{eps:,.0f} events/s",
        met=short <= 0,
        detail=detail,
    )
    half = TARGET_EVENTS_PER_S / 2
    p99 = at_half.latency(99)
    kept_up = at_half.events_per_s >= 0.95 * half and at_half.missed == 0
    if p99 is None:
        measured, met, detail = "no responses", False, "nothing answered"
    else:
        measured = f"p99 {p99 * 1000:.1f} ms at {at_half.events_per_s:,.0f} events/s achieved"
        met = p99 <= TARGET_P99_S and kept_up
        if not kept_up:
            detail = f"the API did not keep up with {half:,.0f} events/s"
        elif p99 > TARGET_P99_S:
            detail = f"p99 over by {(p99 - TARGET_P99_S) * 1000:.1f} ms"
        else:
            detail = f"met, {(TARGET_P99_S - p99) * 1000:.1f} ms to spare"
    latency = Verdict(
        target=f"p99 <= {TARGET_P99_S * 1000:.0f} ms at {half:,.0f} events/s (open loop)",
        measured=measured,
        met=met,
        detail=detail,
    )
    return throughput, latency


def _produce_baselines(
    bootstrap: str, batch: list[bytes], options: IngestBenchOptions, say: Say
) -> list[baselines.ProduceResult]:
    from apps.kafka.admin import ensure_topics

    ensure_topics(bootstrap, "local", (baselines.BENCH_TOPIC,))
    results = []
    for mode, kind in baselines.PRODUCE_MODES.items():
        time.sleep(SETTLE)
        say(f"running (a) Kafka produce, {kind}, for {options.duration:g} s...")
        result = baselines.measure_produce(bootstrap, batch, options.duration, mode)
        say(f"  {result.messages_per_s:,.0f} msgs/s acknowledged, {result.errors} errors")
        results.append(result)
    return results


def _produce_row(result: baselines.ProduceResult) -> report.Row:
    kind = {
        "callbacks": "callback per record",
        "poll-thread": "callback per record on a poll thread (as the API)",
        "no-callbacks": "no callbacks",
    }[result.mode]
    size = result.value_bytes / max(result.messages + result.errors, 1)
    return report.Row(
        scenario=f"(a) Kafka produce, {kind}",
        events_per_s=result.messages_per_s,
        requests_per_s=None,
        failed=result.errors,
        note=f"one Python process, acks=all, lz4; mean value {size:.0f} B",
    )


def _parse_baselines(
    options: IngestBenchOptions, batch: list[bytes], single: list[bytes], say: Say
) -> list[report.Row]:
    port = process.free_port()
    ctx = multiprocessing.get_context("spawn")
    server = ctx.Process(target=baselines.serve_parse_only, args=(port,), daemon=True)
    server.start()
    try:
        assert server.pid is not None
        process.wait_until(
            lambda: process.port_open("127.0.0.1", port), timeout=30, what="parse-only server"
        )
        target = Target(f"http://127.0.0.1:{port}", "unused", pids={"parse-only": server.pid})
        bench = Scenarios(_load_options(options), target, say)
        return [
            bench.closed(
                "(b) parse only, 100-event batches, closed loop", batch, options.batch_size
            )[1],
            bench.closed("(b) parse only, single events, closed loop", single, 1)[1],
        ]
    finally:
        if server.pid is not None and server.is_alive():
            os.kill(server.pid, signal.SIGTERM)
        server.join(10)
        if server.is_alive():
            server.kill()
            server.join(5)


def _cost(row: report.Row) -> str:
    server = next((name for name in ("ingest", "parse-only") if name in row.cores), None)
    if server is None or not row.requests_per_s or not row.events_per_s:
        return ""
    cores = row.cores[server]
    per_request = cores / row.requests_per_s * 1e6
    per_event = cores / row.events_per_s * 1e6
    return f"{server} {per_request:,.0f} µs per request, {per_event:,.1f} µs per event"


def render(result: IngestReport) -> str:
    """The report as Markdown: machine, table, targets, profile."""
    lines = [
        f"command: `{result.command}`",
        f"machine: {result.machine.describe()}",
        "",
        report.table(result.rows),
        "",
        "targets:",
    ]
    for v in result.verdicts:
        mark = "MET " if v.met else "MISS"
        lines.append(f"- [{mark}] {v.target}: {v.measured} — {v.detail}")
    lines += [f"- note: {n}" for n in result.notes]
    costs = [_cost(row) for row in result.rows]
    if any(costs):
        lines += ["", "server CPU per request and per event (cores used / rate):"]
        lines += [f"- {row.scenario}: {c}" for row, c in zip(result.rows, costs, strict=True) if c]
    for run in result.profiles:
        p, r = run.summary, run.row
        lines += [
            "",
            f"profile of the ingest process under scenario {run.scenario} "
            f"({r.events_per_s or 0:,.0f} events/s while sampled): {p.samples} samples, "
            f"raw stacks in {p.raw_path}",
            "threads: " + ", ".join(f"{s.what} {s.percent:.0f}%" for s in p.threads),
            "top functions by self time (the frame on top of the stack):",
            *(f"  {s.percent:5.1f}%  {s.what}" for s in p.self_time),
            "project functions by inclusive time (anywhere on the stack):",
            *(f"  {s.percent:5.1f}%  {s.what}" for s in p.inclusive),
        ]
    return "\n".join(lines)
