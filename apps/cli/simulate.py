"""`gamemetrics simulate`: realistic game traffic sent through the public ingestion API.

A newcomer runs it to see data flow; benchmarks and analytics tests run it
for data of a known shape. The traffic is a pure model (apps/simulate); this
module reads the flags, the endpoints file and the clock, and prints.
"""

import argparse
import asyncio
import contextlib
import json
import logging
import sys
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Final

from apps.core import limits
from apps.local.platform import DEFAULT_DATA_DIR
from apps.simulate.errors import SimulateError

if TYPE_CHECKING:
    from apps.simulate.model import Traffic
    from apps.simulate.sender import SendOptions, Tally

DEFAULT_HORIZON_DAYS: Final = limits.DEFAULT_LATE_HORIZON.days
FIRST_FEW: Final = 5


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser(
        "simulate",
        help="send realistic synthetic game traffic to the ingestion API",
        description=(
            "Simulate N players of a game (retention, sessions, progression, purchases, "
            "errors, custom events, late offline events) and send their events through "
            "POST /v1/events. Live traffic runs for --duration seconds, or until Ctrl-C; "
            "--days D --backfill sends D days of history ending now."
        ),
    )
    p.add_argument(
        "--game", required=True, type=uuid.UUID, metavar="ID",
        help="the game the key belongs to (the API knows the game by the key)",
    )  # fmt: skip
    p.add_argument("--key", required=True, help="the game's ingest key")
    p.add_argument("--players", required=True, type=_positive_int, metavar="N", help="players")
    p.add_argument(
        "--rate", required=True, type=_positive_float, metavar="EPS",
        help="events per second in total (for a backfill: at most)",
    )  # fmt: skip
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        "--duration", type=_positive_float, metavar="S",
        help="live traffic for S seconds (default: until Ctrl-C)",
    )  # fmt: skip
    mode.add_argument(
        "--days", type=_positive_int, metavar="D",
        help="with --backfill: D days of history ending now",
    )  # fmt: skip
    p.add_argument(
        "--backfill",
        action="store_true",
        help="send the --days of history as fast as --rate allows",
    )
    p.add_argument(
        "--late-horizon-days", type=_positive_int, default=DEFAULT_HORIZON_DAYS, metavar="DAYS",
        help="how many days back the game accepts events, as set by `games create "
        f"--late-horizon-days` (default {DEFAULT_HORIZON_DAYS})",
    )  # fmt: skip
    p.add_argument("--url", help="ingestion API (default: ingest_url in <data-dir>/endpoints.json)")
    p.add_argument(
        "--data-dir", type=Path, default=DEFAULT_DATA_DIR,
        help="local platform started by `gamemetrics dev` (default .gamemetrics)",
    )  # fmt: skip
    p.add_argument(
        "--seed", type=int, help="same game and seed: same players, sessions and event ids"
    )
    p.add_argument(
        "--batch-size", type=_batch_size, default=100, metavar="N",
        help=f"events per request, 1..{limits.MAX_EVENTS_PER_BATCH} (default 100)",
    )  # fmt: skip
    p.add_argument(
        "--concurrency", type=_positive_int, default=8, metavar="N",
        help="requests in flight (default 8)",
    )  # fmt: skip
    p.add_argument("--json", action="store_true", help="print the final summary as JSON")
    p.set_defaults(handler=run)


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be a positive integer")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError("must be a positive number")
    return value


def _batch_size(text: str) -> int:
    value = _positive_int(text)
    if value > limits.MAX_EVENTS_PER_BATCH:
        raise argparse.ArgumentTypeError(
            f"at most {limits.MAX_EVENTS_PER_BATCH} events per request"
        )
    return value


def run(args: argparse.Namespace) -> int:
    import random
    from datetime import UTC, datetime

    from apps.simulate import model, players
    from apps.simulate.sender import SendOptions

    _check_history(args)
    url = _ingest_url(args)
    if not getattr(
        args, "verbose", False
    ):  # one INFO line per request would drown the progress lines
        logging.getLogger("httpx").setLevel(logging.WARNING)
    seed: int = args.seed if args.seed is not None else random.SystemRandom().getrandbits(32)
    # The game is in the seed: one seed gives each game its own event ids.
    rng = random.Random(f"{args.game}/{seed}")
    now = datetime.now(UTC)
    traffic: Traffic
    if args.backfill:
        population = players.make_population(rng, args.players, args.days)
        traffic = model.Backfill(rng, population, days=args.days, now=now)
        what = f"{args.days} days of history"
    else:
        population = players.make_population(rng, args.players, model.LIVE_HISTORY_DAYS)
        traffic = model.LiveTraffic(rng, population, now=now, rate=args.rate)
        what = f"{args.duration:g} s of live traffic" if args.duration else "live traffic"
    _say(f"simulate: {what} of {args.players} players at up to {args.rate:g} events/s to {url}")
    options = SendOptions(
        url=url,
        key=args.key,
        rate=args.rate,
        duration=args.duration,
        batch_size=args.batch_size,
        concurrency=args.concurrency,
    )
    tally = asyncio.run(_send(traffic, options))
    summary = _summary(args, url, seed, tally)
    print(json.dumps(summary) if args.json else _text(summary))
    return 0 if tally.ok else 1


def _check_history(args: argparse.Namespace) -> None:
    if args.backfill and args.days is None:
        raise SimulateError("--backfill needs --days D, the days of history to send")
    if args.days is None:
        return
    if not args.backfill:
        raise SimulateError("--days sends history: add --backfill (or use --duration for live)")
    if args.days > args.late_horizon_days:
        raise SimulateError(
            f"--days {args.days} reaches past the game's late-event horizon of "
            f"{args.late_horizon_days} days: the API would reject the older events. Create a "
            f"game that accepts them with `gamemetrics games create NAME --late-horizon-days "
            f"{args.days}` and pass --late-horizon-days {args.days} to simulate"
        )


def _ingest_url(args: argparse.Namespace) -> str:
    from apps.local.platform import ENDPOINTS_FILE, read_endpoints

    if args.url:
        url: str = args.url
        return url
    endpoints = read_endpoints(args.data_dir) or {}
    if url := endpoints.get("ingest_url", ""):
        return url
    raise SimulateError(
        f"no ingestion API to send to: {args.data_dir / ENDPOINTS_FILE} has no ingest_url. "
        "Start the platform with `gamemetrics dev` (or pass its --data-dir), or pass --url"
    )


async def _send(traffic: "Traffic", options: "SendOptions") -> "Tally":
    """Send until done; the first Ctrl-C stops generating and lets requests in flight finish."""
    import signal

    from apps.simulate.sender import send

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def interrupted() -> None:
        _say("simulate: stopping, finishing the requests in flight (Ctrl-C again to abandon)")
        stop.set()
        loop.remove_signal_handler(signal.SIGINT)

    # Not on the main thread, or without signals, Ctrl-C interrupts at once.
    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.add_signal_handler(signal.SIGINT, interrupted)
    try:
        return await send(traffic, options, progress=_progress, stop=stop)
    finally:
        loop.remove_signal_handler(signal.SIGINT)


def _progress(t: "Tally") -> None:
    _say(
        f"simulate: {t.elapsed:.0f} s, sent {t.sent:,} ({t.events_per_second:,.0f}/s), "
        f"accepted {t.accepted:,}, rejected {t.rejected:,}, failed {t.failed:,}, "
        f"retries {t.retries:,}"
    )


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _summary(args: argparse.Namespace, url: str, seed: int, t: "Tally") -> dict[str, object]:
    return {
        "game_id": str(args.game),
        "url": url,
        "mode": "backfill" if args.backfill else "live",
        "players": args.players,
        "seed": seed,
        "sent": t.sent,
        "accepted": t.accepted,
        "rejected": t.rejected,
        "failed": t.failed,
        "late": t.late,
        "retries": t.retries,
        "requests": t.requests,
        "elapsed_seconds": round(t.elapsed, 3),
        "events_per_second": round(t.events_per_second, 1),
        "rejections": [
            {"field": f, "error": e, "count": n}
            for (f, e), n in list(t.reasons.items())[:FIRST_FEW]
        ],
        "failures": [{"error": e, "batches": n} for e, n in list(t.failures.items())[:FIRST_FEW]],
        "aborted": t.aborted,
    }


def _text(s: dict[str, object]) -> str:
    lines = [
        f"game {s['game_id']}: sent {s['sent']:,} events in {s['elapsed_seconds']:.1f} s "
        f"({s['events_per_second']:,} events/s, {s['late']:,} late): {s['accepted']:,} accepted, "
        f"{s['rejected']:,} rejected, {s['failed']:,} failed, {s['retries']:,} retries",
        f"seed {s['seed']} (pass --seed {s['seed']} to send the same players and events)",
    ]
    rejections = s["rejections"]
    assert isinstance(rejections, list)
    if rejections:
        lines.append("rejected events, first reasons:")
        lines += [f"  {r['count']:>6,} x {r['field']}: {r['error']}" for r in rejections]
    failures = s["failures"]
    assert isinstance(failures, list)
    if failures:
        lines.append("failed requests:")
        lines += [f"  {f['batches']:>6,} x {f['error']}" for f in failures]
    if s["aborted"]:
        lines.append(f"stopped early: {s['aborted']}")
    return "\n".join(lines)
