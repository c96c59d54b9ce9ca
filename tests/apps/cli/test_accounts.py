"""`gamemetrics accounts create` through the CLI entry point, on the session PostgreSQL."""

import io
import json
import uuid
from typing import Any

import psycopg
import pytest

from apps.cli.main import main
from apps.store import accounts, passwords
from tests.conftest import new_game
from tests.support.servers import Endpoints


def run(
    capsys: pytest.CaptureFixture[str], endpoints: Endpoints, *argv: str
) -> tuple[int, Any, str]:
    code = main(["accounts", "create", *argv, "--json", "--postgres-url", endpoints.postgres_dsn])
    out, err = capsys.readouterr()
    return code, json.loads(out) if code == 0 else None, err


def _email() -> str:
    return f"Boot-{uuid.uuid4().hex[:8]}@Studio.example"


def test_create_an_owner_with_a_generated_password_shown_once(
    capsys: pytest.CaptureFixture[str], endpoints: Endpoints
) -> None:
    game = new_game(endpoints.postgres_dsn).game_id
    email = _email()
    code, out, err = run(
        capsys, endpoints, "--email", email, "--role", "owner", "--game", str(game)
    )
    assert code == 0, err
    assert out["email"] == email
    assert (out["role"], out["game_id"]) == ("owner", str(game))
    with psycopg.connect(endpoints.postgres_dsn) as conn:
        found = accounts.credentials(conn, email)
        assert found is not None
        assert passwords.verify(found.password_hash, out["password"])
        assert accounts.roles_of(conn, found.account_id) == {game: "owner"}
        logged = conn.execute(
            "SELECT actor, action, details::text FROM audit_log WHERE target = %s"
            " ORDER BY entry_id",
            (f"account:{found.account_id}",),
        ).fetchall()
    assert [(a, b) for a, b, _ in logged] == [("cli", "account.create"), ("cli", "member.set")]
    assert not any(out["password"] in details for _, _, details in logged)


def test_create_with_the_password_from_stdin(
    capsys: pytest.CaptureFixture[str], endpoints: Endpoints, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("a password from a pipe\n"))
    email = _email()
    code, out, err = run(capsys, endpoints, "--email", email, "--password-stdin")
    assert code == 0, err
    assert "password" not in out
    with psycopg.connect(endpoints.postgres_dsn) as conn:
        found = accounts.credentials(conn, email)
    assert found is not None
    assert passwords.verify(found.password_hash, "a password from a pipe")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--role", "owner"], "--role and --game go together"),
        (["--role", "owner", "--game", str(uuid.UUID(int=7))], "no game with id"),
        (["--password-stdin"], "password: 5 characters"),
    ],
)
def test_refusals_name_what_is_wrong(
    capsys: pytest.CaptureFixture[str], endpoints: Endpoints, monkeypatch: pytest.MonkeyPatch,
    extra: list[str], message: str,
) -> None:  # fmt: skip
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    email = _email()
    code, _, err = run(capsys, endpoints, "--email", email, *extra)
    assert code == 1
    assert message in err
    with psycopg.connect(endpoints.postgres_dsn) as conn:
        assert accounts.credentials(conn, email) is None  # nothing half-made


def test_a_taken_email_is_refused_in_any_case(
    capsys: pytest.CaptureFixture[str], endpoints: Endpoints
) -> None:
    email = _email()
    assert run(capsys, endpoints, "--email", email)[0] == 0
    code, _, err = run(capsys, endpoints, "--email", email.lower())
    assert code == 1
    assert "exists" in err
