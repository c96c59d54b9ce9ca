"""Entry point of the `gamemetrics` console script.

Each sub-command lives in its own module with `register(subparsers)`; its
handler imports what it needs when it runs, so `--help` stays fast.
"""

import argparse
import logging
import sys
from collections.abc import Sequence

from apps.cli import (
    accounts,
    archive,
    bench,
    dev,
    games,
    infra,
    policy,
    privacy,
    retention,
    serve,
    settings,
    simulate,
    tokens,
)
from apps.core.errors import GameMetricsError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gamemetrics", description="GameMetrics: real-time analytics for games."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (
        dev,
        serve,
        settings,
        games,
        archive,
        tokens,
        accounts,
        simulate,
        bench,
        infra,
        policy,
        privacy,
        retention,
    ):
        module.register(sub)
    return parser


def _default_level(command: str) -> int:
    """Long-running commands log their progress; one-shot commands only problems."""
    return logging.INFO if command in {"dev", "serve", "simulate", "bench"} else logging.WARNING


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else _default_level(args.command),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        code: int = args.handler(args)
    except GameMetricsError as e:
        print(f"gamemetrics: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
