"""The archive's S3 down while a privacy job needs it: the job is put back and retried with
a backoff, never failed and never given a receipt that misses the archive. (Its own
module: the only runner alive is this one, whose S3 is a closed port.)"""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from apps.core.settings.s3 import S3Settings
from apps.local.process import free_port
from apps.local.servers import EmbeddedS3
from tests.conftest import new_game
from tests.support.archiving import archive_day, archive_s3, history, write_rows
from tests.support.poll import poll_until
from tests.support.privacy import ask, job
from tests.support.processor import (
    ThreadedProcessor,
    module_processor,
)
from tests.support.servers import Endpoints, UvicornThread
from tests.support.users import person, running_users, users_settings

NOWHERE = S3Settings(
    endpoint=f"http://127.0.0.1:{free_port()}", max_attempts=1, access_key_id="k",
    secret_access_key="s", connect_timeout=timedelta(seconds=1),
)  # fmt: skip


processor = pytest.fixture(scope="module", name="processor")(module_processor)


@pytest.fixture(scope="module")
def s3_down_api(endpoints: Endpoints, processor: ThreadedProcessor) -> Iterator[UvicornThread]:
    with psycopg.connect(endpoints.postgres_dsn) as conn:
        conn.execute(
            "UPDATE privacy_jobs SET status = 'failed', error = 'left by another test module',"
            " player_id = NULL, finished_at = now() WHERE status IN ('queued', 'running')"
        )
    settings = users_settings(
        endpoints, privacy_runners=1, privacy_kafka_wait=timedelta(seconds=60),
        processor_group=processor.processor.settings.group_id, s3=NOWHERE,
    )  # fmt: skip
    with running_users(settings) as server:
        yield server


@pytest.mark.parametrize("kind", ["erasure", "export"])
def test_a_job_that_cannot_reach_the_archive_is_retried_not_failed(
    s3_down_api: UvicornThread, endpoints: Endpoints, s3: EmbeddedS3, kind: str
) -> None:
    dsn = endpoints.postgres_dsn
    store: Any = archive_s3(s3.settings)
    game_id = new_game(dsn).game_id
    first = datetime.now(UTC).date() - timedelta(days=30)
    write_rows(dsn, history(game_id, first, 1, ("ana", "bo")))
    archive_day(dsn, store, game_id, first)
    owner = person(s3_down_api.url, dsn, {game_id: "owner"})

    job_id = ask(s3_down_api.url, owner, game_id, "bo", kind)

    seen: dict[str, Any] = {}

    def retried() -> bool:
        seen.update(job(s3_down_api.url, owner, job_id))
        assert seen["status"] in ("queued", "running"), seen
        return int(seen["attempts"]) >= 2

    poll_until(retried, timeout=60, what=f"the {kind} job retried")
    assert seen.get("receipt") is None
