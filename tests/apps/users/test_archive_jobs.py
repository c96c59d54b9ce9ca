"""Privacy jobs of a player whose events are partly archived, end to end through the users
API: the export holds the archived events too (merged by time), and the erasure's
receipt counts what the archive eraser took out of the listed parts.

Events are stored as the processor stores them (BatchWriter) and days archived as the
retention pass archives them (tests/support/archiving.py); the users API's runner waits
for this module's processor, as in test_privacy.py.
"""

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import psycopg
import pytest
from psycopg.rows import dict_row

from apps.local.servers import EmbeddedS3
from tests.conftest import new_game
from tests.support.archiving import (
    BUCKET,
    archive_day,
    archive_s3,
    history,
    player_in_archive,
    rollups_against_everything,
    s3_disagreements,
    write_rows,
)
from tests.support.privacy import ask, export_lines, finished
from tests.support.processor import (
    ThreadedProcessor,
    module_processor,
)
from tests.support.servers import Endpoints, UvicornThread
from tests.support.users import Person, person, running_users, users_settings

FIRST: Final = datetime.now(UTC).date() - timedelta(days=50)
HOT: Final = datetime.now(UTC).date() - timedelta(days=1)
PLAYERS: Final = ("ana", "bo", "cy")


processor = pytest.fixture(scope="module", name="processor")(module_processor)


@pytest.fixture(scope="module")
def jobs_api(
    endpoints: Endpoints, processor: ThreadedProcessor, s3: EmbeddedS3
) -> Iterator[UvicornThread]:
    """A users API with a runner, the test store and bucket (jobs of other modules, never
    run, end here failed, as test_privacy.py's fixture does)."""
    with psycopg.connect(endpoints.postgres_dsn) as conn:
        conn.execute(
            "UPDATE privacy_jobs SET status = 'failed', error = 'left by another test module',"
            " player_id = NULL, finished_at = now() WHERE status IN ('queued', 'running')"
        )
    settings = users_settings(
        endpoints, privacy_runners=1, privacy_kafka_wait=timedelta(seconds=60),
        processor_group=processor.processor.settings.group_id, s3=s3.settings,
        archive_bucket=BUCKET,
    )  # fmt: skip
    with running_users(settings) as server:
        yield server


@pytest.fixture(scope="module")
def store(s3: EmbeddedS3) -> Any:
    return archive_s3(s3.settings)


def archived_game(dsn: str, store: Any) -> uuid.UUID:
    """Three archived days and a hot one; bo played on each."""
    game_id = new_game(dsn).game_id
    write_rows(dsn, history(game_id, FIRST, 3, PLAYERS) + history(game_id, HOT, 1, PLAYERS))
    for d in range(3):
        archive_day(dsn, store, game_id, FIRST + timedelta(days=d), rows_per_part=4)
    return game_id


def stored(dsn: str, game_id: uuid.UUID, player: str) -> list[dict[str, Any]]:
    with psycopg.connect(dsn) as conn, conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT event_id::text, event_time FROM events WHERE game_id = %s AND player_id = %s",
            (game_id, player),
        ).fetchall()


def test_an_export_holds_the_archived_events_in_time_order(
    jobs_api: UvicornThread, endpoints: Endpoints, store: Any
) -> None:
    dsn = endpoints.postgres_dsn
    game_id = archived_game(dsn, store)
    owner: Person = person(jobs_api.url, dsn, {game_id: "owner"})
    archived = player_in_archive(store, dsn, game_id, "bo")
    hot = stored(dsn, game_id, "bo")
    assert archived > 0
    assert hot

    job_id = ask(jobs_api.url, owner, game_id, "bo", "export")
    done = finished(jobs_api.url, owner, job_id)

    assert done["status"] == "done", done
    assert done["events"] == archived + len(hot)
    events = export_lines(jobs_api.url, owner, job_id)[1:]
    assert len(events) == archived + len(hot)
    assert {e["player_id"] for e in events} == {"bo"}
    assert {r["event_id"] for r in hot} < {e["event_id"] for e in events}
    times = [datetime.fromisoformat(e["event_time"]) for e in events]
    assert times == sorted(times)
    assert times[0].date() == FIRST
    purchase = next(e for e in events if e["type"] == "purchase")
    assert (purchase["amount"], purchase["currency"], purchase["properties"]) == (
        2.5, "EUR", {"k": 1},
    )  # fmt: skip


def test_an_erasure_job_erases_the_archive_and_its_receipt_counts_it(
    jobs_api: UvicornThread, endpoints: Endpoints, store: Any
) -> None:
    dsn = endpoints.postgres_dsn
    game_id = archived_game(dsn, store)
    owner: Person = person(jobs_api.url, dsn, {game_id: "owner"})
    archived = player_in_archive(store, dsn, game_id, "bo")
    hot = len(stored(dsn, game_id, "bo"))

    job_id = ask(jobs_api.url, owner, game_id, "bo", "erasure")
    done = finished(jobs_api.url, owner, job_id)

    assert done["status"] == "done", done
    erased = done["receipt"]["receipt"]["erased"]
    assert erased["archive"] == {"archived_events": archived, "archive_days": 3}
    assert erased["postgres"]["events.removed"] == hot
    assert player_in_archive(store, dsn, game_id, "bo") == 0
    assert stored(dsn, game_id, "bo") == []
    assert rollups_against_everything(dsn, store, game_id) == {}
    assert s3_disagreements(dsn, store, game_id) == []
