"""One player's rows in a part, found by the player_id column alone; and in a game's archive.

Parts are sorted by player_id with statistics per row group (apps/archive/parquet.py):
a group whose player_id range excludes the player is never read, and of the others only
the player_id column is, until the player is found.
"""

import uuid
from datetime import date
from typing import Any

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from botocore.exceptions import ClientError
from psycopg.rows import TupleRow

from apps.archive import days, objects
from apps.archive.ranged import RangedPart
from apps.core.archive import Part
from apps.store import archived_days


def holds(source: "bytes | RangedPart", player_id: str) -> bool:
    """Whether the part (its bytes, or the object read range by range) holds a row of the
    player; pyarrow's errors when it is not Parquet."""
    reader = pq.ParquetFile(pa.BufferReader(source) if isinstance(source, bytes) else source)
    index = reader.schema_arrow.get_field_index("player_id")
    for group in range(reader.metadata.num_row_groups):
        stats = reader.metadata.row_group(group).column(index).statistics
        if stats is not None and stats.has_min_max and not stats.min <= player_id <= stats.max:
            continue
        column = reader.read_row_group(group, columns=["player_id"]).column(0)
        if pc.any(pc.equal(column, player_id)).as_py():
            return True
    return False


def listed_part_holds(
    s3: Any, bucket: str, game_id: uuid.UUID, day: date, part: Part, player_id: str
) -> bool:
    """Whether a listed part holds the player, reading its footer and the player_id chunks
    that may (a few ranged GETs); DayMismatch naming the day when it is gone or is not
    Parquet."""
    where = f"day {day} of game {game_id}: {part.name}"
    try:
        return holds(RangedPart(s3, bucket, game_id, day, part.name, part.bytes), player_id)
    except ClientError as e:
        if objects.missing(e):
            raise days.DayMismatch(f"{where} is missing") from None
        if objects.error_code(e) == "InvalidRange":
            short = f"{where} is shorter than the catalog's {part.bytes} bytes"
            raise days.DayMismatch(short) from None
        raise
    except (pa.ArrowInvalid, OSError) as e:
        raise days.DayMismatch(f"{where}: unreadable Parquet: {e}") from None


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
        day = entry.event_date
        for part in entry.parts:
            if listed_part_holds(s3, bucket, game_id, day, part, player_id):
                table = days.read(s3, bucket, game_id, day, part)
                found.append(rows_of(table, player_id))
    if not found:
        return []
    rows: list[dict[str, Any]] = (
        pa.concat_tables(found)
        .sort_by([("event_time", "ascending"), ("event_id", "ascending")])
        .to_pylist()
    )
    return rows
