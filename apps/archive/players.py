"""One player's rows in a part, found by the player_id column alone; and in a game's archive.

Parts are sorted by player_id with statistics per row group (apps/archive/parquet.py):
a group whose player_id range excludes the player is never read, and of the others only
the player_id column is, until the player is found.
"""

import uuid
from typing import Any

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from psycopg.rows import TupleRow

from apps.archive import days
from apps.store import archived_days


def holds(data: bytes, player_id: str) -> bool:
    """Whether the part's bytes hold a row of the player."""
    reader = pq.ParquetFile(pa.BufferReader(data))
    index = reader.schema_arrow.get_field_index("player_id")
    for group in range(reader.metadata.num_row_groups):
        stats = reader.metadata.row_group(group).column(index).statistics
        if stats is not None and stats.has_min_max and not stats.min <= player_id <= stats.max:
            continue
        column = reader.read_row_group(group, columns=["player_id"]).column(0)
        if pc.any(pc.equal(column, player_id)).as_py():
            return True
    return False


def rows_of(table: pa.Table, player_id: str) -> pa.Table:
    """The player's rows of a decoded part."""
    return table.filter(pc.equal(table.column("player_id"), player_id))


def group_rows(data: bytes) -> int:
    """The rows of the part's largest row group: what its rewrite keeps per group."""
    metadata = pq.ParquetFile(pa.BufferReader(data)).metadata
    rows = (metadata.row_group(g).num_rows for g in range(metadata.num_row_groups))
    return max(1, max(rows, default=1))


def archived_events(
    conn: psycopg.Connection[TupleRow], s3: Any, bucket: str, game_id: uuid.UUID, player_id: str
) -> list[dict[str, Any]]:
    """The player's rows in the listed parts of the game's `archived` days (a restored or
    pending day's rows are PostgreSQL's), by (event_time, event_id), as dicts of the
    archive's columns (event_id as text, properties as JSON text). Raises
    `days.DayMismatch` naming the day when a part holding the player does not match the
    catalog. The caller holds the game's lock SHARED, so no erasure rewrites a day under it."""
    found: list[pa.Table] = []
    for entry in archived_days.of_game(conn, game_id):
        if entry.in_postgres:
            continue
        for part in entry.parts:
            data = days.fetch(s3, bucket, game_id, entry.event_date, part)
            if holds(data, player_id):
                table = days.checked(game_id, entry.event_date, part, data)
                found.append(rows_of(table, player_id))
    if not found:
        return []
    rows: list[dict[str, Any]] = (
        pa.concat_tables(found)
        .sort_by([("event_time", "ascending"), ("event_id", "ascending")])
        .to_pylist()
    )
    return rows
