"""`gamemetrics games ...`: create games, manage their ingest keys, set their retention.

Each change and its audit entry (actor `cli`, no secret) commit together, as the
users API's do.
"""

import argparse
import contextlib
import sys
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from apps.cli import database


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("games", help="create games and manage their ingest keys")
    games = p.add_subparsers(dest="games_command", required=True, metavar="ACTION")

    q = games.add_parser("create", help="create a game and print its first ingest key (once)")
    q.add_argument("name")
    q.add_argument(
        "--rate-limit", type=_positive, metavar="EPS", help="events/s allowed (default 20000)"
    )
    q.add_argument("--late-horizon-days", type=_positive, default=None, metavar="DAYS",
                   help="accept events up to this many days old (default 30)")  # fmt: skip
    database.add_options(q)
    q.set_defaults(handler=create)

    q = games.add_parser("list", help="list games with their active key count")
    database.add_options(q)
    q.set_defaults(handler=list_)

    q = games.add_parser("revoke-key", help="revoke a game's keys (or one key) at once")
    q.add_argument(
        "target",
        metavar="GAME_ID_OR_KEY",
        help="a game id (revokes all its keys) or an ingest key (revokes that key)",
    )
    database.add_options(q)
    q.set_defaults(handler=revoke)

    q = games.add_parser("rotate-key", help="issue a new key and retire the old ones")
    q.add_argument("target", metavar="GAME_ID_OR_KEY")
    q.add_argument(
        "--grace-seconds",
        type=int,
        default=0,
        help="keep the old keys working this long (default 0: revoke at once)",
    )
    database.add_options(q)
    q.set_defaults(handler=rotate)

    q = games.add_parser("set-rate-limit", help="change a game's events-per-second limit")
    q.add_argument("game_id", type=uuid.UUID)
    q.add_argument("eps", type=_positive)
    database.add_options(q)
    q.set_defaults(handler=set_rate)

    q = games.add_parser(
        "set-retention",
        help="how long raw events are kept: --hot-days in PostgreSQL, --archive-days in the"
        " archive (0: never archived); both count from the event's day",
    )
    q.add_argument("game_id", type=uuid.UUID, metavar="GAME", help="a game id")
    for flag, name in _RETENTION_FLAGS.items():
        q.add_argument(flag, type=_bounded(name), metavar="DAYS", dest=name,
                       help=_retention_help(name))  # fmt: skip
    database.add_options(q)
    q.set_defaults(handler=set_retention)


_RETENTION_FLAGS = {"--hot-days": "hot_days", "--archive-days": "archive_days"}


def _retention_help(name: str) -> str:
    from apps.core import retention

    low, high = retention.BOUNDS[name]
    default = retention.Retention().as_dict()[name]
    what = {"hot_days": "in PostgreSQL", "archive_days": "in the archive (0: never archived)"}
    return f"days raw events stay {what[name]}: {low} to {high} (a new game has {default})"


def _bounded(name: str) -> Callable[[str], int]:
    """An argparse type for the retention setting `name`, checked by the core's bounds."""

    def parse(text: str) -> int:
        from apps.core import retention
        from apps.core.errors import BatchError

        value: object = text
        with contextlib.suppress(ValueError):
            value = int(text)
        try:
            return retention.check_value(name, value)
        except BatchError as e:
            raise argparse.ArgumentTypeError(_flagged(e.reason)) from None

    return parse


def _flag(name: str) -> str:
    return next(flag for flag, field in _RETENTION_FLAGS.items() if field == name)


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be a positive integer")
    return value


def _fail(message: str) -> int:
    print(f"gamemetrics games: {message}", file=sys.stderr)
    return 1


def create(args: argparse.Namespace) -> int:
    from apps.store import audit, games

    kwargs: dict[str, Any] = {"late_horizon_days": args.late_horizon_days}
    if args.rate_limit:
        kwargs["rate_limit_eps"] = args.rate_limit
    with database.connect(args) as conn, conn.transaction():
        issued = games.create_game(conn, args.name, **kwargs)
        audit.record(conn, audit.CLI, "game.create", f"game:{issued.game_id}", issued.game_id,
                     {"name": args.name, **kwargs})  # fmt: skip
    database.show(
        args,
        {"game_id": str(issued.game_id), "ingest_key": issued.ingest_key},
        f"game_id:    {issued.game_id}\ningest_key: {issued.ingest_key}\n"
        "(the key is shown only now; GameMetrics keeps only its hash)",
    )
    return 0


def list_(args: argparse.Namespace) -> int:
    from apps.store import games

    with database.connect(args) as conn:
        rows = games.list_games(conn)
    data = [
        {
            "game_id": str(g.game_id),
            "name": g.name,
            "rate_limit_eps": g.rate_limit_eps,
            "late_horizon_days": g.late_horizon_days,
            "hot_days": g.hot_days,
            "archive_days": g.archive_days,
            "active_keys": g.active_keys,
            "created_at": g.created_at.isoformat(),
        }
        for g in rows
    ]
    lines = [f"{'GAME ID':<36}  {'KEYS':>4}  {'RATE/S':>8}  {'HOT':>4}  {'ARCHIVE':>7}  NAME"]
    lines += [
        f"{g.game_id}  {g.active_keys:>4}  {g.rate_limit_eps:>8}  {g.hot_days:>4}"
        f"  {g.archive_days:>7}  {g.name}"
        for g in rows
    ]
    database.show(args, data, "\n".join(lines))
    return 0


def _resolve_target(conn: Any, target: str) -> tuple[uuid.UUID, str | None]:
    from apps.core import keys
    from apps.store import games

    if keys.looks_like_key(target):
        return games.game_of_key(conn, target), target
    try:
        return uuid.UUID(target), None
    except ValueError:
        raise games.GameNotFound(f"{target!r} is neither a game id nor an ingest key") from None


def revoke(args: argparse.Namespace) -> int:
    from apps.store import audit, games

    with database.connect(args) as conn:
        try:
            game_id, key = _resolve_target(conn, args.target)
            with conn.transaction():
                count = games.revoke_keys(conn, game_id, key=key)
                audit.record(conn, audit.CLI, "key.revoke", f"game:{game_id}", game_id,
                             {"revoked": count, "one_key": key is not None})  # fmt: skip
        except games.GameNotFound as e:
            return _fail(str(e))
    database.show(
        args, {"game_id": str(game_id), "revoked": count}, f"revoked {count} key(s) of {game_id}"
    )
    return 0


def rotate(args: argparse.Namespace) -> int:
    from apps.store import audit, games

    with database.connect(args) as conn:
        try:
            game_id, _ = _resolve_target(conn, args.target)
            with conn.transaction():
                grace = timedelta(seconds=args.grace_seconds)
                issued = games.rotate_key(conn, game_id, grace=grace)
                audit.record(conn, audit.CLI, "key.rotate", f"game:{game_id}", game_id,
                             {"grace_seconds": args.grace_seconds})  # fmt: skip
        except games.GameNotFound as e:
            return _fail(str(e))
    database.show(
        args,
        {"game_id": str(issued.game_id), "ingest_key": issued.ingest_key},
        f"game_id:    {issued.game_id}\ningest_key: {issued.ingest_key}\n"
        "(the new key is shown only now)",
    )
    return 0


def set_rate(args: argparse.Namespace) -> int:
    from apps.store import audit, games

    with database.connect(args) as conn:
        try:
            with conn.transaction():
                games.set_rate_limit(conn, args.game_id, args.eps)
                audit.record(conn, audit.CLI, "game.set_rate_limit", f"game:{args.game_id}",
                             args.game_id, {"rate_limit_eps": args.eps})  # fmt: skip
        except games.GameNotFound as e:
            return _fail(str(e))
    database.show(args, {"game_id": str(args.game_id), "rate_limit_eps": args.eps},
           f"{args.game_id}: {args.eps} events/s")  # fmt: skip
    return 0


def set_retention(args: argparse.Namespace) -> int:
    from apps.core.errors import BatchError
    from apps.store import audit, games

    if args.hot_days is None and args.archive_days is None:
        return _fail("set-retention: give --hot-days, --archive-days or both")
    with database.connect(args) as conn:
        try:
            with conn.transaction():
                change = games.set_retention(conn, args.game_id, args.hot_days, args.archive_days)
                audit.record(conn, audit.CLI, "game.retention", f"game:{args.game_id}",
                             args.game_id, {"old": change.old.as_dict(),
                                            "new": change.new.as_dict()})  # fmt: skip
        except games.GameNotFound as e:
            return _fail(str(e))
        except BatchError as e:
            return _fail(f"{_flag(e.field)}: {_flagged(e.reason)}")
    new = change.new
    archive = "never archived" if new.archive_days == 0 else f"archive {new.archive_days} days"
    database.show(args, {"game_id": str(args.game_id), **new.as_dict()},
                  f"{args.game_id}: PostgreSQL {new.hot_days} days, {archive}")  # fmt: skip
    return 0


def _flagged(reason: str) -> str:
    """A core message about hot_days/archive_days, in the CLI's flags."""
    for flag, name in _RETENTION_FLAGS.items():
        reason = reason.replace(name, flag)
    return reason
