"""Running one load scenario against a target and turning it into a report row.

Shared by the benchmarks: a `Scenarios` object knows the target (URL, key,
the local processes whose CPU to account) and the load options, builds the
requests once per scenario and runs closed-loop, open-loop or profiled runs.
"""

import dataclasses
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from apps.bench import procstat, report
from apps.bench.errors import BenchError
from apps.bench.loadgen import LoadResult, LoadSpec, build_request, run_load
from apps.bench.platform import Target
from apps.bench.profile import ProfileSummary, finish_recording, start_recording, summarize

PATH: Final = "/v1/events"
SETTLE: Final = 1.0
"""Seconds of quiet before each scenario (sockets close, the broker flushes)."""

SPLIT: Final = ("ingest",)
"""Processes whose CPU is also reported per thread group (event loop, other threads, librdkafka)."""

Say = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class LoadOptions:
    duration: float
    warmup: float
    connections: int
    processes: int


@dataclass(frozen=True, slots=True)
class ProfiledRun:
    """A scenario run again under py-spy; its throughput is not a result (sampling pauses it)."""

    scenario: str
    summary: ProfileSummary
    row: report.Row


def outcome(result: LoadResult) -> str:
    return f"statuses {result.statuses or '{}'}, errors {result.errors or '{}'}"


class Scenarios:
    """Scenarios against one target; each call blocks for warm-up + duration (+ settling)."""

    def __init__(self, options: LoadOptions, target: Target, say: Say) -> None:
        self.options, self.target, self.say = options, target, say
        self.headers = {
            "Authorization": f"Bearer {target.key}",
            "Content-Type": "application/json",
        }

    def spec(self, payloads: list[bytes], events: int, rate: float | None = None) -> LoadSpec:
        t, o = self.target, self.options
        requests = tuple(
            build_request(host=t.host, port=t.port, path=PATH, body=b, headers=self.headers)
            for b in payloads
        )
        return LoadSpec(
            host=t.host,
            port=t.port,
            requests=requests,
            events_per_request=events,
            expected_body=expected_body(events),
            connections=o.connections,
            duration=o.duration,
            warmup=o.warmup,
            rate=rate,
            processes=o.processes,
        )

    def closed(
        self, name: str, payloads: list[bytes], events: int
    ) -> tuple[LoadResult, report.Row]:
        return self._run(name, self.spec(payloads, events), f"{self.options.connections} conns")

    def open(
        self, name: str, payloads: list[bytes], events: int, eps: float
    ) -> tuple[LoadResult, report.Row]:
        rate = eps / events
        name = f"{name} at {eps:,.0f} ev/s"
        result, row = self._run(
            name, self.spec(payloads, events, rate), f"{self.options.connections} conns"
        )
        achieved = result.events_per_s
        note = (
            f"target {rate:,.0f} req/s, achieved {result.requests_per_s:,.0f}; "
            f"latency from due time; missed {result.missed}"
        )
        return result, dataclasses.replace(row, note=note, events_per_s=achieved)

    def _run(self, name: str, spec: LoadSpec, note: str) -> tuple[LoadResult, report.Row]:
        time.sleep(SETTLE)
        self.say(f"running {name} for {spec.warmup:g}+{spec.duration:g} s...")
        pids = self.target.pids
        result, before, after = run_load(spec, lambda: procstat.snapshot(pids, SPLIT))
        row = report.load_row(name, result, procstat.cores_used(before, after, spec.duration), note)
        self.say(
            f"  {row.events_per_s:,.0f} events/s, {row.requests_per_s:,.0f} req/s, "
            f"p50 {row.p50_ms or 0:.1f} ms, p99 {row.p99_ms or 0:.1f} ms; {outcome(result)}"
        )
        return result, row

    def profiled(
        self, scenario: str, payloads: list[bytes], events: int, folder: Path, label: str
    ) -> ProfiledRun:
        pid = self.target.pids.get("ingest")
        if pid is None:
            raise BenchError("--profile needs the benchmark's own platform (no --url)")
        out = folder.resolve() / f"ingest-{label}.pyspy.txt"
        spec = self.spec(payloads, events)
        recording: list[subprocess.Popen[bytes]] = []

        def probe() -> procstat.CpuSnapshot:
            if not recording:
                recording.append(start_recording(pid, spec.duration, out))
            return procstat.snapshot(self.target.pids, SPLIT)

        time.sleep(SETTLE)
        self.say(f"profiling scenario {scenario} with py-spy into {out}...")
        result, before, after = run_load(spec, probe)
        finish_recording(recording[0])
        row = report.load_row(
            f"{scenario} under py-spy",
            result,
            procstat.cores_used(before, after, spec.duration),
            "py-spy samples the process 100 times/s",
        )
        return ProfiledRun(scenario, summarize(out), row)


def expected_body(events: int) -> bytes:
    """The API's (and the parse baseline's) body for a fully accepted batch."""
    return b'{"accepted":%d,"rejected":[]}' % events
