"""A pass killed (SIGKILL) at each step of a game-day, then a pass that completes: every
event ends up archived exactly once, PostgreSQL keeps nothing of the days moved, and no
object is left that the catalog does not list."""

import os
import subprocess
import sys
import uuid
from datetime import date

import psycopg
import pytest

from apps.archive import objects
from apps.core import archive
from apps.core.settings.retention import RetentionSettings
from apps.retention.passes import Pass
from apps.s3.client import client
from apps.store import archived_days
from tests.support.retention import (
    archived_rows,
    days_ago,
    events_on,
    game_with_retention,
    pg_rows,
    write,
)  # fmt: skip
from tests.support.servers import Endpoints


def killed_pass(settings: RetentionSettings, step: str, *games: uuid.UUID) -> None:
    env = {**os.environ, **settings.env()}
    done = subprocess.run(
        [sys.executable, "-m", "tests.support.retention_kill", step, settings.events_topic,
         *map(str, games)],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == -9, done.stderr[-2000:]


def assert_moved_once(
    settings: RetentionSettings, game: uuid.UUID, day: date, expected: dict[str, tuple[object, ...]]
) -> None:
    s3 = client(settings.s3)
    assert archived_rows(s3, settings.archive_bucket, game, day) == expected
    assert pg_rows(settings.postgres_dsn, game, day) == {}
    manifest = objects.get_manifest(s3, settings.archive_bucket, game, day)
    assert manifest is not None
    files = objects.day_objects(s3, settings.archive_bucket, game, day)
    assert set(files) == {archive.MANIFEST} | {p.name for p in manifest.parts}
    with psycopg.connect(settings.postgres_dsn) as conn:
        entry = archived_days.get(conn, game, day)
    assert entry is not None
    assert entry.state == "archived"
    assert entry.parts == manifest.parts


@pytest.mark.parametrize("step", ["uploaded", "manifest", "prepared", "committed"])
def test_a_pass_killed_at_any_step_loses_and_doubles_nothing(
    endpoints: Endpoints, settings: RetentionSettings, step: str
) -> None:
    dsn = endpoints.postgres_dsn
    game = game_with_retention(dsn, hot_days=30)
    first, second = days_ago(33), days_ago(32)
    write(dsn, events_on(game, first, 130) + events_on(game, second, 45))
    expected = {d: pg_rows(dsn, game, d) for d in (first, second)}

    killed_pass(settings, step, game)
    Pass(settings, client(settings.s3), only=frozenset({game})).run()

    for day in (first, second):
        assert_moved_once(settings, game, day, expected[day])


def test_a_pass_killed_before_dropping_a_shared_partition(
    endpoints: Endpoints, settings: RetentionSettings
) -> None:
    """Two games of one old partition: killed once both are prepared (the partition not
    yet dropped), the next pass drops it and archives each game once."""
    dsn = endpoints.postgres_dsn
    a = game_with_retention(dsn, hot_days=30, archive_days=3000)
    b = game_with_retention(dsn, hot_days=30, archive_days=3000)
    day = days_ago(1500 + uuid.uuid4().int % 500)
    write(dsn, events_on(a, day, 60) + events_on(b, day, 35))
    expected = {g: pg_rows(dsn, g, day) for g in (a, b)}

    killed_pass(settings, "prepared", a, b)  # the first game prepared, the second not yet
    report = Pass(settings, client(settings.s3), only=frozenset({a, b})).run()

    assert report.partitions_dropped == 1
    for g in (a, b):
        assert_moved_once(settings, g, day, expected[g])
