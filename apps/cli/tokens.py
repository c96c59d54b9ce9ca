"""`gamemetrics tokens ...`: issue, list and revoke the analyst tokens of the analytics API.

Each issue or revocation and its audit entries (actor `cli`, one per game the token reads,
never the token) commit together.
"""

import argparse
import sys
import uuid
from datetime import datetime

from apps.cli import database


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("tokens", help="issue, list and revoke analyst tokens (analytics API)")
    tokens = p.add_subparsers(dest="tokens_command", required=True, metavar="ACTION")

    q = tokens.add_parser("create", help="issue a token and print it (once)")
    q.add_argument("--name", required=True, type=_name, help="who or what the token is for")
    scope = q.add_mutually_exclusive_group(required=True)
    scope.add_argument(
        "--game",
        dest="games",
        type=uuid.UUID,
        action="extend",
        nargs="+",
        metavar="GAME_ID",
        help="a game the token may read (repeatable)",
    )
    scope.add_argument(
        "--all-games", action="store_true", help="every game, including games created later"
    )
    database.add_options(q)
    q.set_defaults(handler=create)

    q = tokens.add_parser("list", help="list tokens (display prefixes only) and their games")
    database.add_options(q)
    q.set_defaults(handler=list_)

    q = tokens.add_parser("revoke", help="revoke a token at once")
    q.add_argument("token_id", type=uuid.UUID, metavar="TOKEN_ID")
    database.add_options(q)
    q.set_defaults(handler=revoke)


def _name(text: str) -> str:
    from apps.core import tokens

    try:
        return tokens.check_name(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _fail(message: str) -> int:
    print(f"gamemetrics tokens: {message}", file=sys.stderr)
    return 1


def create(args: argparse.Namespace) -> int:
    from apps.store import audit, games, tokens

    with database.connect(args) as conn:
        try:
            with conn.transaction():
                issued = tokens.create_token(
                    conn, args.name, None if args.all_games else args.games
                )
                # One entry per game it reads, so each game's admins see it; None: all games.
                details = {"name": issued.name, "all_games": issued.all_games}
                for game_id in issued.game_ids or (None,):
                    audit.record(conn, audit.CLI, "token.create", f"token:{issued.token_id}",
                                 game_id, details)  # fmt: skip
        except games.GameNotFound as e:
            return _fail(str(e))
    scope = "all games" if issued.all_games else ", ".join(map(str, issued.game_ids))
    database.show(
        args,
        {
            "token": issued.token,
            "token_id": str(issued.token_id),
            "name": issued.name,
            "all_games": issued.all_games,
            "games": [str(g) for g in issued.game_ids],
        },
        f"token_id: {issued.token_id}\nname:     {issued.name}\ngames:    {scope}\n"
        f"token:    {issued.token}\n"
        "(the token is shown only now and cannot be shown again; GameMetrics keeps only its hash)",
    )
    return 0


def _when(moment: datetime | None) -> str:
    return moment.isoformat() if moment else "-"


def list_(args: argparse.Namespace) -> int:
    from apps.store import tokens

    with database.connect(args) as conn:
        rows = tokens.list_tokens(conn)
    data = [
        {
            "token_id": str(t.token_id),
            "name": t.name,
            "display_prefix": t.display_prefix,
            "all_games": t.all_games,
            "games": [str(g) for g in t.game_ids],
            "created_at": t.created_at.isoformat(),
            "revoked_at": t.revoked_at.isoformat() if t.revoked_at else None,
            "last_used_at": t.last_used_at.isoformat() if t.last_used_at else None,
        }
        for t in rows
    ]
    lines = [f"{'TOKEN ID':<36}  {'PREFIX':<12}  {'STATUS':<7}  {'LAST USED':<16}  GAMES  NAME"]
    lines += [
        f"{t.token_id}  {t.display_prefix:<12}  {'revoked' if t.revoked_at else 'active':<7}  "
        f"{_when(t.last_used_at)[:16]:<16}  {'all' if t.all_games else len(t.game_ids):>5}  "
        f"{t.name}"
        for t in rows
    ]
    database.show(args, data, "\n".join(lines))
    return 0


def revoke(args: argparse.Namespace) -> int:
    from apps.store import audit, tokens

    with database.connect(args) as conn:
        try:
            with conn.transaction():
                revoked_now = tokens.revoke_token(conn, args.token_id)
                if revoked_now:
                    info = next(t for t in tokens.list_tokens(conn) if t.token_id == args.token_id)
                    for game_id in info.game_ids or (None,):
                        audit.record(conn, audit.CLI, "token.revoke", f"token:{args.token_id}",
                                     game_id)  # fmt: skip
        except tokens.TokenNotFound as e:
            return _fail(str(e))
    database.show(
        args,
        {"token_id": str(args.token_id), "revoked": True, "already_revoked": not revoked_now},
        f"revoked token {args.token_id}"
        if revoked_now
        else f"token {args.token_id} was already revoked",
    )
    return 0
