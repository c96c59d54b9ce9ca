"""`gamemetrics tokens ...` end to end through the CLI entry point, on the session PostgreSQL."""

import json
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest

from apps.cli.main import main
from apps.core import tokens as token_format
from apps.local.platform import ENDPOINTS_FILE
from apps.local.process import free_port
from apps.store import tokens
from tests.conftest import new_game
from tests.support.servers import Endpoints


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["tokens", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def ok_json(capsys: pytest.CaptureFixture[str], endpoints: Endpoints, *argv: str) -> Any:
    code, out, err = run(capsys, *argv, "--json", "--postgres-url", endpoints.postgres_dsn)
    assert code == 0, err
    return json.loads(out)


def resolve(endpoints: Endpoints, token: str) -> tokens.TokenGrant | None:
    with psycopg.connect(endpoints.postgres_dsn, autocommit=True) as conn:
        return tokens.resolve(conn, token)


def test_create_for_games_both_spellings(
    capsys: pytest.CaptureFixture[str], endpoints: Endpoints
) -> None:
    a, b, c, other = (str(new_game(endpoints.postgres_dsn).game_id) for _ in range(4))
    repeated = ok_json(capsys, endpoints, "create", "--name", "Repeated", "--game", a, "--game", b)
    listed = ok_json(capsys, endpoints, "create", "--name", "Listed", "--game", b, c, "--game", a)
    assert set(repeated) == {"token", "token_id", "name", "all_games", "games"}
    assert repeated["name"] == "Repeated"
    assert (repeated["all_games"], repeated["games"]) == (False, [a, b])
    assert (listed["all_games"], listed["games"]) == (False, [b, c, a])

    grant = resolve(endpoints, repeated["token"])
    assert grant is not None
    assert str(grant.token_id) == repeated["token_id"]
    assert {str(g) for g in grant.game_ids} == {a, b}
    assert not grant.sees(uuid.UUID(other))
    grant = resolve(endpoints, listed["token"])
    assert grant is not None
    assert {str(g) for g in grant.game_ids} == {a, b, c}


def test_create_all_games_prints_the_token_once_with_a_warning(
    capsys: pytest.CaptureFixture[str], endpoints: Endpoints
) -> None:
    code, out, err = run(
        capsys, "create", "--name", "Everything", "--all-games",
        "--postgres-url", endpoints.postgres_dsn,
    )  # fmt: skip
    assert code == 0, err
    [token] = [w for w in out.split() if w.startswith("gma_")]
    assert out.count(token) == 1
    assert "cannot be shown again" in out
    assert "games:    all games" in out
    grant = resolve(endpoints, token)
    assert grant is not None
    assert grant.all_games
    assert grant.sees(uuid.uuid4())


def test_list_shows_display_prefixes_never_tokens_or_hashes(
    capsys: pytest.CaptureFixture[str], endpoints: Endpoints
) -> None:
    game = str(new_game(endpoints.postgres_dsn).game_id)
    created = ok_json(capsys, endpoints, "create", "--name", "Listed one", "--game", game)
    token = created["token"]
    secrets = [token, token_format.digest(token).hex(), token[12:]]

    rows = ok_json(capsys, endpoints, "list")
    [mine] = [r for r in rows if r["token_id"] == created["token_id"]]
    assert mine["display_prefix"] == token[:12]
    assert (mine["name"], mine["all_games"], mine["games"]) == ("Listed one", False, [game])
    assert (mine["revoked_at"], mine["last_used_at"]) == (None, None)
    assert set(mine) == {
        "token_id", "name", "display_prefix", "all_games", "games",
        "created_at", "revoked_at", "last_used_at",
    }  # fmt: skip

    code, text, _ = run(capsys, "list", "--postgres-url", endpoints.postgres_dsn)
    assert code == 0
    [line] = [ln for ln in text.splitlines() if created["token_id"] in ln]
    assert token[:12] in line
    assert "active" in line
    assert line.endswith("Listed one")
    for secret in secrets:
        assert secret not in json.dumps(rows)
        assert secret not in text


def test_revoke_stops_the_token_and_is_idempotent(
    capsys: pytest.CaptureFixture[str], endpoints: Endpoints
) -> None:
    created = ok_json(capsys, endpoints, "create", "--name", "Short-lived", "--all-games")
    token_id = created["token_id"]
    assert resolve(endpoints, created["token"]) is not None

    first = ok_json(capsys, endpoints, "revoke", token_id)
    assert first == {"token_id": token_id, "revoked": True, "already_revoked": False}
    assert resolve(endpoints, created["token"]) is None
    second = ok_json(capsys, endpoints, "revoke", token_id)
    assert second == {"token_id": token_id, "revoked": True, "already_revoked": True}

    [mine] = [r for r in ok_json(capsys, endpoints, "list") if r["token_id"] == token_id]
    assert mine["revoked_at"] is not None
    code, text, _ = run(capsys, "revoke", token_id, "--postgres-url", endpoints.postgres_dsn)
    assert (code, text.strip()) == (0, f"token {token_id} was already revoked")


def test_the_database_comes_from_env_or_the_running_platform(
    capsys: pytest.CaptureFixture[str],
    endpoints: Endpoints,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("GAMEMETRICS_POSTGRES_DSN", endpoints.postgres_dsn)
    code, out, err = run(capsys, "create", "--name", "From env", "--all-games", "--json")
    assert code == 0, err
    from_env = json.loads(out)["token_id"]

    monkeypatch.delenv("GAMEMETRICS_POSTGRES_DSN")
    (tmp_path / ENDPOINTS_FILE).write_text(json.dumps({"postgres_dsn": endpoints.postgres_dsn}))
    code, out, err = run(capsys, "list", "--json", "--data-dir", str(tmp_path))
    assert code == 0, err
    assert from_env in {r["token_id"] for r in json.loads(out)}


def test_errors_are_one_clear_line(
    capsys: pytest.CaptureFixture[str], endpoints: Endpoints
) -> None:
    dsn = ["--postgres-url", endpoints.postgres_dsn]
    ghost = str(uuid.uuid4())
    code, out, err = run(capsys, "create", "--name", "Ghost", "--game", ghost, *dsn)
    assert (code, out) == (1, "")
    assert err == f"gamemetrics tokens: no game with id {ghost}\n"

    code, _, err = run(capsys, "revoke", ghost, *dsn)
    assert code == 1
    assert err == f"gamemetrics tokens: no analyst token with id {ghost}\n"

    dead = f"postgresql://someone:s3cret@127.0.0.1:{free_port()}/nothing"
    code, _, err = run(capsys, "list", "--postgres-url", dead)
    assert code == 2
    assert err.startswith("gamemetrics: cannot use postgresql://someone:***@127.0.0.1:")
    assert "s3cret" not in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (["create", "--name", "X", "--game", "banana"], "argument --game: invalid UUID value"),
        (["create", "--name", "X"], "one of the arguments --game --all-games is required"),
        (["create", "--name", "X", "--all-games", "--game", str(uuid.uuid4())], "not allowed"),
        (["create", "--name", "X", "--game"], "expected at least one argument"),
        (["create", "--name", " ", "--all-games"], "allowed 1 to 100"),
        (["create", "--name", "x" * 101, "--all-games"], "allowed 1 to 100"),
        (["create", "--all-games"], "the following arguments are required: --name"),
        (["revoke", "banana"], "argument TOKEN_ID: invalid UUID value: 'banana'"),
    ],
)
def test_bad_arguments_are_usage_errors(
    capsys: pytest.CaptureFixture[str], argv: list[str], complaint: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["tokens", *argv])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert complaint in err
    assert "Traceback" not in err


def test_issuing_and_revoking_are_audited_per_game_without_the_token(
    capsys: pytest.CaptureFixture[str], endpoints: Endpoints
) -> None:
    a, b = (str(new_game(endpoints.postgres_dsn).game_id) for _ in range(2))
    made = ok_json(capsys, endpoints, "create", "--name", "audited", "--game", a, b)
    ok_json(capsys, endpoints, "revoke", made["token_id"])
    ok_json(capsys, endpoints, "revoke", made["token_id"])  # already revoked: no new entry
    with psycopg.connect(endpoints.postgres_dsn) as conn:
        rows = conn.execute(
            "SELECT actor, action, game_id::text, audit_log::text FROM audit_log"
            " WHERE target = %s ORDER BY entry_id",
            (f"token:{made['token_id']}",),
        ).fetchall()
    assert sorted((actor, action, game) for actor, action, game, _ in rows) == sorted(
        [("cli", "token.create", a), ("cli", "token.create", b),
         ("cli", "token.revoke", a), ("cli", "token.revoke", b)]
    )  # fmt: skip
    assert not any(made["token"] in text for *_, text in rows)
