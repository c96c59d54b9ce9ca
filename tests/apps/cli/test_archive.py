"""`gamemetrics archive ls|restore` as an operator runs them: a child process against the
test PostgreSQL (--postgres-url) and S3 (the retention contract's variables)."""

import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import psycopg
import pytest

from apps.archive import objects, parquet
from apps.core.settings.retention import RetentionSettings
from apps.core.settings.s3 import S3Settings
from apps.local.process import free_port
from apps.local.servers import EmbeddedS3
from apps.store import archived_days
from tests.conftest import new_game
from tests.support.archiving import (
    BUCKET,
    archive_day,
    archive_s3,
    history,
    rollups_against_everything,
    write_rows,
)
from tests.support.servers import Endpoints

FIRST: Final = datetime.now(UTC).date() - timedelta(days=60)
PLAYERS: Final = ("ana", "bo", "cy")


@pytest.fixture(scope="module")
def store(s3: EmbeddedS3) -> Any:
    return archive_s3(s3.settings)


def archive_cli(
    endpoints: Endpoints, s3: EmbeddedS3, *args: str, settings: S3Settings | None = None
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ, **(settings or s3.settings).env(),
        RetentionSettings.key("archive_bucket"): BUCKET,
    }  # fmt: skip
    return subprocess.run(
        [sys.executable, "-m", "apps.cli.main", "archive", *args,
         "--postgres-url", endpoints.postgres_dsn],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip


def events_of(dsn: str, game_id: uuid.UUID) -> list[Any]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT * FROM events WHERE game_id = %s ORDER BY event_id", (game_id,)
        ).fetchall()


def archived_game(dsn: str, s3: Any, days: int = 3) -> tuple[uuid.UUID, list[Any]]:
    """A game with `days` days from FIRST, all archived; its events before archiving."""
    game_id = new_game(dsn).game_id
    write_rows(dsn, history(game_id, FIRST, days, PLAYERS))
    before = events_of(dsn, game_id)
    for d in range(days):
        archive_day(dsn, s3, game_id, FIRST + timedelta(days=d), rows_per_part=5, rows_per_group=2)
    assert events_of(dsn, game_id) == []
    return game_id, before


def test_ls_lists_the_catalogued_days_with_a_total(
    endpoints: Endpoints, s3: EmbeddedS3, store: Any
) -> None:
    game_id, before = archived_game(endpoints.postgres_dsn, store)

    done = archive_cli(endpoints, s3, "ls", str(game_id), "--json")

    assert done.returncode == 0, done.stderr
    listed = json.loads(done.stdout)
    assert [d["date"] for d in listed["days"]] == [
        (FIRST + timedelta(days=d)).isoformat() for d in range(3)
    ]
    assert {d["state"] for d in listed["days"]} == {"archived"}
    assert all(d["parts"] >= 2 and d["bytes"] > 0 and d["problem"] is None for d in listed["days"])
    assert listed["total"]["rows"] == len(before)
    assert listed["total"]["days"] == 3
    assert listed["total"]["bytes"] == sum(d["bytes"] for d in listed["days"])
    text = archive_cli(endpoints, s3, "ls", str(game_id))
    assert text.returncode == 0, text.stderr
    assert text.stdout.splitlines()[-1].split()[:2] == ["total", "3"]
    assert str(len(before)) in text.stdout.splitlines()[-1]


def test_an_unknown_game_is_refused_naming_it(endpoints: Endpoints, s3: EmbeddedS3) -> None:
    nobody = str(uuid.uuid4())
    for args in (("ls", nobody), ("restore", nobody, "--from", "2026-01-01", "--to", "2026-01-02")):
        done = archive_cli(endpoints, s3, *args)
        assert done.returncode != 0
        assert f"no game with id {nobody}" in done.stderr


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (("--from", "2026-01-05", "--to", "2026-01-01"), "--from 2026-01-05 is after --to"),
        (("--from", "2026-13-01", "--to", "2026-12-01"), "--from '2026-13-01' is not a day"),
        (("--from", "2026-01-01", "--to", "yesterday"), "--to 'yesterday' is not a day"),
        (("--from", "2024-01-01", "--to", "2025-01-01"), "--to 2025-01-01: the range holds 367"),
        (("--from", "2026-01-01", "--to", "2026-01-01", "--keep-days", "0"), "--keep-days '0'"),
        (("--from", "2026-01-01", "--to", "2026-01-01", "--keep-days", "x"), "--keep-days 'x'"),
        (("--to", "2026-01-01"), "--from"),
    ],
)
def test_bad_ranges_are_refused_naming_the_flag(
    endpoints: Endpoints, s3: EmbeddedS3, flags: tuple[str, ...], named: str
) -> None:
    game_id = new_game(endpoints.postgres_dsn).game_id

    done = archive_cli(endpoints, s3, "restore", str(game_id), *flags)

    assert done.returncode != 0
    assert named in done.stderr
    assert "Traceback" not in done.stderr


def test_restore_brings_the_days_back_once_however_often_it_runs(
    endpoints: Endpoints, s3: EmbeddedS3, store: Any
) -> None:
    dsn = endpoints.postgres_dsn
    game_id, before = archived_game(dsn, store)
    last = FIRST + timedelta(days=1)
    started = datetime.now(UTC)

    done = archive_cli(endpoints, s3, "restore", str(game_id), "--from",
                       (FIRST - timedelta(days=5)).isoformat(), "--to", last.isoformat(),
                       "--keep-days", "3", "--json")  # fmt: skip

    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert [(d["date"], d["outcome"]) for d in report["days"]] == [
        (FIRST.isoformat(), "restored"), (last.isoformat(), "restored"),
    ]  # fmt: skip
    third = FIRST + timedelta(days=2)
    restored = [row for row in before if row[5].date() < third]  # event_time's day
    assert report["restored_rows"] == len(restored)
    assert events_of(dsn, game_id) == restored
    with psycopg.connect(dsn) as conn:
        days = {d.event_date: d for d in archived_days.of_game(conn, game_id)}
    assert (days[FIRST].state, days[last].state, days[third].state) == (
        "restored", "restored", "archived",
    )  # fmt: skip
    until = days[FIRST].restored_until
    assert until is not None
    assert started + timedelta(days=3) <= until <= datetime.now(UTC) + timedelta(days=3)
    assert rollups_against_everything(dsn, store, game_id) == {}

    again = archive_cli(endpoints, s3, "restore", str(game_id), "--from", FIRST.isoformat(),
                        "--to", last.isoformat(), "--json")  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert {d["outcome"] for d in json.loads(again.stdout)["days"]} == {"in postgres"}
    # Even told the day is archived while PostgreSQL holds its rows, a restore stores none.
    with psycopg.connect(dsn) as conn:
        entry = days[FIRST]
        manifest = objects.get_manifest(store, BUCKET, game_id, FIRST)
        assert manifest is not None
        archived_days.record(conn, manifest, "archived")
    forced = archive_cli(endpoints, s3, "restore", str(game_id), "--from", FIRST.isoformat(),
                         "--to", FIRST.isoformat(), "--json")  # fmt: skip
    assert forced.returncode == 0, forced.stderr
    assert json.loads(forced.stdout)["days"] == [
        {"date": FIRST.isoformat(), "outcome": "restored", "stored": 0, "reason": None}
    ]
    assert events_of(dsn, game_id) == restored
    assert entry.parts == manifest.parts


def test_a_part_that_does_not_match_the_catalog_refuses_its_day_naming_it(
    endpoints: Endpoints, s3: EmbeddedS3, store: Any
) -> None:
    dsn = endpoints.postgres_dsn
    game_id, before = archived_game(dsn, store, days=2)
    second = FIRST + timedelta(days=1)
    with psycopg.connect(dsn) as conn:
        entry = archived_days.get(conn, game_id, second)
    assert entry is not None
    part = entry.parts[0]
    rows = parquet.decode(objects.get_part(store, BUCKET, game_id, second, part.name))
    objects.put_part(store, BUCKET, game_id, second, part.name, parquet.encode(rows.slice(1), 2))

    done = archive_cli(endpoints, s3, "restore", str(game_id), "--from", FIRST.isoformat(),
                       "--to", second.isoformat())  # fmt: skip

    assert done.returncode == 1
    assert f"day {second} of game {game_id}: {part.name} holds" in done.stderr
    first_rows = [row for row in before if row[5].date() == FIRST]
    assert events_of(dsn, game_id) == first_rows  # the good day came back, not the other
    with psycopg.connect(dsn) as conn:
        refused = archived_days.get(conn, game_id, second)
    assert refused is not None
    assert refused.state == "archived"


def test_an_unreachable_s3_is_a_one_line_error_naming_the_day(
    endpoints: Endpoints, s3: EmbeddedS3, store: Any
) -> None:
    game_id, _ = archived_game(endpoints.postgres_dsn, store, days=1)
    nowhere = S3Settings(endpoint=f"http://127.0.0.1:{free_port()}", max_attempts=1,
                         access_key_id="k", secret_access_key="s")  # fmt: skip

    done = archive_cli(endpoints, s3, "restore", str(game_id), "--from", FIRST.isoformat(),
                       "--to", FIRST.isoformat(), settings=nowhere)  # fmt: skip

    assert done.returncode == 2
    assert f"cannot read the archive (bucket {BUCKET} at {nowhere.endpoint})" in done.stderr
    assert str(FIRST) in done.stderr
    assert "Traceback" not in done.stderr
    with psycopg.connect(endpoints.postgres_dsn) as conn:
        entry = archived_days.get(conn, game_id, FIRST)
    assert entry is not None
    assert entry.state == "archived"
