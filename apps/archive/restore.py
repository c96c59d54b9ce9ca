"""Bringing one archived game-day back into PostgreSQL (`gamemetrics archive restore`).

The day's listed parts are read and checked against the catalog before anything is
written (a part that does not match refuses the day, naming it); then ONE transaction
stores the rows whose event ids are not stored yet (`raw_events.restore`) and marks the
day `restored` until a deadline, after which the retention pass moves it out again.
Run twice, or after a kill, it stores nothing twice: the event ids are claimed in
`event_keys`, and a day already restored is left as it is.

The game's lock is held SHARED (session level) for the whole day, so a player's erasure
(EXCLUSIVE) never interleaves: it erases either before the rows come back (and the parts
no longer hold the player) or after (and PostgreSQL's eraser finds the rows).
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

import psycopg
import pyarrow as pa
from psycopg.rows import TupleRow

from apps.archive import days
from apps.archive.parquet import SCHEMA
from apps.core.archive import Manifest
from apps.store import archived_days, game_lock, raw_events

Outcome = Literal["restored", "in postgres", "not catalogued", "refused"]
PrepareDay = Callable[[psycopg.Connection[TupleRow], date], None]
"""Makes the day's partition of `events` exist (the CLI passes the processor's Partitions)."""


@dataclass(frozen=True, slots=True)
class Restored:
    outcome: Outcome
    stored: int = 0
    """Rows stored by this run (0 when PostgreSQL held them all already)."""
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "stored": self.stored, "reason": self.reason}


def restore_day(
    conn: psycopg.Connection[TupleRow], s3: Any, bucket: str, game_id: uuid.UUID, day: date,
    keep: timedelta, prepare: PrepareDay,
) -> Restored:  # fmt: skip
    """Restore the day if the catalog has it `archived`. `conn`: autocommit, no transaction
    open. A day whose files do not match the catalog, or with a problem reported, is
    `refused` (the reason names the day). S3's and PostgreSQL's errors propagate."""
    with game_lock.held(conn, game_id, exclusive=False):
        entry = archived_days.get(conn, game_id, day)
        if entry is None:
            return Restored("not catalogued")
        if entry.in_postgres:
            return Restored("in postgres")
        if entry.problem is not None:
            return Restored("refused", reason=f"day {day}: a problem is reported: {entry.problem}")
        try:
            tables = [days.read(s3, bucket, game_id, day, part) for part in entry.parts]
        except days.DayMismatch as e:
            return Restored("refused", reason=str(e))
        prepare(conn, day)
        table = pa.concat_tables(tables) if tables else SCHEMA.empty_table()
        now = datetime.now(UTC)
        with conn.transaction():
            again = archived_days.get(conn, game_id, day)
            if again is None or (again.state, again.parts) != (entry.state, entry.parts):
                return Restored("refused", reason=f"day {day}: its catalog changed meanwhile")
            stored = raw_events.restore(conn, game_id, table) if table.num_rows else 0
            manifest = Manifest(game_id, day, entry.parts, now)
            archived_days.record(conn, manifest, "restored", restored_until=now + keep)
    return Restored("restored", stored)
