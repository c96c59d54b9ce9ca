"""Accounts and their roles on games (memberships): the repository the users API and the
CLI share.

Every game keeps at least one owner once it has one: removing or demoting the
last owner is refused (LastOwner), under a lock on the game's memberships so two
concurrent demotions cannot both pass.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import TupleRow, class_row

from apps.core import accounts, roles
from apps.core.roles import Role


class AccountNotFound(LookupError):
    pass


class AccountExists(ValueError):
    pass


class MemberNotFound(LookupError):
    pass


class LastOwner(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Account:
    account_id: uuid.UUID
    email: str
    display_name: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Credentials:
    account_id: uuid.UUID
    password_hash: str


@dataclass(frozen=True, slots=True)
class Member:
    account_id: uuid.UUID
    email: str
    display_name: str
    role: Role
    since: datetime


def create_account(
    conn: psycopg.Connection[TupleRow], email: str, display_name: str, password_hash: str
) -> Account:
    """Raises ValueError for a malformed email or name, AccountExists for a taken email."""
    clean_email = accounts.check_email(email)
    clean_name = accounts.check_display_name(display_name)
    try:
        with conn.transaction(), conn.cursor(row_factory=class_row(Account)) as cur:
            cur.execute(
                "INSERT INTO accounts (account_id, email, display_name, password_hash)"
                " VALUES (%s, %s, %s, %s) RETURNING account_id, email, display_name, created_at",
                (uuid.uuid4(), clean_email, clean_name, password_hash),
            )
            account = cur.fetchone()
    except psycopg.errors.UniqueViolation:
        raise AccountExists(f"an account with email {clean_email} exists") from None
    assert account is not None
    return account


def get_account(conn: psycopg.Connection[Any], account_id: uuid.UUID) -> Account:
    with conn.cursor(row_factory=class_row(Account)) as cur:
        cur.execute(
            "SELECT account_id, email, display_name, created_at FROM accounts"
            " WHERE account_id = %s",
            (account_id,),
        )
        account = cur.fetchone()
    if account is None:
        raise AccountNotFound(f"no account with id {account_id}")
    return account


def account_by_email(conn: psycopg.Connection[Any], email: str) -> Account | None:
    """The account with that email (any case), if there is one."""
    with conn.cursor(row_factory=class_row(Account)) as cur:
        cur.execute(
            "SELECT account_id, email, display_name, created_at FROM accounts"
            " WHERE lower(email) = lower(%s)",
            (email.strip(),),
        )
        return cur.fetchone()


def credentials(conn: psycopg.Connection[Any], email: str) -> Credentials | None:
    """The password hash of the account with that email (any case), if there is one."""
    with conn.cursor(row_factory=class_row(Credentials)) as cur:
        cur.execute(
            "SELECT account_id, password_hash FROM accounts WHERE lower(email) = lower(%s)",
            (email.strip(),),
        )
        return cur.fetchone()


def password_hash(conn: psycopg.Connection[Any], account_id: uuid.UUID) -> str:
    row = conn.execute(
        "SELECT password_hash FROM accounts WHERE account_id = %s", (account_id,)
    ).fetchone()
    if row is None:
        raise AccountNotFound(f"no account with id {account_id}")
    hashed: str = row[0]
    return hashed


def replace_password_hash(
    conn: psycopg.Connection[Any], account_id: uuid.UUID, expected: str, new: str
) -> bool:
    """Store `new` if the account's hash is still `expected` (the one the caller checked the
    current password against); False if it changed meanwhile, so two changes cannot both
    pass on the same old password."""
    with conn.transaction():
        cur = conn.execute(
            "UPDATE accounts SET password_hash = %s WHERE account_id = %s AND password_hash = %s",
            (new, account_id, expected),
        )
    return cur.rowcount == 1


def roles_of(conn: psycopg.Connection[Any], account_id: uuid.UUID) -> dict[uuid.UUID, Role]:
    rows = conn.execute(
        "SELECT game_id, role FROM memberships WHERE account_id = %s", (account_id,)
    ).fetchall()
    return {game_id: role for game_id, role in rows if roles.is_role(role)}


def members(conn: psycopg.Connection[Any], game_id: uuid.UUID) -> list[Member]:
    with conn.cursor(row_factory=class_row(Member)) as cur:
        cur.execute(
            "SELECT a.account_id, a.email, a.display_name, m.role, m.created_at AS since"
            " FROM memberships m JOIN accounts a USING (account_id)"
            " WHERE m.game_id = %s ORDER BY m.created_at, a.email",
            (game_id,),
        )
        return cur.fetchall()


def _lock_members(conn: psycopg.Connection[TupleRow], game_id: uuid.UUID) -> dict[uuid.UUID, str]:
    rows = conn.execute(
        "SELECT account_id, role FROM memberships WHERE game_id = %s FOR UPDATE", (game_id,)
    ).fetchall()
    return dict(rows)


def _refuse_last_owner(held: dict[uuid.UUID, str], account_id: uuid.UUID) -> None:
    owners = [a for a, r in held.items() if r == "owner"]
    if owners == [account_id]:
        raise LastOwner("the game's only owner cannot be removed or demoted; make another owner")


def set_role(
    conn: psycopg.Connection[TupleRow], game_id: uuid.UUID, account_id: uuid.UUID, role: Role
) -> Role | None:
    """Give the account `role` on the game; returns the role it held before (None: none).

    Raises AccountNotFound, and LastOwner when it demotes the game's only owner. The
    caller checks that the game exists (GameNotFound is its to raise)."""
    with conn.transaction():
        held = _lock_members(conn, game_id)
        get_account(conn, account_id)
        before = held.get(account_id)
        if before == "owner" and role != "owner":
            _refuse_last_owner(held, account_id)
        conn.execute(
            "INSERT INTO memberships (account_id, game_id, role) VALUES (%s, %s, %s)"
            " ON CONFLICT (account_id, game_id) DO UPDATE SET role = excluded.role",
            (account_id, game_id, role),
        )
    return before if roles.is_role(before) else None


def remove_member(
    conn: psycopg.Connection[TupleRow], game_id: uuid.UUID, account_id: uuid.UUID
) -> Role:
    """Take the account's role on the game away; returns it. Raises MemberNotFound, LastOwner."""
    with conn.transaction():
        held = _lock_members(conn, game_id)
        before = held.get(account_id)
        if not roles.is_role(before):
            raise MemberNotFound(f"account {account_id} has no role on game {game_id}")
        if before == "owner":
            _refuse_last_owner(held, account_id)
        conn.execute(
            "DELETE FROM memberships WHERE game_id = %s AND account_id = %s",
            (game_id, account_id),
        )
    return before
