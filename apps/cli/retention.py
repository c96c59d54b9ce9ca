"""`gamemetrics retention run [--once]`: retention passes in the foreground.

Settings come from the retention contract's GAMEMETRICS_* variables, completed from a
local platform's endpoints.json (--data-dir) when it is running. `--once` runs one pass,
prints its report (JSON) and exits 0, or 1 naming what stopped it.
"""

import argparse
import json
import sys
import threading
import uuid
from pathlib import Path

from apps.local.platform import DEFAULT_DATA_DIR


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("retention", help="move raw events past their hot window to the archive")
    actions = p.add_subparsers(dest="retention_command", required=True, metavar="ACTION")
    r = actions.add_parser(
        "run", help="run retention passes (the service's schedule) in the foreground"
    )
    r.add_argument("--once", action="store_true", help="one pass now, then exit")
    r.add_argument(
        "--game", action="append", type=uuid.UUID, metavar="GAME_ID",
        help="only this game (repeatable; default every game)",
    )  # fmt: skip
    r.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="local platform")
    r.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from apps.cli.platform_settings import service_settings
    from apps.core import services
    from apps.retention.metrics import RetentionMetrics
    from apps.retention.scheduler import Scheduler
    from apps.s3.client import client

    settings = service_settings(services.RETENTION, args.data_dir)
    scheduler = Scheduler(settings, client(settings.s3), RetentionMetrics())
    if not args.once:
        scheduler.run(threading.Event())
        return 0
    try:
        report = scheduler.run_once(frozenset(args.game) if args.game else None)
    except Exception:
        print(f"retention pass stopped: {scheduler.failure}", file=sys.stderr)
        return 1
    print(json.dumps(report.as_dict(), indent=2))
    return 0
