"""`gamemetrics bench analytics`: warm latency of the analytics queries on a realistic game.

An own embedded PostgreSQL (in a temporary folder, or in `--data-dir` so a
loaded database is reused) gets a generated game (`analytics_data`: by
default 10M events of 200k players over 90 days) through the processor's
`BatchWriter` (`analytics_load`), then VACUUM ANALYZE. Each query type
(`analytics_cases`) then runs with random ranges inside the data: warm-up
runs, then timed runs, through the query layer (`apps.analytics.queries`)
and through plain SQL over the raw `events` table (`analytics_reference`),
whose answers must equal the layer's; and, when this checkout has the
analytics service, through POST /graphql with its cache off (and, as an
extra row, with hits from the cache). The statements of the slow queries are
shown with EXPLAIN (ANALYZE, BUFFERS).
"""

import asyncio
import contextlib
import logging
import random
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, Final

import httpx
import psycopg
from psycopg import sql
from psycopg.abc import Params, QueryNoTemplate

from apps.bench import analytics_http, report
from apps.bench import analytics_load as load
from apps.bench.analytics_cases import Args, Case, Context, cases
from apps.bench.analytics_data import DataSpec, Shape
from apps.bench.analytics_reference import differences
from apps.bench.analytics_report import (
    HTTP,
    HTTP_CACHED,
    LAYER,
    MAX_DIFFERENCES,
    RAW,
    AnalyticsReport,
    Check,
    DataReport,
    Plan,
    QueryResult,
    Timing,
    timing,
    verdicts,
)
from apps.core.currency import USD_PER_UNIT
from apps.core.errors import GameMetricsError
from apps.local import process
from apps.local.servers import EmbeddedPostgres
from apps.store.migrate import migrate

Say = Callable[[str], None]
_SHOWN_SETTINGS: Final = ("server_version", "shared_buffers", "work_mem", "effective_cache_size",
                          "max_parallel_workers_per_gather", "jit")  # fmt: skip


@dataclass(frozen=True, slots=True)
class AnalyticsBenchOptions:
    events: int = 10_000_000
    players: int = 200_000
    days: int = 90
    seed: int = 1
    data_dir: Path | None = None
    """Keep the database here and reuse it when it holds the same data set."""
    runs: int = 30
    warmup_runs: int = 3
    raw_runs: int = 10
    """Timed runs of the raw-SQL reference (each also checks the layer's answer)."""
    extra_raw_runs: int = 3
    """The same for the extra rows (90-day ranges scan every event: 10+ s each at 10M)."""
    raw_warmup_runs: int = 1
    batch: int = 5_000
    live_events: int | None = None
    """Events received in the last 5 minutes (default: 1% of `events`, at most 30,000)."""
    http: bool = True
    """Measure POST /graphql too, when this checkout has the analytics service."""
    explain_over_ms: float = 50.0
    """EXPLAIN ANALYZE the query layer's statements of queries whose p95 is above this."""
    postgres_settings: tuple[tuple[str, str], ...] = ()
    command: str = "gamemetrics bench analytics"


@dataclass
class _Measured:
    case: Case
    warm: list[Args]
    timed: list[Args]
    timings: list[Timing] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    layer_answers: list[Any] = field(default_factory=list)

    def result(self) -> QueryResult:
        return QueryResult(self.case.name, self.case.field, self.case.target_ms,
                           tuple(self.timings), tuple(self.checks))  # fmt: skip


@contextlib.contextmanager
def _folder(data_dir: Path | None) -> Iterator[Path]:
    if data_dir is not None:
        data_dir.mkdir(parents=True, exist_ok=True)
        yield data_dir
        return
    with tempfile.TemporaryDirectory(prefix="gamemetrics-bench-", ignore_cleanup_errors=True) as f:
        yield Path(f)


def run(options: AnalyticsBenchOptions, say: Say) -> AnalyticsReport:
    """Load (or reuse), measure every case, stop everything; blocks for minutes to an hour."""
    machine = report.machine()
    say(f"machine: {machine.describe()}")
    with _folder(options.data_dir) as folder:
        manifest = None
        if options.data_dir is not None:
            manifest = load.check_reusable(folder, options.events, options.players,
                                           options.days, options.seed)  # fmt: skip
        pg = EmbeddedPostgres(
            "postgres", folder / "logs" / "postgres.log", data_dir=folder / "pg",
            port=process.free_port(), settings=dict(options.postgres_settings),
        )  # fmt: skip
        say(f"starting postgres (embedded) in {folder / 'pg'}...")
        pg.start()
        try:
            migrate(pg.url)
            return _run(options, say, machine, folder, pg.url, manifest)
        finally:
            pg.stop(60)


def _run(
    o: AnalyticsBenchOptions, say: Say, machine: report.Machine, folder: Path, dsn: str,
    manifest: load.Manifest | None,
) -> AnalyticsReport:  # fmt: skip
    reused = manifest is not None
    if manifest is None:
        manifest = _load(o, say, folder, dsn)
    else:
        say(f"reusing {manifest.events:,} events loaded earlier in {folder}")
    spec = manifest.spec()
    live_now = datetime.now(UTC).replace(microsecond=0)
    live = o.live_events if o.live_events is not None else min(30_000, o.events // 100)
    live_stored = load.write_live(dsn, spec, live_now, live)
    say("VACUUM ANALYZE...")
    vacuum = load.vacuum_analyze(dsn)
    with psycopg.connect(dsn) as conn:
        tables = tuple(load.table_sizes(conn, spec.game_id))
        activity = load.activity(conn, spec.game_id, spec.first_day, spec.last_day)
        shown = [f"{name} {_show(conn, name)}" for name in _SHOWN_SETTINGS]
    data = DataReport(
        game_id=str(spec.game_id), events=manifest.events, players=manifest.players,
        days=manifest.days, seed=manifest.seed, first_day=spec.first_day,
        last_day=spec.last_day, reused=reused, load_seconds=manifest.load_seconds,
        vacuum_seconds=vacuum, live_events=live_stored, sessions=manifest.sessions,
        purchases=manifest.purchases, player_days=manifest.player_days,
        rows_with_other_attributes=manifest.rows_with_other_attributes,
        by_type=dict(manifest.by_type), by_currency=dict(manifest.by_currency),
        activity=activity, tables=tables,
    )  # fmt: skip
    ctx = Context(spec.game_id, spec.first_day, spec.days, datetime.now(UTC).date(), live_now,
                  USD_PER_UNIT)  # fmt: skip
    measured = [_plan_runs(case, o) for case in cases(ctx)]
    notes: list[str] = []
    say(f"measuring {len(measured)} query types: {o.warmup_runs} warm-up + {o.runs} timed "
        f"runs (query layer), {o.raw_warmup_runs} + {o.raw_runs} (raw SQL; "
        f"{o.extra_raw_runs} for extra rows)...")  # fmt: skip
    asyncio.run(_measure(dsn, measured, o, say))
    if o.http and analytics_http.available():
        notes += _http_notes(dsn, folder, spec.game_id, measured, o, say)
    elif o.http:
        notes.append("this checkout has no analytics service (apps.analytics.app): "
                     "POST /graphql was not measured")  # fmt: skip
    results = [m.result() for m in measured]
    slow = [m for m in measured if _slow(m, o.explain_over_ms)]
    plans = asyncio.run(_explain(dsn, slow, say)) if slow else []
    settings = (
        f"{o.warmup_runs} warm-up + {o.runs} timed runs per query (layer, API), "
        f"{o.raw_warmup_runs} + {o.raw_runs} (raw SQL; {min(o.raw_runs, o.extra_raw_runs)} for "
        f"the extra rows), random ranges inside the data (seed "
        f"{o.seed}), one connection, one query at a time; PostgreSQL: " + ", ".join(shown)
    )
    if o.postgres_settings:
        settings += "; extra " + ", ".join(f"{k}={v}" for k, v in o.postgres_settings)
    return AnalyticsReport(
        command=o.command, machine=report.with_load_after(machine), settings=settings,
        data=data, queries=tuple(results), verdicts=tuple(verdicts(results)),
        plans=tuple(plans), notes=tuple(notes),
    )  # fmt: skip


def _show(conn: psycopg.Connection[Any], name: str) -> str:
    row = conn.execute(sql.SQL("SHOW {}").format(sql.Identifier(name))).fetchone()
    return str(row[0]) if row else "?"


def _load(o: AnalyticsBenchOptions, say: Say, folder: Path, dsn: str) -> load.Manifest:
    game_id = load.create_game(dsn)
    first_day = datetime.now(UTC).date() - timedelta(days=o.days)
    spec = DataSpec(game_id, first_day, o.events, o.players, o.days, o.seed)
    manifest = load.Manifest(str(game_id), first_day, o.events, o.players, o.days, o.seed)
    load.write_manifest(folder, manifest)
    say(f"loading {o.events:,} events of {o.players:,} players over {o.days} days "
        f"({first_day} .. {spec.last_day}) in batches of {o.batch:,}...")  # fmt: skip
    shape = Shape()
    loaded = load.load(dsn, spec, say, o.batch, shape)
    say(f"  loaded {loaded.events:,} events in {loaded.seconds:,.1f} s "
        f"({loaded.per_s:,.0f}/s)")  # fmt: skip
    done = load.Manifest(
        str(game_id), first_day, o.events, o.players, o.days, o.seed, complete=True,
        load_seconds=loaded.seconds, loaded_at=datetime.now(UTC).isoformat(),
        sessions=shape.sessions, purchases=shape.purchases, player_days=shape.player_days,
        rows_with_other_attributes=shape.rows_with_other_attributes, by_type=shape.by_type,
        by_currency=shape.by_currency,
    )  # fmt: skip
    load.write_manifest(folder, done)
    return done


def _plan_runs(case: Case, o: AnalyticsBenchOptions) -> _Measured:
    rng = random.Random(f"queries/{o.seed}/{case.name}")
    params = [case.make(rng) for _ in range(o.warmup_runs + o.runs)]
    return _Measured(case, params[: o.warmup_runs], params[o.warmup_runs :])


async def _timed(
    ask: Callable[[Args], Any], warm: Sequence[Args], timed: Sequence[Args]
) -> tuple[list[float], list[Any]]:
    for args in warm:
        await ask(args)
    seconds, answers = [], []
    for args in timed:
        started = time.perf_counter()
        answer = await ask(args)
        seconds.append(time.perf_counter() - started)
        answers.append(answer)
    return seconds, answers


def _check(path: str, against: str, expected: Sequence[Any], actual: Sequence[Any]) -> Check:
    found: list[str] = []
    differing = 0
    for i, (e, a) in enumerate(zip(expected, actual, strict=False)):
        diff = differences(e, a)
        if diff:
            differing += 1
            found += [f"run {i}: {d}" for d in diff[:2]]
    compared = min(len(expected), len(actual))
    return Check(path, against, compared, differing, tuple(found[:MAX_DIFFERENCES]))


async def _measure(dsn: str, measured: list[_Measured], o: AnalyticsBenchOptions, say: Say) -> None:
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        for m in measured:
            case = m.case
            seconds, m.layer_answers = await _timed(partial(case.layer, conn), m.warm, m.timed)
            layer = timing(LAYER, seconds)
            runs = o.raw_runs if case.headline else min(o.raw_runs, o.extra_raw_runs)
            raw_seconds, raw_answers = await _timed(
                partial(case.raw, conn), m.warm[: o.raw_warmup_runs], m.timed[:runs]
            )
            raw = timing(RAW, raw_seconds)
            check = _check(LAYER, RAW, raw_answers, m.layer_answers)
            m.timings += [layer, raw]
            m.checks.append(check)
            verdict = "answers equal" if not check.differing else "ANSWERS DIFFER"
            say(f"  {case.name}: layer p50 {layer.p50_ms:,.1f} ms p95 {layer.p95_ms:,.1f} ms; "
                f"raw p50 {raw.p50_ms:,.1f} ms (x{raw.p50_ms / layer.p50_ms:,.1f}); "
                f"{verdict} {check.compared - check.differing}/{check.compared}")  # fmt: skip


def _http_notes(
    dsn: str, folder: Path, game_id: Any, measured: list[_Measured], o: AnalyticsBenchOptions,
    say: Say,
) -> list[str]:  # fmt: skip
    """Measure through POST /graphql; what the report should say about it."""
    try:
        _measure_http(dsn, folder, game_id, measured, o, say)
    except (GameMetricsError, httpx.HTTPError) as e:
        # The query layer's numbers stand on their own: report them without the API's.
        say(f"POST /graphql could not be measured: {e}")
        return [f"POST /graphql could not be measured (rows may be missing): {e}"]
    return [
        f"{HTTP}: the analytics service (1 worker process) with "
        "GAMEMETRICS_ANALYTICS_CACHE=false, one request at a time from httpx on loopback; "
        "the latency includes HTTP, authentication, GraphQL parsing and serialisation",
        f"{HTTP_CACHED}: the same arguments asked once before the timed runs, so every timed "
        "answer comes from Redis (not a headline number)",
        "liveStats through the API uses the database's now(): its answers are not compared "
        "(the query layer and raw SQL use one fixed now)",
    ]


def _measure_http(
    dsn: str, folder: Path, game_id: Any, measured: list[_Measured], o: AnalyticsBenchOptions,
    say: Say,
) -> None:  # fmt: skip
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request otherwise
    token = analytics_http.issue_token(dsn, game_id)
    logs = folder / "logs"
    with analytics_http.redis(folder) as redis_url:
        say("starting the analytics service (cache off)...")
        with analytics_http.service(dsn, redis_url, token, logs, cache=False) as api:
            asyncio.run(_http_runs(api, measured, o, say, cached=False))
        say("starting the analytics service (cache on)...")
        with analytics_http.service(dsn, redis_url, token, logs, cache=True) as api:
            headline = [m for m in measured if m.case.target_ms is not None]
            asyncio.run(_http_runs(api, headline, o, say, cached=True))


async def _http_runs(
    api: analytics_http.Api, measured: list[_Measured], o: AnalyticsBenchOptions, say: Say,
    *, cached: bool,
) -> None:  # fmt: skip
    async with httpx.AsyncClient(timeout=300) as client:
        for m in measured:
            case = m.case

            async def ask(a: Args, c: Case = case) -> Any:
                return await analytics_http.ask(client, api, c, a)

            warm = m.timed if cached else m.warm
            _, pairs = await _timed(ask, warm, m.timed)
            # Timed by `ask` itself: the POST only, not the decoding of the answer.
            seconds = [s for s, _ in pairs]
            answers = [a for _, a in pairs]
            path = HTTP_CACHED if cached else HTTP
            t = timing(path, seconds)
            m.timings.append(t)
            if case.compare_http:
                m.checks.append(_check(path, LAYER, m.layer_answers, answers))
            say(f"  {case.name} ({path}): p50 {t.p50_ms:,.1f} ms p95 {t.p95_ms:,.1f} ms")


def _slow(m: _Measured, over_ms: float) -> bool:
    layer = next((t for t in m.timings if t.path == LAYER), None)
    if layer is None:
        return False
    target = m.case.target_ms
    return layer.p95_ms > over_ms or (target is not None and layer.p95_ms > target)


_SEEN: list[tuple[QueryNoTemplate, Params | None]] = []
"""Statements executed on the EXPLAIN pass's connection, in order."""


class _Recording(psycopg.AsyncCursor[Any]):
    """Remembers every statement the query layer executes (for EXPLAIN)."""

    async def execute(  # type: ignore[override]
        self, query: QueryNoTemplate, params: Params | None = None, *,
        prepare: bool | None = None, binary: bool | None = None,
    ) -> "_Recording":  # fmt: skip
        _SEEN.append((query, params))
        await super().execute(query, params, prepare=prepare, binary=binary)
        return self


class _RecordingServer(psycopg.AsyncServerCursor[Any]):
    """The same for named (server-side) cursors."""

    async def execute(  # type: ignore[override]
        self, query: QueryNoTemplate, params: Params | None = None, *,
        binary: bool | None = None, **kwargs: Any,
    ) -> "_RecordingServer":  # fmt: skip
        _SEEN.append((query, params))
        await super().execute(query, params, binary=binary, **kwargs)
        return self


def _explainable(text: str) -> bool:
    head = text.lstrip().split(None, 1)[0].upper() if text.strip() else ""
    return head in {"SELECT", "WITH"}


async def _explain(dsn: str, slow: list[_Measured], say: Say) -> list[Plan]:
    plans: list[Plan] = []
    conn = await psycopg.AsyncConnection.connect(dsn, autocommit=True, cursor_factory=_Recording)
    conn.server_cursor_factory = _RecordingServer
    async with conn:
        for m in slow:
            say(f"EXPLAIN ANALYZE of {m.case.name}...")
            _SEEN.clear()
            await m.case.layer(conn, m.timed[0])
            statements = list(_SEEN)
            for query, params in statements:
                text = _text(query, conn)
                if not _explainable(text):
                    continue
                explain = sql.Composed([sql.SQL("EXPLAIN (ANALYZE, BUFFERS) "),
                                        sql.SQL(text)])  # fmt: skip
                cur = await conn.execute(explain, params)
                lines = [str(row[0]) for row in await cur.fetchall()]
                plans.append(Plan(m.case.name, _squeeze(text), "\n".join(lines)))
    return plans


def _text(query: QueryNoTemplate, conn: psycopg.AsyncConnection[Any]) -> str:
    if isinstance(query, sql.Composable):
        return query.as_string(conn)
    if isinstance(query, bytes):
        return query.decode()
    return str(query)


def _squeeze(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip().splitlines() if line.strip())
