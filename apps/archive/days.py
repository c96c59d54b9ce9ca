"""Reading a catalogued day's parts back, checked against the catalog (the commit record).

A part is trusted only when its rows and event-id checksum are the ones the catalog
recorded for it: a restore or a rewrite of a part that does not match would bless
corruption (a rewritten part gets a new checksum), so both refuse the day instead.
"""

import uuid
from datetime import date
from typing import Any

import pyarrow as pa
from botocore.exceptions import ClientError

from apps.archive import objects, parquet
from apps.archive.checksum import column_checksum
from apps.core.archive import Part, part_number
from apps.core.errors import GameMetricsError


class DayMismatch(GameMetricsError):
    """A day's files are not what the catalog lists (missing, unreadable or different)."""


def fetch(s3: Any, bucket: str, game_id: uuid.UUID, day: date, part: Part) -> bytes:
    """A listed part's bytes; DayMismatch naming the day and part when it is gone."""
    try:
        return objects.get_part(s3, bucket, game_id, day, part.name)
    except ClientError as e:
        if objects.missing(e):
            raise DayMismatch(f"day {day} of game {game_id}: {part.name} is missing") from None
        raise


def checked(game_id: uuid.UUID, day: date, part: Part, data: bytes) -> pa.Table:
    """The part's rows, if they are the rows and checksum the catalog lists; DayMismatch
    naming the day and part otherwise."""
    where = f"day {day} of game {game_id}: {part.name}"
    try:
        table = parquet.decode(data)
    except parquet.PartError as e:
        raise DayMismatch(f"{where}: {e}") from None
    if table.num_rows != part.rows:
        raise DayMismatch(f"{where} holds {table.num_rows} rows, the catalog {part.rows}")
    checksum = column_checksum(table.column("event_id"))
    if checksum != part.checksum:
        raise DayMismatch(f"{where}: event-id checksum {checksum}, the catalog {part.checksum}")
    return table


def read(s3: Any, bucket: str, game_id: uuid.UUID, day: date, part: Part) -> pa.Table:
    """`fetch` then `checked`."""
    return checked(game_id, day, part, fetch(s3, bucket, game_id, day, part))


def next_number(listed: tuple[Part, ...], present: dict[str, int]) -> int:
    """A part number past every part listed and every object present (a leftover of a
    crashed run is never overwritten while something may still read it)."""
    names = [p.name for p in listed] + list(present)
    numbers = [n for n in map(part_number, names) if n is not None]
    return max(numbers, default=-1) + 1
