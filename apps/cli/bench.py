"""`gamemetrics bench ...`: measure what this machine sustains (benchmarks, not tests).

Each benchmark is a sub-command; `ingest` drives the ingestion API. The
options every benchmark shares are added by `_common`. The benchmarks
(`apps.bench`) are tooling of a source checkout that an install may leave out:
this module never imports them at load time, so `gamemetrics --help` works
without them, and a benchmark run there says how to get them and exits with 2.
"""

import argparse
import importlib
import os
import sys
from pathlib import Path

INSTALL_HINT = (
    "the benchmarks are not part of this install; run them from a source checkout "
    "with the dev extra: pip install -c constraints.txt -e '.[dev]'"
)


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser(
        "bench",
        help="benchmark this machine (ingestion; starts its own platform unless told a URL)",
        description="Benchmarks that print a table of throughput and latency for this machine.",
    )
    benches = p.add_subparsers(dest="bench_command", required=True, metavar="BENCHMARK")

    q = benches.add_parser(
        "ingest",
        help="events/s and latency of POST /v1/events, with this machine's raw baselines",
        description=(
            "From separate load processes: 100-event batches and single events in a closed "
            "loop, then batches in an open loop at half the closed-loop rate (latency from "
            "the time each request was due). Baselines in the same run: Kafka produce with "
            "the API's producer settings, and Starlette running parse_batch alone. Without "
            "--url, an own platform (embedded PostgreSQL, Tansu, Redis, the ingest service) "
            "is started in a temporary folder and stopped afterwards."
        ),
    )
    _common(q)
    q.add_argument("--connections", type=_positive_int, default=32, metavar="N",
                   help="concurrent keep-alive connections per scenario (default 32)")  # fmt: skip
    q.add_argument("--load-processes", type=_positive_int, default=1, metavar="N",
                   help="load generator processes sharing the connections (default 1)")  # fmt: skip
    q.add_argument("--url", help="ingestion API already running (e.g. http://127.0.0.1:8080)")
    q.add_argument("--key", help="an ingest key of a game at --url (with a high rate limit)")
    q.add_argument("--kafka-bootstrap", metavar="SERVERS",
                   help="the broker for the produce baseline when --url is used")  # fmt: skip
    q.add_argument("--open-rate", type=_positive_float, metavar="EPS",
                   help="events/s of the open-loop scenario (default: half of (1))")  # fmt: skip
    q.add_argument("--workers", type=_positive_int, default=os.cpu_count() or 1, metavar="N",
                   help="ingest processes of the own platform (default: one per core)")  # fmt: skip
    q.add_argument("--profile", type=Path, metavar="DIR",
                   help="run scenario 1 again under py-spy; raw stacks go to DIR")  # fmt: skip
    q.set_defaults(handler=run_ingest)

    q = benches.add_parser(
        "pipeline",
        help="events/s from HTTP to committed rows and rollups, freshness, processor RSS",
        description=(
            "Starts an own platform (embedded PostgreSQL, Tansu, Redis, the ingest service "
            "and the processor) and drives it from separate load processes with unique "
            "event ids: (1) a closed loop at maximum load, where the rate at which rows and "
            "rollups are committed counts; (1b) an open loop at the target (50,000 events/s) "
            "to see whether storing keeps up; (2) an open loop at half the sustained rate, "
            "measuring freshness (202 -> visible in the rollups) on marker events; (3) a backlog "
            "built with the processor stopped, then drained, sampling the processor's RSS. "
            "Baselines in the same run: COPY into a copy of events, the writer alone, and "
            "a batched Kafka consume."
        ),
    )
    _common(q, duration=60.0, warmup=5.0)
    q.add_argument("--connections", type=_positive_int, default=32, metavar="N",
                   help="concurrent keep-alive connections (default 32)")  # fmt: skip
    q.add_argument("--load-processes", type=_positive_int, default=1, metavar="N",
                   help="load generator processes (default 1)")  # fmt: skip
    q.add_argument("--workers", type=_positive_int, default=os.cpu_count() or 1, metavar="N",
                   help="ingest processes (default: one per core)")  # fmt: skip
    q.add_argument("--open-rate", type=_positive_float, metavar="EPS",
                   help="events/s of stage (2) (default: half of what (1) sustained)")  # fmt: skip
    q.add_argument("--backlog-seconds", type=_positive_float, default=20.0, metavar="S",
                   help="stage (3): seconds of ingest with the processor stopped (20)")  # fmt: skip
    q.add_argument("--baseline-rows", type=_positive_int, default=300_000, metavar="N",
                   help="rows of the COPY and writer baselines (default 300,000)")  # fmt: skip
    q.add_argument("--max-batch", type=_positive_int, metavar="N",
                   help="GAMEMETRICS_PROCESSOR_MAX_BATCH (default: its own)")  # fmt: skip
    q.add_argument("--batch-wait", type=_positive_float, metavar="S",
                   help="the processor's batch wait in seconds (default: its own)")  # fmt: skip
    q.add_argument("--profile", type=Path, metavar="DIR",
                   help="run (1) again under py-spy and pg_stat_statements")  # fmt: skip
    q.add_argument("--postgres-setting", action="append", default=[], type=_setting,
                   metavar="NAME=VALUE", help="extra PostgreSQL option (repeatable)")  # fmt: skip
    q.add_argument("--events-per-player", type=_positive_ints, default=(10,), metavar="N[,N...]",
                   help="consecutive events of one player in a request (default 10, a mobile "
                        "SDK's flush; 100: a whole request is one player's session); several "
                        "values run the whole benchmark once each and compare them")  # fmt: skip
    q.add_argument("--players", type=_positive_int, default=50_000, metavar="N",
                   help="players the requests come from (default 50,000)")  # fmt: skip
    q.set_defaults(handler=run_pipeline)

    q = benches.add_parser(
        "scale",
        help="drain rate of 1 and 2 processors of one group on the same backlog",
        description=(
            "For each processor count, on a fresh own platform: build a backlog with the "
            "processors stopped (closed-loop ingest, unique event ids), start that many "
            "processors of one consumer group together, and measure the steady drain rate "
            "(10%% to 90%% of the backlog stored, all processors together), with an end check."
        ),
    )
    q.add_argument("--processors", type=_positive_ints, default=(1, 2), metavar="N[,N...]",
                   help="processor counts to compare (default 1,2; at most the local "
                        "partitions)")  # fmt: skip
    q.add_argument("--backlog-seconds", type=_positive_float, default=20.0, metavar="S",
                   help="seconds of closed-loop ingest that build the backlog (20)")  # fmt: skip
    q.add_argument("--events-per-player", type=_positive_int, default=10, metavar="N",
                   help="consecutive events of one player in a request (default 10)")  # fmt: skip
    q.add_argument("--players", type=_positive_int, default=50_000, metavar="N",
                   help="players the requests come from (default 50,000)")  # fmt: skip
    q.add_argument("--json", action="store_true", help="machine-readable output")
    q.set_defaults(handler=run_scale)

    q = benches.add_parser(
        "analytics",
        help="warm p50/p95 of the analytics queries on a generated game, against raw SQL",
        description=(
            "Starts an own embedded PostgreSQL, loads a generated game (default 10M events, "
            "200k players, 90 days) through the processor's BatchWriter, VACUUM ANALYZE, then "
            "times every analytics query type with random ranges: through the query layer, "
            "through plain SQL over the raw events table (whose answers must be equal), and "
            "through POST /graphql with the cache off when the analytics service exists. "
            "With --data-dir the loaded database is kept and reused by later runs."
        ),
    )
    q.add_argument("--events", type=_positive_int, default=10_000_000, metavar="N",
                   help="events to generate (default 10,000,000)")  # fmt: skip
    q.add_argument("--players", type=_positive_int, default=200_000, metavar="N",
                   help="players (default 200,000)")  # fmt: skip
    q.add_argument("--days", type=_positive_int, default=90, metavar="N",
                   help="days of history, ending yesterday (default 90)")  # fmt: skip
    q.add_argument("--seed", type=int, default=1, help="generator and query seed (default 1)")
    q.add_argument("--data-dir", type=Path, metavar="DIR",
                   help="keep the database in DIR; reuse it if it holds the same data")  # fmt: skip
    q.add_argument("--runs", type=_positive_int, default=30, metavar="N",
                   help="timed runs per query type, query layer and API (default 30)")  # fmt: skip
    q.add_argument("--warmup-runs", type=_non_negative_int, default=3, metavar="N",
                   help="untimed runs before them (default 3)")  # fmt: skip
    q.add_argument("--raw-runs", type=_positive_int, default=10, metavar="N",
                   help="timed runs of the raw-SQL reference, all checked (10)")  # fmt: skip
    q.add_argument("--extra-raw-runs", type=_positive_int, default=3, metavar="N",
                   help="the same for the extra rows (90-day ranges...; default 3)")  # fmt: skip
    q.add_argument("--batch", type=_positive_int, default=5_000, metavar="N",
                   help="rows per BatchWriter.write while loading (default 5,000)")  # fmt: skip
    q.add_argument("--no-http", action="store_true", help="skip POST /graphql")
    q.add_argument("--postgres-setting", action="append", default=[], type=_setting,
                   metavar="NAME=VALUE", help="extra PostgreSQL option (repeatable)")  # fmt: skip
    q.add_argument("--json", action="store_true", help="print the report as JSON")
    q.set_defaults(handler=run_analytics)

    q = benches.add_parser(
        "privacy",
        help="erasing players with 10,000 events each from the 10M-event game, and the pipeline",
        description=(
            "Loads the analytics benchmark's game (default 10M events, 200k players, 90 days; "
            "with --data-dir loaded once, then copied by each run) and --targets players of "
            "--target-events events each over the same days, starts an own platform (ingest, "
            "processor, and the users service for the job eraser) and runs the pipeline "
            "benchmark's load into the same game in three windows: (A) without erasure, (B) "
            "erasing the targets back to back, (C) without erasure again. Prints each "
            "erasure's wall time and the stored events/s of (B) against (A) and (C)."
        ),
    )
    _common(q, duration=30.0, warmup=5.0)
    q.add_argument("--events", type=_positive_int, default=10_000_000, metavar="N",
                   help="events of the game's history (default 10,000,000)")  # fmt: skip
    q.add_argument("--players", type=_positive_int, default=200_000, metavar="N",
                   help="players of the history (default 200,000)")  # fmt: skip
    q.add_argument("--days", type=_positive_int, default=90, metavar="N",
                   help="days of history, ending yesterday (default 90)")  # fmt: skip
    q.add_argument("--seed", type=int, default=1, help="generator seed (default 1)")
    q.add_argument("--data-dir", type=Path, metavar="DIR",
                   help="the analytics data set's folder (gamemetrics bench analytics "
                        "--data-dir): loaded once, copied by every run")  # fmt: skip
    q.add_argument("--targets", type=_positive_int, default=40, metavar="N",
                   help="players to erase in window (B) (default 40)")  # fmt: skip
    q.add_argument("--target-events", type=_positive_int, default=10_000, metavar="N",
                   help="events of each of them over the days (default 10,000)")  # fmt: skip
    q.add_argument("--eraser", choices=("job", "direct"), default="job",
                   help="job: the users service's erasure jobs over HTTP (default); direct: "
                        "apps.store.erasure.erase_player on a connection")  # fmt: skip
    q.add_argument("--rate", type=_positive_float, default=10_000.0, metavar="EPS",
                   help="events/s offered in each window (default 10,000)")  # fmt: skip
    q.add_argument("--closed-loop", action="store_true",
                   help="as much load as the API takes instead of --rate")  # fmt: skip
    q.add_argument("--connections", type=_positive_int, default=32, metavar="N",
                   help="concurrent keep-alive connections (default 32)")  # fmt: skip
    q.add_argument("--load-processes", type=_positive_int, default=1, metavar="N",
                   help="load generator processes (default 1)")  # fmt: skip
    q.add_argument("--workers", type=_positive_int, default=os.cpu_count() or 1, metavar="N",
                   help="ingest processes (default: one per core)")  # fmt: skip
    q.set_defaults(handler=run_privacy)

    q = benches.add_parser(
        "retention",
        help="archive throughput of a retention pass over the 10M-event game, and the pipeline",
        description=(
            "Loads the analytics benchmark's game (default 10M events, 200k players, 90 days; "
            "with --data-dir loaded once, then copied by each run), sets its hot_days and late "
            "horizon to --hot-days so that its older days are due, and starts an own S3 "
            "(SeaweedFS). On one copy, with nothing else running: the due days streamed from "
            "PostgreSQL and written by pyarrow to local files (the baseline), then the pass "
            "(gamemetrics retention run --once --game ID, a separate process), PostgreSQL's "
            "size before and after and the archive's bytes. On a fresh copy with ingest and "
            "the processor: the pipeline benchmark's load into the same game in three "
            "windows, (A) no pass, (B) the pass running, (C) no pass again. Checks that "
            "every due day is archived whole and gone from PostgreSQL (exit 1 if not)."
        ),
    )
    _common(q, duration=30.0, warmup=5.0)
    q.add_argument("--events", type=_positive_int, default=10_000_000, metavar="N",
                   help="events of the game's history (default 10,000,000)")  # fmt: skip
    q.add_argument("--players", type=_positive_int, default=200_000, metavar="N",
                   help="players of the history (default 200,000)")  # fmt: skip
    q.add_argument("--days", type=_positive_int, default=90, metavar="N",
                   help="days of history, ending the day before the load (default 90)")  # fmt: skip
    q.add_argument("--seed", type=int, default=1, help="generator seed (default 1)")
    q.add_argument("--data-dir", type=Path, metavar="DIR",
                   help="the analytics data set's folder (gamemetrics bench analytics "
                        "--data-dir): loaded once, copied by every run")  # fmt: skip
    q.add_argument("--hot-days", type=_positive_int, default=1, metavar="N",
                   help="the game's hot_days and late horizon: days older are archived "
                        "(default 1: every day before yesterday)")  # fmt: skip
    q.add_argument("--rate", type=_positive_float, default=10_000.0, metavar="EPS",
                   help="events/s offered in each window (default 10,000)")  # fmt: skip
    q.add_argument("--closed-loop", action="store_true",
                   help="as much load as the API takes instead of --rate")  # fmt: skip
    q.add_argument("--connections", type=_positive_int, default=32, metavar="N",
                   help="concurrent keep-alive connections (default 32)")  # fmt: skip
    q.add_argument("--load-processes", type=_positive_int, default=1, metavar="N",
                   help="load generator processes (default 1)")  # fmt: skip
    q.add_argument("--workers", type=_positive_int, default=os.cpu_count() or 1, metavar="N",
                   help="ingest processes (default: one per core)")  # fmt: skip
    q.set_defaults(handler=run_retention)


def _common(q: argparse.ArgumentParser, duration: float = 20.0, warmup: float = 2.0) -> None:
    q.add_argument("--duration", type=_positive_float, default=duration, metavar="S",
                   help=f"seconds measured per scenario after warm-up ({duration:g})")  # fmt: skip
    q.add_argument("--warmup", type=_non_negative_float, default=warmup, metavar="S",
                   help=f"seconds of load before measuring (default {warmup:g})")  # fmt: skip
    q.add_argument("--json", action="store_true", help="print the report as JSON")


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be a positive integer")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be zero or a positive integer")
    return value


def _non_negative_float(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be zero or a positive number")
    return value


def _positive_ints(text: str) -> tuple[int, ...]:
    values = tuple(_positive_int(part) for part in text.split(",") if part.strip())
    if not values:
        raise argparse.ArgumentTypeError("expected N or N,N,...")
    return values


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be a positive number")
    return value


def _setting(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError("must be NAME=VALUE, e.g. max_wal_size=4GB")
    return name.strip(), value.strip()


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def benchmarks_installed() -> bool:
    """Whether the `apps.bench` package can be imported (its `__init__` imports nothing).

    A missing dependency of a benchmark is not hidden: only `apps.bench` itself absent
    counts as not installed."""
    try:
        importlib.import_module("apps.bench")
    except ModuleNotFoundError as e:
        if e.name != "apps.bench":
            raise
        return False
    return True


def _fail(message: str) -> int:
    print(f"gamemetrics bench: {message}", file=sys.stderr)
    return 2


def run_ingest(args: argparse.Namespace) -> int:
    if not benchmarks_installed():
        return _fail(INSTALL_HINT)
    import msgspec

    from apps.bench import ingest

    options = ingest.IngestBenchOptions(
        duration=args.duration,
        warmup=args.warmup,
        connections=args.connections,
        load_processes=args.load_processes,
        url=args.url,
        key=args.key,
        kafka_bootstrap=args.kafka_bootstrap,
        open_rate_eps=args.open_rate,
        profile_dir=args.profile,
        workers=args.workers,
        command=" ".join(["gamemetrics", *sys.argv[1:]]),
    )
    result = ingest.run(options, _say)
    if args.json:
        print(msgspec.json.encode(result).decode())
    else:
        print(ingest.render(result))
    return 0


def run_pipeline(args: argparse.Namespace) -> int:
    if not benchmarks_installed():
        return _fail(INSTALL_HINT)
    import msgspec

    from apps.bench import pipeline

    reports = []
    for per_player in args.events_per_player:
        options = pipeline.PipelineBenchOptions(
            duration=args.duration,
            warmup=args.warmup,
            connections=args.connections,
            load_processes=args.load_processes,
            workers=args.workers,
            open_rate_eps=args.open_rate,
            backlog_seconds=args.backlog_seconds,
            baseline_rows=args.baseline_rows,
            max_batch=args.max_batch,
            batch_wait=args.batch_wait,
            profile_dir=args.profile,
            postgres_settings=tuple(args.postgres_setting),
            players=args.players,
            events_per_player=per_player,
            command=" ".join(["gamemetrics", *sys.argv[1:]]),
        )
        _say(f"== {per_player} events in a row per player")
        reports.append(pipeline.run(options, _say))
        if not args.json:
            print(pipeline.render(reports[-1]), flush=True)
    if args.json:
        print(msgspec.json.encode(reports[0] if len(reports) == 1 else reports).decode())
    elif len(reports) > 1:
        print("\nside by side (each run with its own baselines):")
        print(pipeline.side_by_side(reports))
    return 0


def run_scale(args: argparse.Namespace) -> int:
    if not benchmarks_installed():
        return _fail(INSTALL_HINT)
    import msgspec

    from apps.bench import scale

    options = scale.ScaleOptions(
        processors=args.processors,
        backlog_seconds=args.backlog_seconds,
        events_per_player=args.events_per_player,
        players=args.players,
        command=" ".join(["gamemetrics", *sys.argv[1:]]),
    )
    result = scale.run(options, _say)
    print(msgspec.json.encode(result).decode() if args.json else scale.render(result))
    return 0


def run_analytics(args: argparse.Namespace) -> int:
    if not benchmarks_installed():
        return _fail(INSTALL_HINT)
    import msgspec

    from apps.bench import analytics, analytics_report

    options = analytics.AnalyticsBenchOptions(
        events=args.events,
        players=args.players,
        days=args.days,
        seed=args.seed,
        data_dir=args.data_dir,
        runs=args.runs,
        warmup_runs=args.warmup_runs,
        raw_runs=args.raw_runs,
        extra_raw_runs=args.extra_raw_runs,
        batch=args.batch,
        http=not args.no_http,
        postgres_settings=tuple(args.postgres_setting),
        command=" ".join(["gamemetrics", *sys.argv[1:]]),
    )
    result = analytics.run(options, _say)
    if args.json:
        print(msgspec.json.encode(result).decode())
    else:
        print(analytics_report.render(result))
    return 0


def run_privacy(args: argparse.Namespace) -> int:
    if not benchmarks_installed():
        return _fail(INSTALL_HINT)
    import msgspec

    from apps.bench import privacy

    options = privacy.PrivacyBenchOptions(
        events=args.events,
        players=args.players,
        days=args.days,
        seed=args.seed,
        data_dir=args.data_dir,
        targets=args.targets,
        target_events=args.target_events,
        eraser=args.eraser,
        duration=args.duration,
        warmup=args.warmup,
        rate=None if args.closed_loop else args.rate,
        connections=args.connections,
        load_processes=args.load_processes,
        workers=args.workers,
        command=" ".join(["gamemetrics", *sys.argv[1:]]),
    )
    result = privacy.run(options, _say)
    print(msgspec.json.encode(result).decode() if args.json else privacy.render(result))
    return 0


def run_retention(args: argparse.Namespace) -> int:
    if not benchmarks_installed():
        return _fail(INSTALL_HINT)
    import msgspec

    from apps.bench import retention, retention_report

    options = retention.RetentionBenchOptions(
        events=args.events,
        players=args.players,
        days=args.days,
        seed=args.seed,
        data_dir=args.data_dir,
        hot_days=args.hot_days,
        duration=args.duration,
        warmup=args.warmup,
        rate=None if args.closed_loop else args.rate,
        connections=args.connections,
        load_processes=args.load_processes,
        workers=args.workers,
        command=" ".join(["gamemetrics", *sys.argv[1:]]),
    )
    result = retention.run(options, _say)
    print(msgspec.json.encode(result).decode() if args.json else retention_report.render(result))
    return 1 if result.failed else 0
