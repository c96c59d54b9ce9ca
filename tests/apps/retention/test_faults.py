"""Faults a pass meets: S3 down (the pass stops, nothing leaves PostgreSQL, /readyz says
why), and files that do not match their catalog (the day is reported, never deleted)."""

import dataclasses
import io
import uuid
from datetime import timedelta

import httpx
import psycopg
import pyarrow.parquet as pq
import pytest
from botocore.exceptions import EndpointConnectionError

from apps.archive import objects, parquet
from apps.core.settings.retention import RetentionSettings
from apps.core.settings.s3 import S3Settings
from apps.local.process import free_port
from apps.retention.app import create_app
from apps.retention.metrics import RetentionMetrics
from apps.retention.passes import Pass
from apps.retention.scheduler import Scheduler
from apps.s3.client import client
from apps.store import archived_days
from tests.support.factory import stored_event
from tests.support.poll import poll_until
from tests.support.retention import (
    days_ago,
    events_on,
    game_with_retention,
    pg_rows,
    write,
)  # fmt: skip
from tests.support.servers import Endpoints, UvicornThread
from tests.support.topic import topic_with


def unreachable(settings: RetentionSettings) -> RetentionSettings:
    dead = S3Settings(
        endpoint=f"http://127.0.0.1:{free_port()}", access_key_id="k", secret_access_key="s",
        connect_timeout=timedelta(seconds=0.5), max_attempts=1,
    )  # fmt: skip
    return dataclasses.replace(settings, s3=dead)


def test_s3_down_stops_the_pass_and_nothing_leaves_postgres(
    endpoints: Endpoints, settings: RetentionSettings
) -> None:
    dsn = endpoints.postgres_dsn
    game = game_with_retention(dsn, hot_days=30)
    day = days_ago(31)
    write(dsn, events_on(game, day, 25))
    before = pg_rows(dsn, game, day)
    down = unreachable(settings)
    scheduler = Scheduler(down, client(down.s3), RetentionMetrics())

    with pytest.raises(EndpointConnectionError):
        scheduler.run_once(frozenset({game}))

    assert scheduler.failure is not None
    assert scheduler.failure.startswith("s3: EndpointConnectionError")
    assert pg_rows(dsn, game, day) == before
    with psycopg.connect(dsn) as conn:
        assert archived_days.get(conn, game, day) is None
    # S3 back: the next pass moves the day.
    Pass(settings, client(settings.s3), only=frozenset({game})).run()
    assert pg_rows(dsn, game, day) == {}


def test_readyz_says_why_passes_stop(endpoints: Endpoints, settings: RetentionSettings) -> None:
    """S3 unreachable, and a processor that has not stored what the topic holds (so the
    service's passes stop before touching any game of the shared test database)."""
    behind = topic_with(endpoints.kafka_bootstrap, "unread", 1, [stored_event(uuid.uuid4(), "p")])
    down = dataclasses.replace(
        unreachable(settings), interval=timedelta(hours=1), events_topic=behind,
        kafka_wait=timedelta(seconds=1),
    )  # fmt: skip
    server = UvicornThread(create_app(down), free_port())
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            answer = http.get("/readyz")
            assert answer.status_code == 503
            checks = answer.json()["checks"]
            assert checks["s3"].startswith("unreachable")
            assert checks["postgres"] == "ok"
            poll_until(
                lambda: "processor_behind" in http.get("/readyz").json()["checks"]["pass"],
                timeout=30, what="/readyz naming what stopped the pass",
            )  # fmt: skip
            assert http.get("/healthz").status_code == 200
            assert "gm_retention_passes_total" in http.get("/metrics").text
    finally:
        server.stop()


def test_a_part_that_does_not_match_its_catalog_is_reported_and_nothing_deleted(
    endpoints: Endpoints, settings: RetentionSettings
) -> None:
    dsn = endpoints.postgres_dsn
    game = game_with_retention(dsn, hot_days=30)
    day = days_ago(36)
    write(dsn, events_on(game, day, 30))
    Pass(settings, client(settings.s3), only=frozenset({game})).run()
    s3 = client(settings.s3)
    manifest = objects.get_manifest(s3, settings.archive_bucket, game, day)
    assert manifest is not None
    first = manifest.parts[0]
    # Corruption: the part loses a row (still valid Parquet, different contents).
    table = parquet.decode(objects.get_part(s3, settings.archive_bucket, game, day, first.name))
    sink = io.BytesIO()
    pq.write_table(table.slice(1), sink, compression="zstd")
    s3.put_object(
        Bucket=settings.archive_bucket, Key=f"events/game_id={game}/event_date={day}/{first.name}",
        Body=sink.getvalue(),
    )  # fmt: skip
    late = events_on(game, day, 3)  # a late event makes the pass revisit the day
    write(dsn, late)

    report = Pass(settings, client(settings.s3), only=frozenset({game})).run()

    assert len(report.problems) == 1
    assert first.name in report.problems[0]
    assert len(pg_rows(dsn, game, day)) == 3
    with psycopg.connect(dsn) as conn:
        entry = archived_days.get(conn, game, day)
        assert entry is not None
        assert entry.problem is not None
        assert first.name in entry.problem
        assert archived_days.problems(conn) >= 1
    again = Pass(settings, client(settings.s3), only=frozenset({game})).run()
    assert len(again.problems) == 1
    assert len(pg_rows(dsn, game, day)) == 3
