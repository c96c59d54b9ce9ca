"""The analytics benchmark's report: latencies per query and path, checks, targets, plans."""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Final

from apps.bench import report
from apps.bench.analytics_load import Activity, TableSize

LAYER: Final = "query layer"
RAW: Final = "raw SQL on events"
HTTP: Final = "GraphQL, cache off"
HTTP_CACHED: Final = "GraphQL, cache on (hits)"
MAX_DIFFERENCES: Final = 5


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), interpolated between the closest ranks."""
    if not values:
        return math.nan
    ordered = sorted(values)
    k = (len(ordered) - 1) * q / 100
    lo = math.floor(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


@dataclass(frozen=True, slots=True)
class Timing:
    path: str
    runs: int
    p50_ms: float
    p95_ms: float
    max_ms: float
    note: str = ""


def timing(path: str, seconds: Sequence[float], note: str = "") -> Timing:
    ms = [s * 1000 for s in seconds]
    return Timing(path, len(ms), percentile(ms, 50), percentile(ms, 95), max(ms, default=math.nan),
                  note)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Check:
    """Answers of `path` compared with those of `against` for the same arguments."""

    path: str
    against: str
    compared: int
    differing: int
    differences: tuple[str, ...] = ()
    """The first few differences, each `run i: field: expected != actual`."""


@dataclass(frozen=True, slots=True)
class QueryResult:
    name: str
    field: str
    target_ms: float | None
    timings: tuple[Timing, ...]
    checks: tuple[Check, ...]

    def timing(self, path: str) -> Timing | None:
        return next((t for t in self.timings if t.path == path), None)

    def check(self, path: str) -> Check | None:
        return next((c for c in self.checks if c.path == path), None)


@dataclass(frozen=True, slots=True)
class Verdict:
    target: str
    path: str
    p95_ms: float
    met: bool


@dataclass(frozen=True, slots=True)
class Plan:
    """EXPLAIN (ANALYZE, BUFFERS) of one statement the query layer ran for `query`."""

    query: str
    statement: str
    text: str


@dataclass(frozen=True, slots=True)
class DataReport:
    game_id: str
    events: int
    players: int
    days: int
    seed: int
    first_day: date
    last_day: date
    reused: bool
    load_seconds: float
    vacuum_seconds: float
    live_events: int
    sessions: int
    purchases: int
    player_days: int
    rows_with_other_attributes: int
    by_type: dict[str, int]
    by_currency: dict[str, int]
    activity: Activity
    tables: tuple[TableSize, ...]

    @property
    def load_per_s(self) -> float:
        return self.events / self.load_seconds if self.load_seconds else 0.0


@dataclass(frozen=True, slots=True)
class AnalyticsReport:
    command: str
    machine: report.Machine
    settings: str
    data: DataReport
    queries: tuple[QueryResult, ...]
    verdicts: tuple[Verdict, ...]
    plans: tuple[Plan, ...] = ()
    notes: tuple[str, ...] = ()


def verdicts(queries: Sequence[QueryResult]) -> list[Verdict]:
    """Each target against the query layer and, when measured, the API without cache."""
    out = []
    for q in queries:
        if q.target_ms is None:
            continue
        for path in (LAYER, HTTP):
            t = q.timing(path)
            if t is not None:
                out.append(Verdict(f"{q.name}: p95 <= {q.target_ms:g} ms", path, t.p95_ms,
                                   t.p95_ms <= q.target_ms))  # fmt: skip
    return out


def _speedup(raw: Timing | None, t: Timing, pct: str) -> str:
    """How many times faster than raw SQL the query layer answered."""
    if raw is None or t.path != LAYER:
        return ""
    mine, theirs = (t.p50_ms, raw.p50_ms) if pct == "p50" else (t.p95_ms, raw.p95_ms)
    return f"x{theirs / mine:,.1f}" if mine > 0 else "-"


def _answers(q: QueryResult, path: str) -> str:
    c = q.check(path)
    if c is None:
        return ""
    if c.differing:
        return f"DIFFER in {c.differing}/{c.compared}"
    return f"= {c.against} {c.compared}/{c.compared}"


def _target(q: QueryResult, t: Timing) -> str:
    if q.target_ms is None or t.path not in (LAYER, HTTP):
        return ""
    return f"<= {q.target_ms:g} ms: " + ("MET" if t.p95_ms <= q.target_ms else "MISS")


def results_table(queries: Sequence[QueryResult]) -> str:
    header = ("query", "path", "runs", "p50 ms", "p95 ms", "max ms", "vs raw p50",
              "vs raw p95", "answers", "target p95", "notes")  # fmt: skip
    lines = []
    for q in queries:
        raw = q.timing(RAW)
        for i, t in enumerate(q.timings):
            lines.append((
                q.name if i == 0 else "", t.path, str(t.runs), report.num(t.p50_ms, 1),
                report.num(t.p95_ms, 1), report.num(t.max_ms, 1), _speedup(raw, t, "p50"),
                _speedup(raw, t, "p95"), _answers(q, t.path), _target(q, t), t.note,
            ))  # fmt: skip
    return report.grid(header, lines, left={0, 1, 8, 9, 10})


def _mib(n: int) -> str:
    return f"{n / 2**20:,.0f} MiB"


def data_text(d: DataReport) -> list[str]:
    a = d.activity
    if d.reused:
        loaded = f"reused from the data folder (its load took {d.load_seconds:,.0f} s, " \
                 f"{d.load_per_s:,.0f} events/s)"  # fmt: skip
    else:
        loaded = f"loaded in {d.load_seconds:,.1f} s ({d.load_per_s:,.0f} events/s)"
    types = ", ".join(f"{k} {v:,}" for k, v in sorted(d.by_type.items(), key=lambda kv: -kv[1]))
    currencies = ", ".join(
        f"{k} {v:,}" for k, v in sorted(d.by_currency.items(), key=lambda kv: -kv[1])
    )
    share = d.purchases / d.sessions if d.sessions else 0.0
    return [
        f"data: {d.events:,} events, {d.players:,} players, {d.days} days "
        f"({d.first_day} .. {d.last_day}), seed {d.seed}, game {d.game_id}; {loaded} through "
        f"BatchWriter.write; VACUUM ANALYZE {d.vacuum_seconds:,.1f} s; plus {d.live_events:,} "
        "live events received in the 5 minutes before the measurements (for liveStats)",
        f"shape: {d.sessions:,} sessions on {d.player_days:,} player-days "
        f"({d.sessions / max(d.player_days, 1):.2f} per active day, "
        f"{d.events / max(d.sessions, 1):.1f} events per session); daily active players "
        f"{a.dau_mean:,.0f} on average (min {a.dau_min:,}, max {a.dau_max:,}); new players "
        f"{a.new_mean:,.0f}/day; {d.purchases:,} purchases ({share:.1%} of sessions); "
        f"{d.rows_with_other_attributes:,} events "
        f"({d.rows_with_other_attributes / max(d.events, 1):.1%}) carry a platform, country or "
        "app version other than their player's acquisition",
        f"event types: {types}",
        f"purchases by currency: {currencies}",
        "tables (rows of the game; size with indexes): "
        + ", ".join(f"{t.table} {t.rows:,} ({_mib(t.bytes)})" for t in d.tables),
    ]


def render(r: AnalyticsReport) -> str:
    """The report as Markdown: machine, data, latencies, checks, targets, plans."""
    lines = [
        f"command: `{r.command}`",
        f"machine: {r.machine.describe()}",
        f"settings: {r.settings}",
        *data_text(r.data),
        "",
        results_table(r.queries),
        "",
        "targets:",
        *(
            f"- [{'MET ' if v.met else 'MISS'}] {v.target} ({v.path}): {v.p95_ms:,.1f} ms"
            for v in r.verdicts
        ),
    ]
    differences = [
        f"- {q.name}, {c.path} vs {c.against}: {d}"
        for q in r.queries
        for c in q.checks
        for d in c.differences
    ]
    checks = [c for q in r.queries for c in q.checks]
    equal = sum(c.compared - c.differing for c in checks)
    total = sum(c.compared for c in checks)
    lines += ["", f"answers: {equal}/{total} compared answers equal (counts exactly, floats "
              "to 1e-9 relative)", *differences]  # fmt: skip
    if r.notes:
        lines += ["", "notes:", *(f"- {n}" for n in r.notes)]
    if r.plans:
        lines += ["", "where the time goes (EXPLAIN (ANALYZE, BUFFERS) of the query layer's "
                  "statements, one run each):"]  # fmt: skip
        for p in r.plans:
            lines += ["", f"{p.query}:", "```sql", p.statement, "```", "```", p.text, "```"]
    return "\n".join(lines)
