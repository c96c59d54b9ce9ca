"""`gamemetrics bench privacy`: erasing heavy players from the 10M-event game, and the pipeline.

The data: the analytics benchmark's game (`analytics_data`, 10M events of 200k
players over 90 days by default; with `--data-dir` loaded once and reused, the
analytics benchmark's folder format) plus `targets` players of
`target_events` events each over the same days (`privacy_data`), all stored
through the processor's `BatchWriter`, then VACUUM ANALYZE. A reused folder is
copied, so every run erases from the same data.

The platform is the pipeline benchmark's (ingest, processor, and the users
service for the `job` eraser), with the pipeline benchmark's load (unique event
ids, many players, 100-event requests of several players each) sent to the same
game, so the erasures meet the game's own batches (the game's lock). Three
windows of the same load: (A) without erasure, (B) with the targets erased back
to back from the window's start until its end or the last target, (C) without
erasure again; the ratio is (B)'s stored events/s over the mean of (A) and (C).
Each erasure's wall time is `erase(player) -> seconds` (`privacy_erasers`).
"""

import dataclasses
import logging
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import psycopg

from apps.bench import analytics_load, dataset, report, windows
from apps.bench.analytics import AnalyticsBenchOptions
from apps.bench.analytics import _load as load_data
from apps.bench.analytics_data import DataSpec
from apps.bench.errors import BenchError
from apps.bench.pipeline import PipelineBenchOptions, _Bench
from apps.bench.platform import Platform, platform
from apps.bench.privacy_data import Target, target_ids, target_rows
from apps.bench.privacy_erasers import Eraser, Kind, eraser
from apps.bench.report import Verdict
from apps.bench.windows import WindowResult, window
from apps.store import game_lock
from apps.store.games import rotate_key

Say = Callable[[str], None]
TARGET_ERASE_S: Final = 5.0
TARGET_RATIO: Final = 0.90
_BASELINE, _ERASING, _AGAIN = 21, 22, 23
"""Event-id phases of the three windows."""


@dataclass(frozen=True, slots=True)
class PrivacyBenchOptions:
    events: int = 10_000_000
    players: int = 200_000
    days: int = 90
    seed: int = 1
    data_dir: Path | None = None
    """The analytics data set's folder: loaded there once, copied by every run."""
    targets: int = 40
    target_events: int = 10_000
    eraser: Kind = "job"
    duration: float = 30.0
    warmup: float = 5.0
    rate: float | None = 10_000.0
    """Events/s offered in every window, a busy game (about half of what this machine's
    pipeline stores on the 10M data set); None: the closed loop, as much as the API takes,
    which overdrives storing (the backlog grows without bound, and each erasure job waits
    for the processor to pass it)."""
    connections: int = 32
    load_processes: int = 1
    workers: int = 2
    load_players: int = 50_000
    events_per_player: int = 10
    batch: int = 5_000
    command: str = "gamemetrics bench privacy"


@dataclass(frozen=True, slots=True)
class Erasure:
    player_id: str
    events: int
    seconds: float
    started: float
    """Seconds after the measured window opened."""
    note: str = ""


@dataclass(frozen=True, slots=True)
class DataInfo:
    events: int
    players: int
    days: int
    reused: bool
    load_seconds: float
    """The data set's load (earlier, when reused)."""
    copy_seconds: float | None
    """Copying the data folder and starting the platform on it (None: loaded in place)."""
    targets: int
    target_events: int
    targets_seconds: float
    vacuum_seconds: float


@dataclass(frozen=True, slots=True)
class PrivacyReport:
    command: str
    machine: report.Machine
    workload: str
    data: DataInfo
    eraser: str
    erasures: tuple[Erasure, ...]
    windows: tuple[WindowResult, ...]
    ratio: float
    busy_share: float
    """Share of window (B) during which an erasure was running."""
    verdicts: tuple[Verdict, ...]
    checks: tuple[str, ...] = field(default=())


def run(options: PrivacyBenchOptions, say: Say) -> PrivacyReport:
    """Load (or reuse and copy) the data, run the three windows; blocks for minutes."""
    machine = report.machine()
    say(f"machine: {machine.describe()}")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per job poll otherwise
    folder = tempfile.TemporaryDirectory(prefix="gamemetrics-privacy-", ignore_cleanup_errors=True)
    with folder as f:
        if options.data_dir is not None:
            manifest, reused = dataset.cached(options.data_dir, _analytics(options), say)
            started = time.perf_counter()
            with platform(say, workers=options.workers, processor=True,
                          users=options.eraser == "job",
                          postgres_from=options.data_dir / "pg") as plat:  # fmt: skip
                copied = time.perf_counter() - started
                return _run(options, say, machine, plat, manifest, reused, copied)
        with platform(say, workers=options.workers, processor=True,
                      users=options.eraser == "job") as plat:  # fmt: skip
            manifest = load_data(_analytics(options), say, Path(f), plat.postgres_dsn)
            return _run(options, say, machine, plat, manifest, False, None)


def _analytics(o: PrivacyBenchOptions) -> AnalyticsBenchOptions:
    return AnalyticsBenchOptions(events=o.events, players=o.players, days=o.days, seed=o.seed,
                                 batch=o.batch)  # fmt: skip


def _run(
    o: PrivacyBenchOptions, say: Say, machine: report.Machine, plat: Platform,
    manifest: analytics_load.Manifest, reused: bool, copied: float | None,
) -> PrivacyReport:  # fmt: skip
    spec = manifest.spec()
    dsn = plat.postgres_dsn
    targets, targets_seconds = _store_targets(o, spec, dsn, say)
    say("VACUUM ANALYZE...")
    vacuum = analytics_load.vacuum_analyze(dsn)
    data = DataInfo(manifest.events, manifest.players, manifest.days, reused,
                    manifest.load_seconds, copied, len(targets), o.target_events,
                    targets_seconds, vacuum)  # fmt: skip
    with psycopg.connect(dsn) as conn:
        key = rotate_key(conn, spec.game_id).ingest_key
    # The load goes to the data set's game: its batches wait for the game's lock.
    game_plat = dataclasses.replace(plat, target=dataclasses.replace(plat.target, key=key),
                                    game_id=str(spec.game_id))  # fmt: skip
    bench = _Bench(_pipeline(o), game_plat, say)
    erase = eraser(o.eraser, dsn, spec.game_id, plat.users_url)
    try:
        first = window(bench, "(A) no erasure", _BASELINE)
        erasures: list[Erasure] = []
        second = window(bench, "(B) erasures back to back", _ERASING,
                         _Erasing(erase, targets, erasures, say))  # fmt: skip
        third = window(bench, "(C) no erasure, again", _AGAIN)
    finally:
        erase.close()
        bench.rss.stop()
    checks = _check_erased(dsn, spec.game_id, erasures)
    ratio = windows.ratio((first, third), second)
    span = o.duration
    busy = sum(min(e.seconds, max(span - e.started, 0.0)) for e in erasures) / span
    return PrivacyReport(
        command=o.command, machine=report.with_load_after(machine), workload=_workload(o, spec),
        data=data, eraser=o.eraser, erasures=tuple(erasures),
        windows=(first, second, third), ratio=ratio, busy_share=busy,
        verdicts=_verdicts(erasures, ratio, o.target_events), checks=tuple(checks),
    )  # fmt: skip


def _pipeline(o: PrivacyBenchOptions) -> PipelineBenchOptions:
    return PipelineBenchOptions(
        duration=o.duration, warmup=o.warmup, connections=o.connections,
        load_processes=o.load_processes, players=o.load_players,
        events_per_player=o.events_per_player, workers=o.workers, open_rate_eps=o.rate,
    )  # fmt: skip


def _store_targets(
    o: PrivacyBenchOptions, spec: DataSpec, dsn: str, say: Say
) -> tuple[list[Target], float]:
    from apps.processor.partitions import Partitions
    from apps.processor.store import BatchWriter

    say(f"storing {o.targets} target players of {o.target_events:,} events over {spec.days} "
        "days each...")  # fmt: skip
    targets = []
    started = time.perf_counter()
    with psycopg.connect(dsn) as conn:
        writer = BatchWriter(conn, Partitions())
        for player_id in target_ids(o.seed, o.targets):
            pending: list[Any] = []
            stored = 0
            for day in target_rows(spec.game_id, spec.first_day, spec.days, player_id,
                                   o.target_events, o.seed):  # fmt: skip
                pending += day
                if len(pending) >= o.batch:
                    stored += writer.write(pending).stored
                    pending = []
            if pending:
                stored += writer.write(pending).stored
            targets.append(Target(player_id, stored))
        counts: dict[str, int] = dict(conn.execute(
            "SELECT player_id, count(*) FROM events WHERE game_id = %s AND player_id = ANY(%s)"
            " GROUP BY player_id", (spec.game_id, [t.player_id for t in targets]),
        ).fetchall())  # fmt: skip
    seconds = time.perf_counter() - started
    wrong = [t for t in targets if counts.get(t.player_id) != o.target_events]
    if wrong:
        raise BenchError(f"{len(wrong)} targets do not hold {o.target_events:,} events, e.g. "
                         f"{wrong[0].player_id}: {counts.get(wrong[0].player_id, 0)}")  # fmt: skip
    say(f"  {sum(t.events for t in targets):,} events in {seconds:.1f} s")
    return targets, seconds


class _Erasing:
    """Erases the targets one after the other in a thread from the window's opening until
    it closes (the erasure in flight then finishes) or the targets run out."""

    def __init__(self, erase: Eraser, targets: list[Target], out: list[Erasure],
                 say: Say) -> None:  # fmt: skip
        self.erase, self.targets, self.out, self.say = erase, targets, out, say
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="erasing", daemon=True)
        self.opened = 0.0
        self.error: BaseException | None = None

    def __call__(self, opening: bool) -> None:
        if opening:
            self.opened = time.perf_counter()
            self.thread.start()
        else:
            self.stop.set()

    def _run(self) -> None:
        try:
            for target in self.targets:
                if self.stop.is_set():
                    return
                started = time.perf_counter() - self.opened
                seconds = self.erase.erase(target.player_id)
                note = self.erase.note
                self.out.append(Erasure(target.player_id, target.events, seconds, started, note))
                self.say(f"  erased {target.events:,} events of {target.player_id} in "
                         f"{seconds:.2f} s{'; ' + note if note else ''}")  # fmt: skip
        except BaseException as e:  # reported by join()
            self.error = e

    def join(self) -> None:
        self.thread.join()
        if self.error is not None:
            raise BenchError(f"an erasure failed: {self.error}") from self.error


def _check_erased(dsn: str, game_id: uuid.UUID, erasures: list[Erasure]) -> list[str]:
    """Nothing of an erased player is left in `events` or `players`."""
    ids = [e.player_id for e in erasures]
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM events WHERE game_id = %(g)s AND player_id = ANY(%(p)s)),"
            " (SELECT count(*) FROM players WHERE game_id = %(g)s AND player_id = ANY(%(p)s))",
            {"g": game_id, "p": ids},
        ).fetchone()  # fmt: skip
    events, players = (int(row[0]), int(row[1])) if row else (-1, -1)
    ok = events == 0 and players == 0
    return [f"{'OK' if ok else 'LEFT OVER'}: after {len(ids)} erasures, {events:,} events and "
            f"{players:,} players rows of the erased players remain"]  # fmt: skip


def _verdicts(erasures: list[Erasure], ratio: float, events: int) -> tuple[Verdict, ...]:
    if not erasures:
        raise BenchError("no erasure ran in window (B)")
    worst = max(e.seconds for e in erasures)
    median = statistics.median(e.seconds for e in erasures)
    return (
        Verdict(
            f"erasing a player with {events:,} events over the period <= {TARGET_ERASE_S:g} s",
            f"max {worst:.2f} s, median {median:.2f} s over {len(erasures)} erasures",
            worst <= TARGET_ERASE_S,
        ),
        Verdict(
            f"pipeline throughput while erasing >= {TARGET_RATIO:.0%} of the same run without",
            f"{ratio:.0%} of stored events/s",
            ratio >= TARGET_RATIO,
        ),
    )


def _workload(o: PrivacyBenchOptions, spec: DataSpec) -> str:
    load = "closed loop" if o.rate is None else f"open loop at {o.rate:,.0f} events/s"
    bucket = game_lock.game_key(spec.game_id)
    return (
        f"data: {o.events:,} events of {o.players:,} players over {o.days} days (analytics "
        f"data set, seed {o.seed}) + {o.targets} players of {o.target_events:,} events over "
        f"the same days; load into the same game (lock bucket {bucket}): {load}, "
        f"{o.connections} connections, 100-event requests, {o.events_per_player} events in a "
        f"row per player, {o.load_players:,} players, unique event ids, {o.workers} ingest "
        f"workers, 1 processor; windows {o.warmup:g}+{o.duration:g} s; eraser: {o.eraser}"
    )


def render(r: PrivacyReport) -> str:
    d = r.data
    seconds = [e.seconds for e in r.erasures]
    copied = "" if d.copy_seconds is None else f"; copied and started in {d.copy_seconds:,.0f} s"
    lines = [
        f"command: `{r.command}`",
        f"machine: {r.machine.describe()}",
        f"workload: {r.workload}",
        f"data: {d.events:,} events ({'reused, loaded earlier in' if d.reused else 'loaded in'} "
        f"{d.load_seconds:,.0f} s{copied}), {d.targets} targets of "
        f"{d.target_events:,} events stored in {d.targets_seconds:,.1f} s, VACUUM ANALYZE "
        f"{d.vacuum_seconds:,.1f} s",
        "",
        windows.table(r.windows),
        "",
        f"erasures ({r.eraser}) in (B): {len(seconds)}, {sum(e.events for e in r.erasures):,} "
        f"events erased; wall time median {statistics.median(seconds):.2f} s, max "
        f"{max(seconds):.2f} s, min {min(seconds):.2f} s; an erasure running "
        f"{r.busy_share:.0%} of the window",
        "each, in order (s): " + ", ".join(f"{x:.2f}" for x in seconds),
        *([f"the last one: {r.erasures[-1].note}"] if r.erasures[-1].note else []),
        f"stored events/s in (B) / mean of (A) and (C): {r.ratio:.1%}",
        "",
        "targets:",
        *report.verdict_lines(r.verdicts),
        "",
        "checks:",
        *(f"- {c}" for c in r.checks),
    ]
    return "\n".join(lines)
