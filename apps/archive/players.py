"""One player's rows in a part, found by the player_id column alone.

Parts are sorted by player_id with statistics per row group (apps/archive/parquet.py):
a group whose player_id range excludes the player is never read, and of the others only
the player_id column is, until the player is found.
"""

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq


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
