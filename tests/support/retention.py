"""The retention service's test kit: its settings against the session's servers, games with
old events written exactly as the processor writes them, and what the archive holds."""

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import psycopg
import pyarrow as pa
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from apps.archive import objects, parquet
from apps.core.settings.retention import RetentionSettings
from apps.local.servers import EmbeddedS3
from apps.processor.partitions import Partitions
from apps.processor.records import COLUMNS, Row
from apps.processor.store import BatchWriter
from apps.s3.client import client, ensure_buckets
from apps.store import games
from tests.support.servers import Endpoints


def quiet_topic(bootstrap: str) -> str:
    """An events topic nothing is produced to: a pass finds the processor caught up at once
    (the session's events topic holds other tests' records no group may have read)."""
    topic = f"retention-events-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(topic, 2, 1)]).values():
        future.result(10)
    return topic


def retention_settings(
    endpoints: Endpoints, s3: EmbeddedS3, bucket: str, **kw: Any
) -> RetentionSettings:
    ensure_buckets(client(s3.settings), [bucket])
    base: dict[str, Any] = {
        "postgres_dsn": endpoints.postgres_dsn, "kafka_bootstrap": endpoints.kafka_bootstrap,
        "archive_bucket": bucket, "s3": s3.settings, "kafka_wait": timedelta(seconds=5),
        "events_topic": quiet_topic(endpoints.kafka_bootstrap), "rows_per_part": 50,
        "rows_per_group": 20,
    }  # fmt: skip
    return RetentionSettings(**(base | kw))


def game_with_retention(dsn: str, hot_days: int = 30, archive_days: int = 730) -> uuid.UUID:
    with psycopg.connect(dsn) as conn:
        game_id = games.create_game(conn, f"retention-{uuid.uuid4().hex[:8]}").game_id
        games.set_retention(conn, game_id, hot_days, archive_days)
    return game_id


def days_ago(n: int) -> date:
    return datetime.now(UTC).date() - timedelta(days=n)


def events_on(game_id: uuid.UUID, day: date, n: int, players: int = 7) -> list[Row]:
    """`n` events of the day, of several players and types, with every column set on some."""
    start = datetime.combine(day, time(), tzinfo=UTC)
    types = ("session_start", "purchase", "level_end", "design", "session_end")
    rows: list[Row] = []
    for i in range(n):
        t = start + timedelta(seconds=(i * 7919) % 86400, microseconds=i % 1000)
        etype = types[i % len(types)]
        fields: dict[str, object] = {
            "game_id": game_id, "event_id": uuid.uuid4(), "event_type": etype,
            "player_id": f"p-{i % players}", "session_id": f"s-{i % 3}" if i % 2 else None,
            "event_time": t, "client_time": t - timedelta(seconds=2),
            "received_at": t + timedelta(seconds=1),
            "platform": ("ios", "android", None)[i % 3], "country": ("DE", None)[i % 2],
            "app_version": "1.2.3" if i % 4 else None,
            "properties": json.dumps({"k": i, "text": 'a,"b"\n'}),
            "duration_seconds": 12.5 if etype == "session_end" else None,
            "amount": 0.1 * i if etype == "purchase" else None,
            "currency": "EUR" if etype == "purchase" else None,
            "item_id": "gems" if etype == "purchase" else None,
            "level": "w1" if etype == "level_end" else None,
            "status": "complete" if etype == "level_end" else None,
        }  # fmt: skip
        rows.append(tuple(fields[c] for c in COLUMNS))
    return rows


def write(dsn: str, rows: Sequence[Row]) -> None:
    """Store rows exactly as the processor does (claims, partitions, rollups)."""
    with psycopg.connect(dsn) as conn:
        written = BatchWriter(conn, Partitions()).write(rows)
    assert written.stored == len(rows)


def pg_rows(dsn: str, game_id: uuid.UUID, day: date) -> dict[str, tuple[Any, ...]]:
    """The day's rows in PostgreSQL by event id, in the archive's columns and types."""
    from apps.store.raw_events import stream_day

    with psycopg.connect(dsn) as conn:
        batches = list(stream_day(conn, game_id, day))
    return _by_id(pa.Table.from_batches(batches) if batches else None)


def archived_rows(
    s3: Any, bucket: str, game_id: uuid.UUID, day: date
) -> dict[str, tuple[Any, ...]]:
    """The rows the day's manifest lists, by event id (asserting no id is listed twice)."""
    manifest = objects.get_manifest(s3, bucket, game_id, day)
    assert manifest is not None
    tables = [
        parquet.decode(objects.get_part(s3, bucket, game_id, day, p.name)) for p in manifest.parts
    ]
    rows: dict[str, tuple[Any, ...]] = {}
    for t in tables:
        part = _by_id(t)
        assert not set(part) & set(rows), "an event is archived twice"
        rows |= part
    assert len(rows) == manifest.rows
    return rows


def _by_id(table: pa.Table | None) -> dict[str, tuple[Any, ...]]:
    if table is None or table.num_rows == 0:
        return {}
    table = parquet.conform(table)
    columns = table.to_pydict()
    names = list(columns)
    return {
        columns["event_id"][i]: tuple(columns[n][i] for n in names) for i in range(table.num_rows)
    }
