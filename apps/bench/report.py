"""Rows, the machine they were measured on, and the text table a person reads."""

import os
import platform
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from apps.bench.loadgen import LoadResult


@dataclass(frozen=True, slots=True)
class Machine:
    nproc: int
    cpu_model: str
    load_before: tuple[float, float, float]
    python: str
    kernel: str
    load_after: tuple[float, float, float] | None = None

    def describe(self) -> str:
        load = " ".join(f"{v:.2f}" for v in self.load_before)
        after = (
            " (after: " + " ".join(f"{v:.2f}" for v in self.load_after) + ")"
            if self.load_after
            else ""
        )
        return (
            f"{self.nproc} CPUs ({self.cpu_model}), Linux {self.kernel}, Python {self.python}; "
            f"load average before the run {load}{after}"
        )


def machine() -> Machine:
    return Machine(
        nproc=os.cpu_count() or 1,
        cpu_model=_cpu_model(),
        load_before=_loadavg(),
        python=sys.version.split()[0],
        kernel=platform.release(),
    )


def _loadavg() -> tuple[float, float, float]:
    try:
        return os.getloadavg()
    except OSError:
        return (0.0, 0.0, 0.0)


def with_load_after(m: Machine) -> Machine:
    return Machine(m.nproc, m.cpu_model, m.load_before, m.python, m.kernel, _loadavg())


def _cpu_model() -> str:
    """The CPU's model name; with its family and model numbers when the name alone is only
    the brand (virtual machines often say just "AMD EPYC": family 25 model 17 is Zen 4)."""
    try:
        fields = dict(
            line.split(":", 1)
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if ":" in line
        )
    except OSError:
        return platform.processor() or "unknown CPU"
    info = {k.strip(): v.strip() for k, v in fields.items()}
    name = info.get("model name") or platform.processor() or "unknown CPU"
    if any(ch.isdigit() for ch in name) or "cpu family" not in info:
        return name
    return f"{name}, family {info['cpu family']} model {info.get('model', '?')}"


@dataclass(frozen=True, slots=True)
class Row:
    scenario: str
    events_per_s: float | None
    requests_per_s: float | None
    p50_ms: float | None = None
    p99_ms: float | None = None
    p999_ms: float | None = None
    max_ms: float | None = None
    failed: int = 0
    note: str = ""
    cores: dict[str, float] = field(default_factory=dict)
    """Cores each component kept busy during the window (`machine`: all of them)."""


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000


def load_row(scenario: str, result: LoadResult, cores: dict[str, float], note: str) -> Row:
    return Row(
        scenario=scenario,
        events_per_s=result.events_per_s,
        requests_per_s=result.requests_per_s,
        p50_ms=_ms(result.latency(50)),
        p99_ms=_ms(result.latency(99)),
        p999_ms=_ms(result.latency(99.9)),
        max_ms=_ms(result.latency(100)),
        failed=result.failed,
        note=note,
        cores={**cores, "loadgen": result.load_cpu_seconds / result.duration},
    )


def num(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def table(rows: Sequence[Row]) -> str:
    """Fixed-width text (also valid Markdown) with one line per scenario."""
    header = ("scenario", "events/s", "req/s", "p50 ms", "p99 ms", "p99.9 ms", "max ms",
              "failed", "CPU cores used", "notes")  # fmt: skip
    lines = [
        (
            r.scenario,
            num(r.events_per_s),
            num(r.requests_per_s),
            num(r.p50_ms, 1),
            num(r.p99_ms, 1),
            num(r.p999_ms, 1),
            num(r.max_ms, 1),
            str(r.failed),
            cores_text(r.cores),
            r.note,
        )
        for r in rows
    ]
    return grid(header, lines, left={0, 8, 9})


def cores_text(cores: dict[str, float]) -> str:
    return " ".join(f"{k} {v:.2f}" for k, v in cores.items())


def grid(header: Sequence[str], lines: Sequence[Sequence[str]], left: set[int]) -> str:
    """A Markdown table padded to fixed width; columns in `left` are left-aligned text,
    the others right-aligned numbers."""
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(header)]

    def fmt(cells: Sequence[str]) -> str:
        padded = [
            c.ljust(w) if i in left else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "| " + " | ".join(padded) + " |"

    rule = (
        "|"
        + "|".join(
            ("-" * (w + 1) + ":") if i not in left else "-" * (w + 2) for i, w in enumerate(widths)
        )
        + "|"
    )
    return "\n".join([fmt(header), rule, *(fmt(line) for line in lines)])


@dataclass(frozen=True, slots=True)
class Verdict:
    """A target of the issue, what was measured against it, and whether it was met."""

    target: str
    measured: str
    met: bool


def verdict_lines(verdicts: Sequence[Verdict]) -> list[str]:
    return [f"- [{'MET ' if v.met else 'MISS'}] {v.target}: {v.measured}" for v in verdicts]
