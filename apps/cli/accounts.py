"""`gamemetrics accounts create`: bootstrap an account of the users API, with a role on a game.

The password comes from stdin (`--password-stdin`, its first line) or is
generated and shown once; only its argon2id hash is stored. The account, its
role and their audit entries (actor `cli`) commit together.
"""

import argparse
import secrets
import sys
import uuid

from apps.cli import database


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("accounts", help="create accounts of the users API")
    accounts = p.add_subparsers(dest="accounts_command", required=True, metavar="ACTION")
    q = accounts.add_parser("create", help="create an account, optionally with a role on a game")
    q.add_argument("--email", required=True)
    q.add_argument("--display-name", help="shown to other members (default: the email's name)")
    q.add_argument("--role", choices=["owner", "admin", "analyst", "viewer"])
    q.add_argument("--game", type=uuid.UUID, metavar="GAME_ID", help="the game of --role")
    q.add_argument(
        "--password-stdin", action="store_true",
        help="read the password from stdin's first line (default: generate one, shown once)",
    )  # fmt: skip
    database.add_options(q)
    q.set_defaults(handler=create)


def _fail(message: str) -> int:
    print(f"gamemetrics accounts: {message}", file=sys.stderr)
    return 1


def create(args: argparse.Namespace) -> int:
    from apps.store import accounts, audit, games, passwords

    if (args.role is None) != (args.game is None):
        return _fail("--role and --game go together")
    generated = not args.password_stdin
    password = secrets.token_urlsafe(18) if generated else sys.stdin.readline().rstrip("\r\n")
    try:
        hashed = passwords.hash_password(password)
    except ValueError as e:
        return _fail(f"password: {e}")
    name = args.display_name or args.email.strip().partition("@")[0] or args.email
    with database.connect(args) as conn:
        try:
            with conn.transaction():
                account = accounts.create_account(conn, args.email, name, hashed)
                audit.record(conn, audit.CLI, "account.create", f"account:{account.account_id}",
                             args.game, {"email": account.email})  # fmt: skip
                if args.game is not None:
                    games.get_game(conn, args.game)
                    accounts.set_role(conn, args.game, account.account_id, args.role)
                    audit.record(conn, audit.CLI, "member.set", f"account:{account.account_id}",
                                 args.game, {"role": args.role, "previous_role": None})  # fmt: skip
        except (accounts.AccountExists, games.GameNotFound) as e:
            return _fail(str(e))
        except ValueError as e:
            return _fail(f"{e}")
    data: dict[str, object] = {
        "account_id": str(account.account_id), "email": account.email,
        "display_name": account.display_name,
        "role": args.role, "game_id": str(args.game) if args.game else None,
    }  # fmt: skip
    text = f"account_id: {account.account_id}\nemail:      {account.email}"
    if args.game is not None:
        text += f"\nrole:       {args.role} on {args.game}"
    if generated:
        data["password"] = password
        text += f"\npassword:   {password}\n(shown only now; GameMetrics keeps only its hash)"
    database.show(args, data, text)
    return 0
