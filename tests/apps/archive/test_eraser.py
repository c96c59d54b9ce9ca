"""Erasing a player whose events are archived: no listed part holds them afterwards, every
rollup equals a recomputation from the events that remain (PostgreSQL and the archive),
the manifests say what the catalog says, a second run changes nothing, and a run killed
at any step (the state it leaves, rebuilt) is finished by the next.

Events are stored as the processor stores them (its BatchWriter: events and every
rollup), and days archived as the retention pass archives them (tests/support/archiving.py).
"""

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

import psycopg
import pytest

from apps.archive import objects, parquet
from apps.archive.eraser import ArchiveErasureFailed, erase_player
from apps.core import archive
from apps.core.erasers import Erasers, ErasureFailed
from apps.local.servers import EmbeddedS3
from apps.store import archived_days
from apps.users.runtime import platform_erasers
from tests.conftest import new_game
from tests.support.archiving import (
    BUCKET,
    archive_day,
    archive_s3,
    events_row,
    history,
    player_in_archive,
    player_in_objects,
    rollups_against_everything,
    s3_disagreements,
    write_rows,
)
from tests.support.players import rows_of_player
from tests.support.poll import poll_until
from tests.support.recompute import game_state
from tests.support.servers import Endpoints
from tests.support.users import users_settings

PLAYERS: Final = ("ana", "bo", "cy", "dee")
FIRST: Final = datetime.now(UTC).date() - timedelta(days=40)
DAYS: Final = 3
ALONE: Final = FIRST + timedelta(days=DAYS)
"""A day only bo played: erasing bo leaves it no part."""
HOT: Final = datetime.now(UTC).date() - timedelta(days=1)


@pytest.fixture(scope="module")
def store(s3: EmbeddedS3) -> Any:
    """A client of the session's S3 server, with the test bucket."""
    return archive_s3(s3.settings)


@pytest.fixture
def erasers(endpoints: Endpoints, s3: EmbeddedS3) -> Erasers:
    return platform_erasers(users_settings(endpoints, s3=s3.settings, archive_bucket=BUCKET))


def played(dsn: str, s3: Any) -> tuple[uuid.UUID, dict[date, archive.Manifest]]:
    """A game whose first DAYS days and ALONE are archived (several parts a day), with a
    hot day in PostgreSQL."""
    game_id = new_game(dsn).game_id
    rows = history(game_id, FIRST, DAYS, PLAYERS) + history(game_id, HOT, 1, PLAYERS)
    at = datetime.combine(ALONE, datetime.min.time(), UTC) + timedelta(hours=3)
    rows += [events_row(game_id, "bo", at + timedelta(minutes=m), k)
             for m, k in enumerate(("session_start", "purchase", "session_end"))]  # fmt: skip
    write_rows(dsn, rows)
    manifests = {
        day: archive_day(dsn, s3, game_id, day, rows_per_part=4, rows_per_group=2)
        for day in (*(FIRST + timedelta(days=d) for d in range(DAYS)), ALONE)
    }
    assert rollups_against_everything(dsn, s3, game_id) == {}
    return game_id, manifests


def has_bo(s3: Any, game_id: uuid.UUID, day: date, name: str) -> bool:
    table = parquet.decode(objects.get_part(s3, BUCKET, game_id, day, name))
    return "bo" in table["player_id"].to_pylist()


def snapshot(dsn: str, s3: Any, game_id: uuid.UUID) -> dict[str, Any]:
    """Everything an erasure could change: PostgreSQL's rows, the catalog, S3's objects."""
    with psycopg.connect(dsn) as conn:
        catalog = [(d.event_date, d.state, d.parts) for d in archived_days.of_game(conn, game_id)]
    found = {
        day: objects.day_objects(s3, BUCKET, game_id, day)
        for day in objects.archived_days(s3, BUCKET, game_id)
    }
    return {"postgres": game_state(dsn, game_id), "catalog": catalog, "objects": found}


def test_the_erasers_run_postgres_then_the_archive(erasers: Erasers) -> None:
    assert erasers.names == ("postgres", "archive")


def test_an_erased_player_is_in_no_listed_part_and_every_rollup_is_recomputed(
    endpoints: Endpoints, store: Any, erasers: Erasers
) -> None:
    dsn, s3 = endpoints.postgres_dsn, store
    game_id, manifests = played(dsn, s3)
    archived_bo = player_in_archive(s3, dsn, game_id, "bo")
    assert archived_bo > 3

    done = erasers.erase(game_id, "bo")

    assert done["archive"] == {"archived_events": archived_bo, "archive_days": DAYS + 1}
    assert done["postgres"]["events.removed"] > 0  # the hot day's
    assert player_in_objects(s3, game_id, "bo") == 0
    assert rows_of_player(dsn, game_id, "bo") == {}
    assert player_in_archive(s3, dsn, game_id, "ana") > 0
    assert rollups_against_everything(dsn, s3, game_id) == {}
    assert s3_disagreements(dsn, s3, game_id) == []
    with psycopg.connect(dsn) as conn:
        alone = archived_days.get(conn, game_id, ALONE)
        first = archived_days.get(conn, game_id, FIRST)
    assert alone is not None
    assert (alone.state, alone.parts, alone.rows) == ("archived", (), 0)
    # Rewritten parts take new numbers: nothing listed before is listed again.
    assert first is not None
    before = {p.name for p in manifests[FIRST].parts}
    rewritten = {p.name for p in first.parts} - before
    assert rewritten
    assert min(archive.part_number(n) or -1 for n in rewritten) >= manifests[FIRST].next_part()

    state = snapshot(dsn, s3, game_id)
    again = erasers.erase(game_id, "bo")
    assert again["archive"] == {"archived_events": 0, "archive_days": 0}
    assert snapshot(dsn, s3, game_id) == state


def test_unlisted_parts_holding_the_player_are_deleted_and_others_left_to_the_pass(
    endpoints: Endpoints, store: Any, erasers: Erasers
) -> None:
    dsn, s3 = endpoints.postgres_dsn, store
    game_id, manifests = played(dsn, s3)
    # A part holding bo (which rows go in which part follows PostgreSQL's heap order).
    listed = next(p for p in manifests[FIRST].parts if has_bo(s3, game_id, FIRST, p.name))
    data = objects.get_part(s3, BUCKET, game_id, FIRST, listed.name)
    # A killed run's rewritten part (no row of bo), and a part it replaced, not deleted.
    kept = parquet.without_player(parquet.decode(data), "bo")
    objects.put_part(s3, BUCKET, game_id, FIRST, "part-50.parquet", parquet.encode(kept, 2))
    objects.put_part(s3, BUCKET, game_id, FIRST, "part-60.parquet", data)
    assert has_bo(s3, game_id, FIRST, "part-60.parquet")

    done = erasers.erase(game_id, "bo")

    assert done["archive"]["archive_days"] == DAYS + 1
    assert player_in_objects(s3, game_id, "bo") == 0
    assert rollups_against_everything(dsn, s3, game_id) == {}
    assert s3_disagreements(dsn, s3, game_id, leftovers=True) == []
    present = objects.day_objects(s3, BUCKET, game_id, FIRST)
    assert "part-60.parquet" not in present
    assert "part-50.parquet" in present  # may be a pass's part in progress: the pass's
    with psycopg.connect(dsn) as conn:
        first = archived_days.get(conn, game_id, FIRST)
    assert first is not None
    assert "part-50.parquet" not in {p.name for p in first.parts}
    new = [p.name for p in first.parts if p not in manifests[FIRST].parts]
    assert min(archive.part_number(n) or 0 for n in new) > 60


def test_a_run_killed_after_its_commit_is_finished_by_the_next_without_subtracting_twice(
    endpoints: Endpoints, store: Any, erasers: Erasers
) -> None:
    dsn, s3 = endpoints.postgres_dsn, store
    game_id, manifests = played(dsn, s3)
    old = {
        day: {p.name: objects.get_part(s3, BUCKET, game_id, day, p.name) for p in m.parts}
        for day, m in manifests.items()
    }
    erasers["postgres"](game_id, "bo")
    with psycopg.connect(dsn, autocommit=True) as conn:
        erase_player(conn, s3, BUCKET, game_id, "bo")
    committed = snapshot(dsn, s3, game_id)
    # Killed after the commit, before S3 was told: the old manifests and parts are back.
    for day, manifest in manifests.items():
        for name, data in old[day].items():
            objects.put_part(s3, BUCKET, game_id, day, name, data)
        objects.put_manifest(s3, BUCKET, manifest)
    assert s3_disagreements(dsn, s3, game_id) != []

    with psycopg.connect(dsn, autocommit=True) as conn:
        counts = erase_player(conn, s3, BUCKET, game_id, "bo")

    assert counts == {"archived_events": 0, "archive_days": 0}
    assert s3_disagreements(dsn, s3, game_id) == []
    assert player_in_objects(s3, game_id, "bo") == 0
    assert rollups_against_everything(dsn, s3, game_id) == {}
    finished = snapshot(dsn, s3, game_id)
    assert finished["postgres"] == committed["postgres"]
    assert finished["catalog"] == committed["catalog"]


def test_a_restored_day_is_rewritten_and_its_rows_are_subtracted_once(
    endpoints: Endpoints, store: Any, erasers: Erasers
) -> None:
    from apps.archive.restore import restore_day
    from apps.processor.partitions import Partitions

    dsn, s3 = endpoints.postgres_dsn, store
    game_id, _ = played(dsn, s3)
    with psycopg.connect(dsn, autocommit=True) as conn:
        back = restore_day(conn, s3, BUCKET, game_id, FIRST, timedelta(days=1),
                           lambda c, d: Partitions().ensure(c, [d]))  # fmt: skip
    assert back.outcome == "restored"
    assert back.stored > 0

    erasers.erase(game_id, "bo")

    assert player_in_archive(s3, dsn, game_id, "bo") == 0
    assert rows_of_player(dsn, game_id, "bo") == {}
    assert rollups_against_everything(dsn, s3, game_id) == {}
    assert s3_disagreements(dsn, s3, game_id) == []


def test_a_day_whose_part_does_not_match_the_catalog_fails_the_erasure_naming_it(
    endpoints: Endpoints, store: Any, erasers: Erasers
) -> None:
    dsn, s3 = endpoints.postgres_dsn, store
    game_id, manifests = played(dsn, s3)
    second = FIRST + timedelta(days=1)
    holding = [p for p in manifests[second].parts if has_bo(s3, game_id, second, p.name)]
    data = parquet.decode(objects.get_part(s3, BUCKET, game_id, second, holding[0].name))
    objects.put_part(s3, BUCKET, game_id, second, holding[0].name, parquet.encode(data.slice(1), 2))

    with pytest.raises(ErasureFailed) as failed:
        erasers.erase(game_id, "bo")

    assert set(failed.value.failed) == {"archive"}
    error = failed.value.failed["archive"]
    assert isinstance(error, ArchiveErasureFailed)
    assert str(second) in str(error)
    assert holding[0].name in str(error)
    assert str(FIRST) not in str(error)
    # The other days are erased; that one still lists its parts as they were.
    with psycopg.connect(dsn) as conn:
        kept = archived_days.get(conn, game_id, second)
        first = archived_days.get(conn, game_id, FIRST)
    assert kept is not None
    assert kept.parts == manifests[second].parts
    assert first is not None
    assert first.parts != manifests[FIRST].parts


_CHILD: Final = """
import os, sys, uuid
import psycopg
from apps.archive.eraser import erase_player
from apps.core.settings.s3 import S3Settings
from apps.s3.client import client
with psycopg.connect(sys.argv[1], autocommit=True) as conn:
    erase_player(conn, client(S3Settings.from_env(os.environ)), sys.argv[2],
                 uuid.UUID(sys.argv[3]), sys.argv[4])
"""


def _changed(dsn: str, game_id: uuid.UUID, manifests: dict[date, archive.Manifest]) -> bool:
    with psycopg.connect(dsn) as conn:
        return any(
            d.parts != manifests[d.event_date].parts for d in archived_days.of_game(conn, game_id)
        )


def _unlisted(s3: Any, game_id: uuid.UUID, manifests: dict[date, archive.Manifest]) -> bool:
    return any(
        set(objects.day_objects(s3, BUCKET, game_id, day)) - {p.name for p in m.parts}
        - {archive.MANIFEST}
        for day, m in manifests.items()
    )  # fmt: skip


@pytest.mark.parametrize("kill_when", ["a new part is written", "the catalog changed"])
def test_an_eraser_killed_midway_is_finished_by_the_next_run(
    endpoints: Endpoints, store: Any, s3: EmbeddedS3, erasers: Erasers, kill_when: str
) -> None:
    dsn = endpoints.postgres_dsn
    game_id, manifests = played(dsn, store)
    erasers["postgres"](game_id, "bo")
    moments: dict[str, Callable[[], bool]] = {
        "a new part is written": lambda: _unlisted(store, game_id, manifests),
        "the catalog changed": lambda: _changed(dsn, game_id, manifests),
    }
    moment = moments[kill_when]
    seen: list[bool] = []

    def check() -> bool:
        seen.append(moment())
        return seen[-1] or child.poll() is not None

    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, dsn, BUCKET, str(game_id), "bo"],
        env={**os.environ, **s3.settings.env()},
    )  # fmt: skip
    try:
        poll_until(check, timeout=60, what=kill_when, every=0.005)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    assert seen[-1], f"the eraser ended (status {child.returncode}) before {kill_when}"
    assert child.returncode == -signal.SIGKILL  # killed midway, not finished

    again = erasers.erase(game_id, "bo")

    assert again["postgres"]["events.removed"] == 0
    assert player_in_objects(store, game_id, "bo") == 0
    assert rollups_against_everything(dsn, store, game_id) == {}
    assert s3_disagreements(dsn, store, game_id, leftovers=True) == []
