"""Archiving a game-day the way the retention pass does, for tests of the archive's readers
(until the lead's pass replaces it): the day's rows out of PostgreSQL as Arrow, written as
Parquet parts with their manifest, then in ONE transaction the catalog row (state
'archived') and the deletion of the day's rows and event-id claims.
"""

import uuid
from datetime import UTC, date, datetime
from typing import Any

import psycopg
import pyarrow as pa

from apps.analytics.queries.archived import Archive, today
from apps.archive import objects
from apps.archive.checksum import column_checksum
from apps.archive.parquet import SCHEMA, conform, decode, encode
from apps.archive.read import ArchiveReader
from apps.core.archive import Manifest, Part, part_name
from apps.core.settings.s3 import S3Settings
from apps.s3.client import client, ensure_buckets
from apps.store import archived_days, raw_events


def archive_day(
    dsn: str, s3: Any, bucket: str, game_id: uuid.UUID, day: date, *,
    parts: int = 1, rows_per_part: int | None = None, rows_per_group: int = 2,
) -> Manifest:  # fmt: skip
    """Move the game-day's raw events to the archive as the retention pass does (parts,
    manifest, then the catalog row and the rows' deletion in one transaction), in `parts`
    parts or parts of `rows_per_part` rows, ordered by event id (so which rows share a
    part does not depend on PostgreSQL's heap order), with small row groups so readers
    meet several. A day with no rows is catalogued too."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        batches = list(raw_events.stream_day(conn, game_id, day))
        table = conform(pa.Table.from_batches(batches)) if batches else SCHEMA.empty_table()
        table = table.sort_by("event_id")
        size = rows_per_part or (-(-table.num_rows // parts) if table.num_rows else 0)
        count = -(-table.num_rows // size) if size and table.num_rows else parts
        listed = []
        for n in range(count):
            piece = table.slice(n * size, size) if size else table.slice(0, 0)
            data = encode(piece, rows_per_group)
            objects.put_part(s3, bucket, game_id, day, part_name(n), data)
            listed.append(
                Part(part_name(n), piece.num_rows, len(data), column_checksum(piece["event_id"]))
            )
        manifest = Manifest(game_id, day, tuple(listed), datetime.now(UTC))
        objects.put_manifest(s3, bucket, manifest)
        with conn.transaction():
            archived_days.record(conn, manifest, "archived")
            raw_events.delete_day(conn, game_id, day)
    return manifest


def restore_day(dsn: str, s3: Any, bucket: str, game_id: uuid.UUID, day: date) -> int:
    """Bring an archived day back into PostgreSQL, catalogued as restored; rows stored."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        found = archived_days.get(conn, game_id, day)
        assert found is not None
        tables = [decode(objects.get_part(s3, bucket, game_id, day, p.name)) for p in found.parts]
        manifest = objects.get_manifest(s3, bucket, game_id, day)
        assert manifest is not None
        with conn.transaction():
            stored = raw_events.restore(conn, game_id, pa.concat_tables(tables))
            archived_days.record(conn, manifest, "restored")
    return stored


class Bucketed:
    """A bucket of its own on the session's S3, a boto3 client to it, and readers."""

    def __init__(self, settings: S3Settings) -> None:
        self.settings = settings
        self.s3 = client(settings)
        self.name = f"archive-reads-{uuid.uuid4().hex[:12]}"
        ensure_buckets(self.s3, [self.name])

    def archive(self, dsn: str, game_id: uuid.UUID, day: date, parts: int = 2) -> None:
        archive_day(dsn, self.s3, self.name, game_id, day, parts=parts)

    def reader(self) -> Archive:
        return Archive(ArchiveReader(self.settings, self.name), today())
