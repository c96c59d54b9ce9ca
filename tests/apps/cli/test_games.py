"""`gamemetrics games ...` against a PostgreSQL named with --postgres-url."""

import json
import subprocess
import sys
import uuid

import httpx
import psycopg

from apps.local.process import free_port
from tests.support.factory import batch, event
from tests.support.keys import refused_soon
from tests.support.servers import Endpoints, UvicornThread


def games(endpoints: Endpoints, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "apps.cli.main", "games", *args,
         "--postgres-url", endpoints.postgres_dsn],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def send(ingest: UvicornThread, key: str) -> httpx.Response:
    return httpx.post(
        ingest.url + "/v1/events",
        json=batch(event()),
        headers={"Authorization": f"Bearer {key}"},
    )


def post(ingest: UvicornThread, key: str) -> int:
    return send(ingest, key).status_code


def test_create_list_rotate_and_revoke(endpoints: Endpoints, ingest: UvicornThread) -> None:
    created = games(endpoints, "create", "Dungeon Dash", "--json", "--rate-limit", "500")
    assert created.returncode == 0, created.stderr
    data = json.loads(created.stdout)
    assert set(data) == {"game_id", "ingest_key"}
    game_id, key = data["game_id"], data["ingest_key"]
    assert post(ingest, key) == 202

    listed = json.loads(games(endpoints, "list", "--json").stdout)
    [mine] = [g for g in listed if g["game_id"] == game_id]
    assert (mine["name"], mine["active_keys"], mine["rate_limit_eps"]) == ("Dungeon Dash", 1, 500)
    assert key not in games(endpoints, "list").stdout  # keys are never shown again

    rotated = json.loads(games(endpoints, "rotate-key", game_id, "--json").stdout)
    new_key = rotated["ingest_key"]
    assert new_key != key
    refused = refused_soon(lambda: send(ingest, key))  # the API learns of it by NOTIFY
    assert refused.json()["error"] == "unknown or revoked ingest key"
    assert post(ingest, new_key) == 202

    revoked = games(endpoints, "revoke-key", new_key, "--json")
    assert json.loads(revoked.stdout) == {"game_id": game_id, "revoked": 1}
    refused = refused_soon(lambda: send(ingest, new_key))
    assert refused.json()["error"] == "unknown or revoked ingest key"


def test_plain_output_shows_the_key_once_and_errors_are_clear(endpoints: Endpoints) -> None:
    created = games(endpoints, "create", "Text Game")
    assert "game_id:" in created.stdout
    assert "ingest_key: gmk_" in created.stdout
    missing = games(endpoints, "revoke-key", "00000000-0000-0000-0000-000000000000")
    assert missing.returncode == 1
    assert "no game with id" in missing.stderr
    nonsense = games(endpoints, "rotate-key", "banana")
    assert nonsense.returncode == 1
    assert "neither a game id nor an ingest key" in nonsense.stderr
    bad_rate = games(endpoints, "create", "X", "--rate-limit", "0")
    assert bad_rate.returncode == 2
    assert "positive integer" in bad_rate.stderr
    assert "Traceback" not in bad_rate.stderr + missing.stderr + nonsense.stderr


def test_an_unreachable_database_is_one_line_with_the_password_redacted() -> None:
    dead = f"postgresql://someone:s3cret@127.0.0.1:{free_port()}/nothing"
    listed = subprocess.run(
        [sys.executable, "-m", "apps.cli.main", "games", "list", "--postgres-url", dead],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert listed.returncode == 2
    assert listed.stderr.startswith("gamemetrics: cannot use postgresql://someone:***@127.0.0.1:")
    assert "s3cret" not in listed.stderr
    assert len(listed.stderr.strip().splitlines()) == 1


def test_every_change_is_audited_without_the_keys(endpoints: Endpoints) -> None:
    created = json.loads(games(endpoints, "create", "Audited", "--json").stdout)
    game_id = created["game_id"]
    rotated = games(endpoints, "rotate-key", game_id, "--grace-seconds", "60", "--json")
    assert rotated.returncode == 0, rotated.stderr
    for args in (["revoke-key", game_id], ["set-rate-limit", game_id, "42"]):
        done = games(endpoints, *args, "--json")
        assert done.returncode == 0, done.stderr
    with psycopg.connect(endpoints.postgres_dsn) as conn:
        rows = conn.execute(
            "SELECT actor, action, audit_log::text FROM audit_log WHERE game_id = %s"
            " ORDER BY entry_id",
            (game_id,),
        ).fetchall()
    assert [(actor, action) for actor, action, _ in rows] == [
        ("cli", "game.create"), ("cli", "key.rotate"), ("cli", "key.revoke"),
        ("cli", "game.set_rate_limit"),
    ]  # fmt: skip
    keys = [created["ingest_key"], json.loads(rotated.stdout)["ingest_key"]]
    assert not any(key in text for *_, text in rows for key in keys)


def test_set_retention_changes_one_game_is_listed_and_audited(endpoints: Endpoints) -> None:
    mine = json.loads(games(endpoints, "create", "Kept", "--json").stdout)["game_id"]
    theirs = json.loads(games(endpoints, "create", "Other", "--json").stdout)["game_id"]
    listed = {g["game_id"]: g for g in json.loads(games(endpoints, "list", "--json").stdout)}
    assert (listed[mine]["hot_days"], listed[mine]["archive_days"]) == (30, 730)

    done = games(endpoints, "set-retention", mine, "--hot-days", "90", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"game_id": mine, "hot_days": 90, "archive_days": 730}
    done = games(endpoints, "set-retention", mine, "--archive-days", "0")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"{mine}: PostgreSQL 90 days, never archived"

    listed = {g["game_id"]: g for g in json.loads(games(endpoints, "list", "--json").stdout)}
    assert (listed[mine]["hot_days"], listed[mine]["archive_days"]) == (90, 0)
    assert (listed[theirs]["hot_days"], listed[theirs]["archive_days"]) == (30, 730)
    [line] = [row for row in games(endpoints, "list").stdout.splitlines() if row.startswith(mine)]
    assert line.split()[3:5] == ["90", "0"]
    assert games(endpoints, "list").stdout.splitlines()[0].split()[4:6] == ["HOT", "ARCHIVE"]

    with psycopg.connect(endpoints.postgres_dsn) as conn:
        rows = conn.execute(
            "SELECT actor, details FROM audit_log WHERE game_id = %s AND action = 'game.retention'"
            " ORDER BY entry_id",
            (mine,),
        ).fetchall()
    assert rows == [
        ("cli", {"old": {"hot_days": 30, "archive_days": 730},
                 "new": {"hot_days": 90, "archive_days": 730}}),
        ("cli", {"old": {"hot_days": 90, "archive_days": 730},
                 "new": {"hot_days": 90, "archive_days": 0}}),
    ]  # fmt: skip


def test_set_retention_errors_name_the_flag_and_change_nothing(endpoints: Endpoints) -> None:
    game_id = json.loads(games(endpoints, "create", "Strict", "--json").stdout)["game_id"]
    for args, status, flag, says in (
        (["--hot-days", "0"], 2, "--hot-days", "0; allowed 1 to 3650"),
        (["--hot-days", "ten"], 2, "--hot-days", "must be an integer 1 to 3650"),
        (["--archive-days", "36501"], 2, "--archive-days", "allowed 0 to 36500"),
        (["--archive-days", "-1"], 2, "--archive-days", "allowed 0 to 36500"),
        (["--hot-days", "800"], 1, "--hot-days", "--archive-days (730) must exceed --hot-days"),
        (["--hot-days", "60", "--archive-days", "60"], 1, "--archive-days", "must exceed"),
        ([], 1, "--hot-days, --archive-days or both", "give"),
    ):
        done = games(endpoints, "set-retention", game_id, *args)
        assert done.returncode == status, (args, done.stderr)
        assert flag in done.stderr, (args, done.stderr)
        assert says in done.stderr, (args, done.stderr)
        assert "Traceback" not in done.stderr
    missing = games(endpoints, "set-retention", str(uuid.uuid4()), "--hot-days", "5")
    assert (missing.returncode, "no game with id" in missing.stderr) == (1, True)
    listed = {g["game_id"]: g for g in json.loads(games(endpoints, "list", "--json").stdout)}
    assert (listed[game_id]["hot_days"], listed[game_id]["archive_days"]) == (30, 730)
    with psycopg.connect(endpoints.postgres_dsn) as conn:
        audited = conn.execute(
            "SELECT count(*) FROM audit_log WHERE game_id = %s AND action = 'game.retention'",
            (game_id,),
        ).fetchone()
    assert audited == (0,)
