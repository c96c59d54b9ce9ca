"""Accounts, memberships, sessions, the audit log and login throttling on real PostgreSQL."""

import uuid
from datetime import timedelta

import psycopg
import pytest

from apps.core import sessions as session_format
from apps.store import accounts, audit, logins, passwords, sessions
from tests.conftest import new_game
from tests.support.servers import Endpoints

PASSWORD = "correct horse battery"


def _account(conn: psycopg.Connection, email: str | None = None) -> accounts.Account:
    email = email or f"user-{uuid.uuid4().hex[:8]}@example.com"
    return accounts.create_account(conn, email, "Some One", passwords.hash_password(PASSWORD))


def test_emails_are_unique_whatever_their_case_and_hashes_are_argon2id(
    endpoints: Endpoints,
) -> None:
    with psycopg.connect(endpoints.postgres_dsn) as conn:
        email = f"Mixed-{uuid.uuid4().hex[:8]}@Example.com"
        made = _account(conn, email)
        assert made.email == email
        with pytest.raises(accounts.AccountExists, match="exists"):
            _account(conn, email.upper())
        found = accounts.credentials(conn, email.lower())
        assert found is not None
        assert found.account_id == made.account_id
        assert found.password_hash.startswith("$argon2id$")
        assert PASSWORD not in found.password_hash
        assert passwords.verify(found.password_hash, PASSWORD)
        assert not passwords.verify(found.password_hash, PASSWORD + "x")
        assert not passwords.verify(None, PASSWORD)
        assert accounts.credentials(conn, "nobody-" + email) is None
        with pytest.raises(ValueError, match="not an email"):
            accounts.create_account(conn, "no-at-sign", "x", found.password_hash)
        with pytest.raises(ValueError, match="allowed 12"):
            passwords.hash_password("short")


def test_the_last_owner_stays_and_roles_change(endpoints: Endpoints) -> None:
    game = new_game(endpoints.postgres_dsn).game_id
    with psycopg.connect(endpoints.postgres_dsn) as conn:
        owner, other = _account(conn), _account(conn)
        assert accounts.set_role(conn, game, owner.account_id, "owner") is None
        with pytest.raises(accounts.LastOwner):
            accounts.set_role(conn, game, owner.account_id, "admin")
        with pytest.raises(accounts.LastOwner):
            accounts.remove_member(conn, game, owner.account_id)
        assert accounts.set_role(conn, game, other.account_id, "viewer") is None
        assert accounts.set_role(conn, game, other.account_id, "owner") == "viewer"
        assert accounts.remove_member(conn, game, owner.account_id) == "owner"
        assert [(m.account_id, m.role) for m in accounts.members(conn, game)] == [
            (other.account_id, "owner")
        ]
        with pytest.raises(accounts.MemberNotFound):
            accounts.remove_member(conn, game, owner.account_id)
        with pytest.raises(accounts.AccountNotFound):
            accounts.set_role(conn, game, uuid.uuid4(), "viewer")
        assert accounts.roles_of(conn, other.account_id) == {game: "owner"}


def test_a_session_resolves_until_it_ends_or_expires(endpoints: Endpoints) -> None:
    game = new_game(endpoints.postgres_dsn).game_id
    with psycopg.connect(endpoints.postgres_dsn, autocommit=True) as conn:
        account = _account(conn)
        accounts.set_role(conn, game, account.account_id, "analyst")
        issued = sessions.create_session(conn, account.account_id, timedelta(hours=12))
        assert issued.token.startswith(session_format.PREFIX)
        caller = sessions.resolve(conn, issued.token)
        assert caller is not None
        assert (caller.account_id, caller.roles) == (account.account_id, {game: "analyst"})
        stored = conn.execute(
            "SELECT token_hash FROM sessions WHERE session_id = %s", (issued.session_id,)
        ).fetchone()
        assert stored is not None
        assert issued.token.encode() not in bytes(stored[0])
        sessions.end_session(conn, issued.session_id)
        assert sessions.resolve(conn, issued.token) is None
        short = sessions.create_session(conn, account.account_id, timedelta(microseconds=1))
        assert sessions.resolve(conn, short.token) is None
        assert sessions.resolve(conn, "gms_" + "x" * 10) is None


def test_the_audit_log_refuses_changes_and_pages_newest_first(endpoints: Endpoints) -> None:
    game, other = new_game(endpoints.postgres_dsn).game_id, new_game(endpoints.postgres_dsn).game_id
    with psycopg.connect(endpoints.postgres_dsn, autocommit=True) as conn:
        actor = audit.Actor("account:test", "req-1")
        for i in range(5):
            audit.record(conn, actor, "member.set", f"account:{i}", game, {"role": "viewer"})
        audit.record(conn, actor, "member.set", "account:x", other)
        first = audit.entries(conn, [game], limit=3)
        assert [e.target for e in first] == ["account:4", "account:3", "account:2"]
        rest = audit.entries(conn, [game], before=first[-1].entry_id, limit=3)
        assert [e.target for e in rest] == ["account:1", "account:0"]
        assert all(e.request_id == "req-1" and e.game_id == game for e in first + rest)
        assert audit.entries(conn, [game], since=first[0].at + timedelta(seconds=1)) == []
        assert len(audit.entries(conn, [game], until=first[0].at)) == 4
        for statement in (
            "UPDATE audit_log SET actor = 'someone else' WHERE game_id = %s",
            "DELETE FROM audit_log WHERE game_id = %s",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
                conn.execute(statement, (game,))
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            conn.execute("TRUNCATE audit_log")
        assert len(audit.entries(conn, [game])) == 5


def test_throttling_counts_failures_per_subject_in_a_window(endpoints: Endpoints) -> None:
    subject = f"victim-{uuid.uuid4().hex[:8]}@example.com"
    account = logins.Limit("account", subject, 3, timedelta(minutes=15))
    address = logins.Limit("address", f"10.0.0.{uuid.uuid4().int % 250}", 5, timedelta(minutes=1))
    with psycopg.connect(endpoints.postgres_dsn, autocommit=True) as conn:
        logins.clear(conn, address)
        for _ in range(2):
            logins.record_failure(conn, (account, address))
            assert logins.retry_after(conn, (account, address)) is None
        logins.record_failure(conn, (account, address))
        wait = logins.retry_after(conn, (account, address))
        assert wait is not None
        assert 14 * 60 < wait <= 15 * 60
        logins.clear(conn, account)
        assert logins.retry_after(conn, (account, address)) is None
        logins.record_failure(conn, (account, address))
        logins.record_failure(conn, (address,))
        wait = logins.retry_after(conn, (account, address))
        assert wait is not None
        assert wait <= 60
        expired = logins.Limit("address", address.subject, 5, timedelta(microseconds=1))
        assert logins.retry_after(conn, (expired,)) is None
        logins.record_failure(conn, (expired,))  # an expired window starts over at one
        count = conn.execute(
            "SELECT failures FROM login_failures WHERE scope = 'address' AND subject = %s",
            (address.subject,),
        ).fetchone()
        assert count == (1,)


def test_a_password_hash_is_replaced_only_over_the_one_checked(endpoints: Endpoints) -> None:
    with psycopg.connect(endpoints.postgres_dsn, autocommit=True) as conn:
        made = _account(conn, f"Case-{uuid.uuid4().hex[:8]}@Example.com")
        found = accounts.account_by_email(conn, f"  {made.email.lower()} ")
        assert found == made
        assert accounts.account_by_email(conn, "nobody-" + made.email) is None
        old = accounts.password_hash(conn, made.account_id)
        first, second = (passwords.hash_password(PASSWORD + s) for s in ("-1", "-2"))
        assert accounts.replace_password_hash(conn, made.account_id, old, first)
        # A second change checked against the same old hash: refused, the first one stays.
        assert not accounts.replace_password_hash(conn, made.account_id, old, second)
        assert accounts.password_hash(conn, made.account_id) == first
        with pytest.raises(accounts.AccountNotFound):
            accounts.password_hash(conn, uuid.uuid4())


def test_ending_the_other_sessions_keeps_the_one_named(endpoints: Endpoints) -> None:
    with psycopg.connect(endpoints.postgres_dsn, autocommit=True) as conn:
        me, them = _account(conn), _account(conn)
        mine = [sessions.create_session(conn, me.account_id, timedelta(hours=1)) for _ in "abc"]
        theirs = sessions.create_session(conn, them.account_id, timedelta(hours=1))
        sessions.end_session(conn, mine[2].session_id)  # already ended: not counted
        assert sessions.end_other_sessions(conn, me.account_id, mine[0].session_id) == 1
        assert sessions.resolve(conn, mine[0].token) is not None
        assert sessions.resolve(conn, mine[1].token) is None
        assert sessions.resolve(conn, theirs.token) is not None
