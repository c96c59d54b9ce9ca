"""The archive's Parquet files: their Arrow schema, how a part is encoded and decoded.

A part is sorted by (player_id, event_time) and written with zstd, statistics on every
column and row groups of `rows_per_group` rows: an erasure or a player's export reads
only the groups whose player_id range holds the player, a funnel only the groups of its
time range, and a player's events lie together (they compress better too).
"""

import io
from typing import Final

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from apps.core.archive import COLUMNS, ColumnKind

_TYPES: Final[dict[ColumnKind, pa.DataType]] = {
    "string": pa.string(),
    "timestamp": pa.timestamp("us", tz="UTC"),
    "double": pa.float64(),
}
SCHEMA: Final = pa.schema([pa.field(c.name, _TYPES[c.kind], nullable=c.nullable) for c in COLUMNS])
"""The columns of every part, in order."""

_DICTIONARY: Final = [
    "event_type", "platform", "country", "app_version", "currency", "level", "status",
]  # fmt: skip
"""Few distinct values: dictionary-encoded (event ids, player ids and properties are not)."""
COMPRESSION: Final = "zstd"


class PartError(ValueError):
    """A part that is not a Parquet file of the archive's schema."""


def conform(table: pa.Table) -> pa.Table:
    """`table` with exactly the archive's columns and types, in order (PartError if a
    column is missing or will not convert)."""
    try:
        return pa.Table.from_arrays(
            [table.column(f.name).cast(f.type) for f in SCHEMA], schema=SCHEMA
        )
    except (KeyError, pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
        raise PartError(f"not the archive's schema: {e}") from None


def encode(table: pa.Table, rows_per_group: int) -> bytes:
    """One part's bytes: the rows sorted by player and time, zstd-compressed Parquet."""
    ordered = conform(table).sort_by([("player_id", "ascending"), ("event_time", "ascending")])
    sink = io.BytesIO()
    pq.write_table(
        ordered, sink, compression=COMPRESSION, row_group_size=rows_per_group,
        use_dictionary=_DICTIONARY, write_statistics=True,
    )  # fmt: skip
    return sink.getvalue()


def decode(data: bytes, columns: list[str] | None = None) -> pa.Table:
    """The rows of a part (only `columns` if given); PartError if it is not one."""
    try:
        table = pq.read_table(pa.BufferReader(data), columns=columns)
    except (pa.ArrowInvalid, OSError) as e:
        raise PartError(f"unreadable Parquet: {e}") from None
    expected = SCHEMA if columns is None else pa.schema([SCHEMA.field(c) for c in columns])
    if not table.schema.equals(expected):
        raise PartError(f"schema {table.schema} is not the archive's")
    return table


def without_player(table: pa.Table, player_id: str) -> pa.Table:
    """The rows of every player but one."""
    return table.filter(pc.invert(pc.equal(table.column("player_id"), player_id)))
