"""`gamemetrics archive ls|restore GAME`: the raw-event archive's days, and bringing a range
of them back into PostgreSQL.

The days come from the catalog (`archived_days`, the commit record); S3 is reached with
the retention service's contract (its `s3` section and archive bucket, from
GAMEMETRICS_S3_* variables), completed from the local platform's <data-dir>/endpoints.json
(apps/cli/platform_settings.py).
"""

import argparse
import os
import sys
import uuid
from collections.abc import Mapping
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any, Final

from apps.cli import database
from apps.core.errors import GameMetricsError

if TYPE_CHECKING:
    import psycopg
    from psycopg.rows import TupleRow

    from apps.store.archived_days import ArchivedDay

MAX_RESTORE_DAYS: Final = 366
"""The most days one restore brings back (a year): PostgreSQL takes a restored day's rows
again, so a larger range is several deliberate commands."""
DEFAULT_KEEP_DAYS: Final = 7
MAX_KEEP_DAYS: Final = 365


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("archive", help="the raw-event archive: list a game's days, restore them")
    actions = p.add_subparsers(dest="archive_command", required=True, metavar="ACTION")

    q = actions.add_parser("ls", help="a game's archived days: state, rows, bytes, parts")
    q.add_argument("game_id", type=_game, metavar="GAME", help="a game id")
    database.add_options(q)
    q.set_defaults(handler=list_days)

    q = actions.add_parser(
        "restore",
        help="bring the archived days of [--from, --to] back into PostgreSQL (idempotent on"
        " event ids); retention moves them out again after --keep-days",
    )
    q.add_argument("game_id", type=_game, metavar="GAME", help="a game id")
    q.add_argument("--from", dest="first", type=_day("--from"), required=True, metavar="DAY",
                   help="first day, YYYY-MM-DD (UTC)")  # fmt: skip
    q.add_argument("--to", dest="last", type=_day("--to"), required=True, metavar="DAY",
                   help=f"last day, YYYY-MM-DD (UTC); {MAX_RESTORE_DAYS} days at most")  # fmt: skip
    q.add_argument("--keep-days", type=_keep, default=DEFAULT_KEEP_DAYS, metavar="N",
                   help=f"days the restored rows stay in PostgreSQL: 1 to {MAX_KEEP_DAYS}"
                   f" (default {DEFAULT_KEEP_DAYS})")  # fmt: skip
    database.add_options(q)
    q.set_defaults(handler=restore)


def _game(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a game id (a uuid)") from None


def _day(flag: str) -> Any:
    def parse(text: str) -> date:
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{flag} {text!r} is not a day (YYYY-MM-DD)") from None

    return parse


def _keep(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_KEEP_DAYS:
        raise argparse.ArgumentTypeError(
            f"--keep-days {text!r}: a whole number of days from 1 to {MAX_KEEP_DAYS}"
        )
    return value


def _fail(message: str) -> int:
    print(f"gamemetrics archive: {message}", file=sys.stderr)
    return 1


def check_range(first: date, last: date) -> None:
    """GameMetricsError naming the flag when [first, last] is not a range restore takes."""
    if first > last:
        raise GameMetricsError(f"--from {first} is after --to {last}")
    days = (last - first).days + 1
    if days > MAX_RESTORE_DAYS:
        raise GameMetricsError(
            f"--to {last}: the range holds {days} days; restore at most {MAX_RESTORE_DAYS} at once"
        )


def _day_json(day: "ArchivedDay") -> dict[str, Any]:
    return {
        "date": day.event_date.isoformat(),
        "state": day.state,
        "rows": day.rows,
        "bytes": day.bytes,
        "parts": len(day.parts),
        "restored_until": day.restored_until.isoformat() if day.restored_until else None,
        "problem": day.problem,
    }


def _known(conn: "psycopg.Connection[TupleRow]", game_id: uuid.UUID) -> None:
    from apps.store import games

    games.get_game(conn, game_id)  # GameNotFound names the id


def list_days(args: argparse.Namespace) -> int:
    from apps.store import archived_days, games

    with database.connect(args) as conn:
        try:
            _known(conn, args.game_id)
        except games.GameNotFound as e:
            return _fail(str(e))
        found = archived_days.of_game(conn, args.game_id)
    data = [_day_json(d) for d in found]
    total = {
        "days": len(found),
        "rows": sum(d.rows for d in found),
        "bytes": sum(d.bytes for d in found),
        "parts": sum(len(d.parts) for d in found),
    }
    lines = [f"{'DATE':<10}  {'STATE':<8}  {'ROWS':>12}  {'BYTES':>14}  {'PARTS':>5}  PROBLEM"]
    lines += [
        f"{d['date']:<10}  {d['state']:<8}  {d['rows']:>12}  {d['bytes']:>14}  {d['parts']:>5}"
        f"  {d['problem'] or ''}".rstrip()
        for d in data
    ]
    lines.append(
        f"{'total':<10}  {str(total['days']) + ' days':<8}  {total['rows']:>12}"
        f"  {total['bytes']:>14}  {total['parts']:>5}"
    )
    database.show(args, {"game_id": str(args.game_id), "days": data, "total": total},
                  "\n".join(lines))  # fmt: skip
    return 0


def restore(args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    from apps.archive.restore import restore_day
    from apps.processor.partitions import Partitions
    from apps.store import archived_days, games

    check_range(args.first, args.last)
    keep = timedelta(days=args.keep_days)
    with database.connect(args) as conn:
        conn.autocommit = True
        try:
            _known(conn, args.game_id)
        except games.GameNotFound as e:
            return _fail(str(e))
        s3, bucket = archive_store(args)
        partitions = Partitions()
        done = []
        for day in archived_days.of_game(conn, args.game_id, args.first, args.last):
            try:
                outcome = restore_day(
                    conn, s3, bucket, args.game_id, day.event_date, keep,
                    lambda c, d: partitions.ensure(c, [d]),
                )  # fmt: skip
            except (BotoCoreError, ClientError) as e:
                where = s3.meta.endpoint_url
                raise GameMetricsError(
                    f"cannot read the archive (bucket {bucket} at {where}) for {day.event_date}:"
                    f" {e}; the days before it are restored, run the command again"
                ) from None
            done.append({"date": day.event_date.isoformat(), **outcome.as_dict()})
            if outcome.reason:
                print(f"gamemetrics archive: {outcome.reason}", file=sys.stderr)
    restored = [d for d in done if d["outcome"] == "restored"]
    data = {
        "game_id": str(args.game_id), "from": args.first.isoformat(), "to": args.last.isoformat(),
        "days": done, "restored_days": len(restored),
        "restored_rows": sum(d["stored"] for d in restored),
    }  # fmt: skip
    lines = [f"{d['date']}  {d['outcome']:<14}  {d['stored']:>12} rows stored" for d in done]
    lines.append(
        f"restored {len(restored)} day(s) of {args.game_id}, {data['restored_rows']} rows"
        f" (kept in PostgreSQL {args.keep_days} days)"
        if done else f"no archived day of {args.game_id} in {args.first}..{args.last}"
    )  # fmt: skip
    database.show(args, data, "\n".join(lines))
    return 1 if any(d["outcome"] == "refused" for d in done) else 0


def archive_store(args: argparse.Namespace, env: Mapping[str, str] = os.environ) -> tuple[Any, str]:
    """The S3 client and archive bucket the command targets (see the module's docstring)."""
    from apps.cli.platform_settings import archive_settings
    from apps.s3.client import client

    settings, bucket = archive_settings(args.data_dir, env)
    return client(settings), bucket
