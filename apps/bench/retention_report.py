"""What `gamemetrics bench retention` measured, its verdicts against the issue's targets,
and the text a person reads. Pure: apps/bench/retention.py measures."""

from dataclasses import dataclass, field
from datetime import date
from typing import Final

from apps.bench import report, windows
from apps.bench.report import Verdict
from apps.bench.windows import WindowResult

TARGET_ARCHIVE_RATIO: Final = 0.60
"""Archive rows/s over pyarrow's (COPY + write to a local file) in the same run."""
TARGET_PIPELINE_RATIO: Final = 0.85
"""Stored events/s while a pass runs over the mean of the windows without."""


def per_s(rows: int, seconds: float) -> float:
    return rows / seconds if seconds > 0 else 0.0


@dataclass(frozen=True, slots=True)
class Baseline:
    """The due game-days streamed from PostgreSQL (`raw_events.stream_day`, as the pass
    reads them) and written by pyarrow with zstd, one local file per day; then, for
    context, the same Arrow tables written in memory and encoded as the archive does."""

    days: int
    rows: int
    read_s: float
    file_write_s: float
    file_bytes: int
    memory_write_s: float
    encode_s: float
    """`apps.archive.parquet.encode`: sorted by player and time, dictionaries, statistics."""
    encode_bytes: int

    @property
    def seconds(self) -> float:
        return self.read_s + self.file_write_s

    @property
    def per_s(self) -> float:
        return per_s(self.rows, self.seconds)


@dataclass(frozen=True, slots=True)
class PassRun:
    """One `gamemetrics retention run --once --game ID` process and its report."""

    rows: int
    bytes: int
    days: int
    rows_deleted: int
    partitions_dropped: int
    pass_s: float
    """The pass's own time (its report's `seconds`)."""
    process_s: float
    """The process's wall time, start-up and imports included."""
    cpu_s: dict[str, float]
    """CPU seconds over the process's life: the pass's process, PostgreSQL, the S3 server."""
    problems: tuple[str, ...] = ()
    retried_later: tuple[str, ...] = ()

    @property
    def per_s(self) -> float:
        return per_s(self.rows, self.pass_s)


@dataclass(frozen=True, slots=True)
class Sizes:
    database: int
    """pg_database_size."""
    events: int
    """Every partition of `events` with its indexes and TOAST."""
    event_keys: int
    game_rows: int
    """The data set's game's raw events."""


@dataclass(frozen=True, slots=True)
class DataInfo:
    events: int
    players: int
    days: int
    first_day: date
    last_day: date
    reused: bool
    load_seconds: float
    """The data set's load (earlier, when reused)."""
    copy_seconds: tuple[float, ...]
    """Copying the data folder and starting each platform on it."""


@dataclass(frozen=True, slots=True)
class Due:
    """The game-days the pass moves: older than the game's hot window on `today`."""

    hot_days: int
    today: date
    days: int
    rows: int
    first: date | None
    last: date | None


@dataclass(frozen=True, slots=True)
class RetentionReport:
    command: str
    machine: report.Machine
    workload: str
    data: DataInfo
    due: Due
    baseline: Baseline
    alone: PassRun
    before: Sizes
    after: Sizes
    vacuumed: Sizes
    """After VACUUM of `events` and `event_keys` (what autovacuum would do next)."""
    vacuum_s: float
    archive_bytes: int
    """Sum of the due days' manifests after the pass."""
    windows: tuple[WindowResult, ...]
    under_load: PassRun
    pipeline_ratio: float
    busy_share: float
    """Share of window (B) during which the pass ran."""
    verdicts: tuple[Verdict, ...]
    checks: tuple[str, ...] = field(default=())

    @property
    def archive_ratio(self) -> float:
        return self.alone.per_s / self.baseline.per_s if self.baseline.per_s else 0.0

    @property
    def failed(self) -> bool:
        """A correctness check failed: the run fails."""
        return any(not c.startswith("OK") for c in self.checks)


def verdicts(baseline: Baseline, alone: PassRun, pipeline_ratio: float) -> tuple[Verdict, ...]:
    ratio = alone.per_s / baseline.per_s if baseline.per_s else 0.0
    return (
        Verdict(
            f"archive throughput >= {TARGET_ARCHIVE_RATIO:.0%} of pyarrow writing the same rows"
            " to a local file (COPY included) in the same run",
            f"{ratio:.2%}: {alone.per_s:,.0f} rows/s against {baseline.per_s:,.0f} rows/s",
            ratio >= TARGET_ARCHIVE_RATIO,
        ),
        Verdict(
            f"pipeline throughput while a pass runs >= {TARGET_PIPELINE_RATIO:.0%} of the same"
            " run without",
            f"{pipeline_ratio:.0%} of stored events/s",
            pipeline_ratio >= TARGET_PIPELINE_RATIO,
        ),
    )


def _mb(n: float) -> str:
    return f"{n / 1e6:,.1f} MB"


def _throughput_rows(r: RetentionReport) -> list[tuple[str, ...]]:
    b, p, num = r.baseline, r.alone, report.num

    def row(what: str, rows: int, seconds: float, size: int | None, note: str) -> tuple[str, ...]:
        return (what, num(rows), f"{seconds:,.2f}", num(per_s(rows, seconds)),
                "-" if size is None else _mb(size), note)  # fmt: skip

    cpu = ", ".join(f"{k} {v:,.1f} s" for k, v in p.cpu_s.items())
    return [
        row("retention pass (separate process)", p.rows, p.pass_s, p.bytes,
            f"{p.days} days, {p.partitions_dropped} partitions dropped, {p.rows_deleted:,} rows "
            f"deleted; process {p.process_s:,.1f} s with start-up; CPU: {cpu}"),
        row("baseline: stream_day + pyarrow write to a local file (zstd)", b.rows, b.seconds,
            b.file_bytes, f"{b.days} files, one per day"),
        row("  of which: COPY read into Arrow (stream_day)", b.rows, b.read_s, None, ""),
        row("  of which: pyarrow write to the file", b.rows, b.file_write_s, None, ""),
        row("context: pyarrow write in memory (zstd)", b.rows, b.memory_write_s, None,
            "the same tables, no disk"),
        row("context: the archive's encode in memory", b.rows, b.encode_s, b.encode_bytes,
            "sort by player and time, dictionaries, statistics, zstd"),
    ]  # fmt: skip


_THROUGHPUT: Final = ("what", "rows", "seconds", "rows/s", "bytes", "notes")
_SIZES: Final = ("PostgreSQL", "before", "after the pass", "freed", "after VACUUM", "freed then")


def _size_rows(before: Sizes, after: Sizes, vacuumed: Sizes) -> list[tuple[str, ...]]:
    def row(what: str, a: int, b: int, c: int, fmt: type[int] | None = None) -> tuple[str, ...]:
        show = report.num if fmt is int else _mb
        return (what, show(a), show(b), show(a - b), show(c), show(a - c))

    return [
        row("database (pg_database_size)", before.database, after.database, vacuumed.database),
        row("events, every partition and index", before.events, after.events, vacuumed.events),
        row("event_keys", before.event_keys, after.event_keys, vacuumed.event_keys),
        row("the game's raw events (rows)", before.game_rows, after.game_rows,
            vacuumed.game_rows, int),
    ]  # fmt: skip


def render(r: RetentionReport) -> str:
    d, due, u = r.data, r.due, r.under_load
    copies = " and ".join(f"{s:,.0f} s" for s in d.copy_seconds)
    freed = r.before.database - r.after.database
    lines = [
        f"command: `{r.command}`",
        f"machine: {r.machine.describe()}",
        f"workload: {r.workload}",
        f"data: {d.events:,} events of {d.players:,} players, {d.first_day} .. {d.last_day} "
        f"({'reused, loaded earlier in' if d.reused else 'loaded in'} {d.load_seconds:,.0f} s; "
        f"copied and started in {copies})",
        f"due: {due.days} game-days ({due.first} .. {due.last}), {due.rows:,} rows: the game's "
        f"hot_days and late horizon set to {due.hot_days}, today {due.today}",
        "",
        "archive throughput, nothing else running (the baseline first, then the pass):",
        "",
        report.grid(_THROUGHPUT, _throughput_rows(r), left={0, 5}),
        "",
        f"archive rows/s / baseline rows/s: {r.archive_ratio:.1%}",
        "",
        report.grid(_SIZES, _size_rows(r.before, r.after, r.vacuumed), left={0}),
        "",
        f"VACUUM events, event_keys after the pass: {r.vacuum_s:,.1f} s (a DELETE's space is "
        "reusable after it, not returned: a dropped partition's is)",
        f"archive on S3 (sum of the manifests): {_mb(r.archive_bytes)}, "
        f"{per_s(r.archive_bytes, due.rows):,.1f} bytes/row; PostgreSQL freed "
        f"{per_s(freed, due.rows):,.1f} bytes/row",
        "",
        "pipeline while a pass runs (a fresh copy of the data; the pass starts as (B) opens):",
        "",
        windows.table(r.windows),
        "",
        f"the pass in (B): {u.rows:,} rows in {u.pass_s:,.1f} s ({u.per_s:,.0f} rows/s), "
        f"running {r.busy_share:.0%} of the window",
        f"stored events/s in (B) / mean of (A) and (C): {r.pipeline_ratio:.1%}",
        "",
        "targets:",
        *report.verdict_lines(r.verdicts),
        "",
        "checks:",
        *(f"- {c}" for c in r.checks),
    ]
    return "\n".join(lines)
