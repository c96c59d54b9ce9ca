"""`gamemetrics bench retention`: archiving the 10M-event game to S3, and the pipeline meanwhile.

The data: the analytics benchmark's game (`dataset.cached`: 10M events of 200k players
over the 90 days before its load by default, loaded once into `--data-dir` or the run's
temporary folder). The game's `hot_days` and late horizon are set to `--hot-days`
(default 1), so every day older than that on the real today is due: with data loaded
today, 89 of the 90 days. The pass runs as the service would, in a separate process:
`gamemetrics retention run --once --game ID` with its settings in the environment, against
an own S3 (SeaweedFS, `EmbeddedS3`) started in the run's folder.

Two platforms, each on a fresh copy of the data:

1. nothing else running: the baseline (the due days streamed from PostgreSQL by
   `raw_events.stream_day`, as the pass reads them, and written by pyarrow with zstd to a
   local file per day; for context the same tables written in memory and encoded as the
   archive does), then the pass; PostgreSQL's size before and after, the archive's bytes;
2. ingest and processor under the pipeline benchmark's open-loop load into the same
   game, in three windows (`windows.window`): (A) no pass, (B) the pass started as the
   window opens, (C) no pass again.

After each pass: every due day's manifest lists as many rows as PostgreSQL held for it,
PostgreSQL holds none of them, the catalog lists each day as archived; a failed check
fails the run.
"""

import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
from psycopg.rows import TupleRow

from apps.archive import objects, parquet
from apps.bench import dataset, procstat, report, windows
from apps.bench.analytics import AnalyticsBenchOptions
from apps.bench.analytics_data import DataSpec
from apps.bench.errors import BenchError
from apps.bench.pipeline import PipelineBenchOptions, _Bench
from apps.bench.platform import Platform, platform
from apps.bench.retention_report import (
    Baseline,
    DataInfo,
    Due,
    PassRun,
    RetentionReport,
    Sizes,
    verdicts,
)  # fmt: skip
from apps.core.retention import Retention
from apps.core.settings.retention import RetentionSettings
from apps.local import process
from apps.local.servers import EmbeddedS3
from apps.retention.schedule import windows as retention_windows
from apps.s3.client import client, ensure_buckets
from apps.store import archived_days, game_lock, games, raw_events

Say = Callable[[str], None]
BUCKET: Final = "bench-archive"
"""The archive of the first platform's pass; the second's is `BUCKET-under-load` (the two
copies hold the same game: a shared folder would hand the second pass the first's files
as leftovers to delete)."""
_BASELINE, _PASSING, _AGAIN = 31, 32, 33
"""Event-id phases of the three windows."""


@dataclass(frozen=True, slots=True)
class RetentionBenchOptions:
    events: int = 10_000_000
    players: int = 200_000
    days: int = 90
    seed: int = 1
    data_dir: Path | None = None
    """The analytics data set's folder: loaded there once, copied by every run (None: a
    folder of this run)."""
    hot_days: int = 1
    """The game's hot_days and late horizon: days older than this are due."""
    duration: float = 30.0
    warmup: float = 5.0
    rate: float | None = 10_000.0
    """Events/s offered in every window (None: closed loop)."""
    connections: int = 32
    load_processes: int = 1
    workers: int = 2
    load_players: int = 50_000
    events_per_player: int = 10
    batch: int = 5_000
    command: str = "gamemetrics bench retention"


def run(o: RetentionBenchOptions, say: Say) -> RetentionReport:
    """Load (or reuse) the data, measure alone then under load; blocks for minutes."""
    machine = report.machine()
    say(f"machine: {machine.describe()}")
    with tempfile.TemporaryDirectory(prefix="gamemetrics-retention-",
                                     ignore_cleanup_errors=True) as f:  # fmt: skip
        folder = Path(f)
        data_dir = o.data_dir or folder / "data"
        analytics = AnalyticsBenchOptions(events=o.events, players=o.players, days=o.days,
                                          seed=o.seed, batch=o.batch)  # fmt: skip
        manifest, reused = dataset.cached(data_dir, analytics, say)
        spec = manifest.spec()
        s3 = EmbeddedS3("s3", folder / "logs" / "s3.log", data_dir=folder / "s3",
                        port=process.free_port())  # fmt: skip
        say("starting s3 (embedded SeaweedFS)...")
        s3.start()
        try:
            ensure_buckets(client(s3.settings), [BUCKET, f"{BUCKET}-under-load"])
            return _run(o, say, machine, folder, data_dir, spec, s3, reused,
                        manifest.load_seconds)  # fmt: skip
        finally:
            s3.stop(10)


def _run(
    o: RetentionBenchOptions, say: Say, machine: report.Machine, folder: Path, data_dir: Path,
    spec: DataSpec, s3: EmbeddedS3, reused: bool, load_seconds: float,
) -> RetentionReport:  # fmt: skip
    pg = data_dir / "pg"
    started = time.perf_counter()
    with platform(say, workers=1, postgres_from=pg) as plat:
        copied_alone = time.perf_counter() - started
        runner = _Runner(o, plat, s3, spec.game_id, folder, "alone")
        due = runner.prepare()
        with psycopg.connect(plat.postgres_dsn) as conn:
            before = _sizes(conn, spec.game_id)
        baseline = _baseline(plat.postgres_dsn, spec.game_id, due, folder / "baseline",
                             runner.settings.rows_per_group, say)  # fmt: skip
        say("the pass, alone...")
        alone = runner.finish(runner.start())
        with psycopg.connect(plat.postgres_dsn) as conn:
            after = _sizes(conn, spec.game_id)
        vacuum_s, vacuumed = _vacuumed(plat.postgres_dsn, spec.game_id)
        checks = runner.check(due)
        archive_bytes = _archive_bytes(s3, spec.game_id, due)
    started = time.perf_counter()
    with platform(say, workers=o.workers, processor=True, postgres_from=pg) as plat:
        copied_load = time.perf_counter() - started
        runner = _Runner(o, plat, s3, spec.game_id, folder, "under-load")
        due_again = runner.prepare()
        with psycopg.connect(plat.postgres_dsn) as conn:
            key = games.rotate_key(conn, spec.game_id).ingest_key
        game_plat = dataclasses.replace(plat, target=dataclasses.replace(plat.target, key=key),
                                        game_id=str(spec.game_id))  # fmt: skip
        bench = _Bench(_pipeline(o), game_plat, say)
        passing = _Passing(runner, say)
        try:
            first = windows.window(bench, "(A) no pass", _BASELINE)
            second = windows.window(bench, "(B) retention pass running", _PASSING, passing)
            third = windows.window(bench, "(C) no pass, again", _AGAIN)
        finally:
            bench.rss.stop()
        assert passing.result is not None
        checks += runner.check(due_again)
    ratio = windows.ratio((first, third), second)
    under = passing.result
    busy = min(under.process_s, o.duration) / o.duration
    data = DataInfo(spec.events, spec.players, spec.days, spec.first_day, spec.last_day, reused,
                    load_seconds, (copied_alone, copied_load))  # fmt: skip
    return RetentionReport(
        command=o.command, machine=report.with_load_after(machine),
        workload=_workload(o, spec, runner.settings),
        data=data, due=_due(o, due), baseline=baseline, alone=alone, before=before,
        after=after, vacuumed=vacuumed, vacuum_s=vacuum_s, archive_bytes=archive_bytes,
        windows=(first, second, third),
        under_load=under, pipeline_ratio=ratio, busy_share=busy,
        verdicts=verdicts(baseline, alone, ratio), checks=tuple(checks),
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Days:
    today: date
    rows: dict[date, int]
    """Rows PostgreSQL holds for each due day."""


def _due(o: RetentionBenchOptions, d: _Days) -> Due:
    days = sorted(d.rows)
    return Due(o.hot_days, d.today, len(days), sum(d.rows.values()),
               days[0] if days else None, days[-1] if days else None)  # fmt: skip


class _Runner:
    """Runs the pass over one platform's copy of the data and checks what it did."""

    def __init__(
        self, o: RetentionBenchOptions, plat: Platform, s3: EmbeddedS3, game_id: uuid.UUID,
        folder: Path, name: str,
    ) -> None:  # fmt: skip
        self.o, self.plat, self.s3, self.game_id, self.name = o, plat, s3, game_id, name
        self.log = folder / "logs" / f"retention-{name}.log"
        self.bucket = BUCKET if name == "alone" else f"{BUCKET}-{name}"
        self.settings = RetentionSettings(
            postgres_dsn=plat.postgres_dsn, kafka_bootstrap=plat.target.kafka_bootstrap or "",
            archive_bucket=self.bucket, s3=s3.settings,
        )  # fmt: skip
        self.folder = folder
        self.cpu0: dict[str, float] = {}

    def prepare(self) -> _Days:
        """Set the game's windows; the due days and their rows."""
        with psycopg.connect(self.plat.postgres_dsn) as conn:
            return set_windows(conn, self.game_id, self.o.hot_days)

    def start(self) -> tuple[subprocess.Popen[bytes], float]:
        self.cpu0 = self._cpu()
        env = {**os.environ, **self.settings.env()}
        argv = [sys.executable, "-m", "apps.cli.main", "retention", "run", "--once", "--game",
                str(self.game_id), "--data-dir", str(self.folder / "no-platform")]  # fmt: skip
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as log:
            proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=log)
        return proc, time.perf_counter()

    def finish(self, started: tuple[subprocess.Popen[bytes], float]) -> PassRun:
        proc, at = started
        assert proc.stdout is not None
        with proc.stdout:
            out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - at
        if proc.returncode != 0:
            raise BenchError(f"the retention pass ({self.name}) exited {proc.returncode}; "
                             f"see {self.log}: {self.log.read_text()[-1500:]}")  # fmt: skip
        done: dict[str, Any] = json.loads(out)
        cpu = {"pass": usage.ru_utime + usage.ru_stime} | {
            k: v - self.cpu0.get(k, 0.0) for k, v in self._cpu().items()
        }
        return PassRun(
            rows=done["rows_archived"], bytes=done["bytes_written"], days=done["days_archived"],
            rows_deleted=done["rows_deleted"], partitions_dropped=done["partitions_dropped"],
            pass_s=done["seconds"], process_s=seconds, cpu_s=cpu,
            problems=tuple(done["problems"]), retried_later=tuple(done["retried_later"]),
        )  # fmt: skip

    def _cpu(self) -> dict[str, float]:
        pids = {"postgres": self.plat.target.pids.get("postgres"),
                "s3": self.s3.proc.pid if self.s3.proc else None}  # fmt: skip
        return {k: procstat.process_cpu(p) for k, p in pids.items() if p is not None}

    def check(self, due: _Days) -> list[str]:
        """What the pass must have done, one line per fact ("OK: ..." when it holds)."""
        s3 = client(self.s3.settings)
        last = max(due.rows, default=None)
        wrong = []
        for day, rows in sorted(due.rows.items()):
            m = objects.get_manifest(s3, self.bucket, self.game_id, day)
            if m is None or m.rows != rows:
                wrong.append(f"{day}: {rows:,} rows in PostgreSQL, manifest "
                             f"{'missing' if m is None else f'{m.rows:,}'}")  # fmt: skip
        with psycopg.connect(self.plat.postgres_dsn) as conn:
            left = _day_rows(conn, self.game_id, last) if last else {}
            row = conn.execute("SELECT count(*) FROM event_keys WHERE game_id = %s"
                               " AND event_day <= %s", (self.game_id, last)).fetchone()  # fmt: skip
            keys = int(row[0]) if row else -1
            catalog = {d.event_date: d for d in archived_days.all_days(conn)
                       if d.game_id == self.game_id}  # fmt: skip
        archived = [d for d in due.rows if d in catalog and catalog[d].state == "archived"
                    and catalog[d].problem is None]  # fmt: skip
        n, total = len(due.rows), sum(due.rows.values())
        return [
            _fact(not wrong, f"{self.name}: the manifests of the {n} due days list the "
                  f"{total:,} rows PostgreSQL held" + (f"; {wrong[:3]}" if wrong else "")),
            _fact(not left and keys == 0, f"{self.name}: PostgreSQL holds "
                  f"{sum(left.values()):,} rows and {keys:,} event-id claims of the due days "
                  "after the pass"),
            _fact(len(archived) == n, f"{self.name}: the catalog lists {len(archived)} of the "
                  f"{n} due days as archived without a problem"),
        ]  # fmt: skip


def set_windows(conn: psycopg.Connection[TupleRow], game_id: uuid.UUID, hot_days: int) -> _Days:
    """Set the game's hot_days and late horizon to `hot_days`; the days now due (as of the
    real today, which the pass uses too) and their rows."""
    games.set_retention(conn, game_id, hot_days, None)
    conn.execute("UPDATE games SET late_horizon_days = %s WHERE game_id = %s",
                 (hot_days, game_id))  # fmt: skip
    conn.commit()
    today = datetime.now(UTC).date()
    span = timedelta(days=hot_days)
    last = retention_windows(Retention(hot_days, 730), span, today).last_hot_leaving
    return _Days(today, _day_rows(conn, game_id, last))


def _fact(ok: bool, text: str) -> str:
    return f"{'OK' if ok else 'WRONG'}: {text}"


class _Passing:
    """The pass in a separate process, started as window (B) opens."""

    def __init__(self, runner: _Runner, say: Say) -> None:
        self.runner, self.say = runner, say
        self.started: tuple[subprocess.Popen[bytes], float] | None = None
        self.result: PassRun | None = None

    def __call__(self, opening: bool) -> None:
        if opening:
            self.started = self.runner.start()

    def join(self) -> None:
        if self.started is None:
            raise BenchError("window (B) never opened: no pass ran")
        self.result = self.runner.finish(self.started)
        r = self.result
        self.say(f"  the pass archived {r.rows:,} rows in {r.pass_s:,.1f} s")


def _day_rows(
    conn: psycopg.Connection[TupleRow], game_id: uuid.UUID, last: date
) -> dict[date, int]:
    end = raw_events.day_bounds(last)[1]
    rows = conn.execute(
        "SELECT (event_time AT TIME ZONE 'UTC')::date, count(*) FROM events"
        " WHERE game_id = %s AND event_time < %s GROUP BY 1",
        (game_id, end),
    ).fetchall()
    conn.commit()
    return {d: int(n) for d, n in rows}


def _sizes(conn: psycopg.Connection[TupleRow], game_id: uuid.UUID) -> Sizes:
    row = conn.execute(
        "SELECT pg_database_size(current_database()),"
        " (SELECT sum(pg_total_relation_size(relid)) FROM pg_partition_tree('events')),"
        " pg_total_relation_size('event_keys'),"
        " (SELECT count(*) FROM events WHERE game_id = %s)",
        (game_id,),
    ).fetchone()
    assert row is not None
    return Sizes(*(int(v) for v in row))


def _vacuumed(dsn: str, game_id: uuid.UUID) -> tuple[float, Sizes]:
    """VACUUM the tables the pass deleted from (autovacuum's work, done now): the seconds
    and the sizes then. A DELETE's space is reusable afterwards, not returned."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        started = time.perf_counter()
        conn.execute("VACUUM events, event_keys")
        seconds = time.perf_counter() - started
        return seconds, _sizes(conn, game_id)


def _baseline(
    dsn: str, game_id: uuid.UUID, due: _Days, folder: Path, rows_per_group: int, say: Say
) -> Baseline:
    """Stream each due day as the pass does and write it with pyarrow (see Baseline)."""
    say(f"baseline: {len(due.rows)} days streamed from PostgreSQL and written by pyarrow...")
    folder.mkdir(parents=True, exist_ok=True)
    read = write = memory = encode = 0.0
    rows = file_bytes = encoded = 0
    with psycopg.connect(dsn) as conn:
        for day in sorted(due.rows):
            t0 = time.perf_counter()
            table = pa.Table.from_batches(list(raw_events.stream_day(conn, game_id, day)))
            conn.commit()
            t1 = time.perf_counter()
            path = folder / f"{day}.parquet"
            pq.write_table(table, path, compression=parquet.COMPRESSION)
            t2 = time.perf_counter()
            sink = pa.BufferOutputStream()
            pq.write_table(table, sink, compression=parquet.COMPRESSION)
            t3 = time.perf_counter()
            encoded += len(parquet.encode(table, rows_per_group))
            t4 = time.perf_counter()
            read, write, memory, encode = read + t1 - t0, write + t2 - t1, memory + t3 - t2, \
                encode + t4 - t3  # fmt: skip
            rows += table.num_rows
            file_bytes += path.stat().st_size
            path.unlink()
    if rows != sum(due.rows.values()):
        raise BenchError(f"the baseline read {rows:,} rows, PostgreSQL counted "
                         f"{sum(due.rows.values()):,}")  # fmt: skip
    b = Baseline(len(due.rows), rows, read, write, file_bytes, memory, encode, encoded)
    say(f"  {rows:,} rows in {b.seconds:,.1f} s ({b.per_s:,.0f} rows/s)")
    return b


def _archive_bytes(s3: EmbeddedS3, game_id: uuid.UUID, due: _Days) -> int:
    c = client(s3.settings)
    total = 0
    for day in due.rows:
        m = objects.get_manifest(c, BUCKET, game_id, day)
        total += m.size if m is not None else 0
    return total


def _pipeline(o: RetentionBenchOptions) -> PipelineBenchOptions:
    return PipelineBenchOptions(
        duration=o.duration, warmup=o.warmup, connections=o.connections,
        load_processes=o.load_processes, players=o.load_players,
        events_per_player=o.events_per_player, workers=o.workers, open_rate_eps=o.rate,
    )  # fmt: skip


def _workload(o: RetentionBenchOptions, spec: DataSpec, settings: RetentionSettings) -> str:
    load = "closed loop" if o.rate is None else f"open loop at {o.rate:,.0f} events/s"
    per_part, per_group = settings.rows_per_part, settings.rows_per_group
    return (
        f"data: {o.events:,} events of {o.players:,} players over {o.days} days (analytics "
        f"data set, seed {o.seed}); the game's hot_days and late horizon {o.hot_days}; the pass: "
        f"`gamemetrics retention run --once --game {spec.game_id}` in its own process, "
        f"default settings ({per_part:,} rows per part, {per_group:,} per row group), S3 = "
        f"SeaweedFS on loopback; load into the same game (lock bucket "
        f"{game_lock.game_key(spec.game_id)}): {load}, {o.connections} connections, 100-event "
        f"requests, {o.events_per_player} events in a row per player, {o.load_players:,} "
        f"players, unique event ids, {o.workers} ingest workers, 1 processor; windows "
        f"{o.warmup:g}+{o.duration:g} s"
    )
