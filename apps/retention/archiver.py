"""Moving one game-day out of PostgreSQL: prepare (write and verify its parts), then commit
(catalog the day and delete its rows, in one transaction).

The catalog row is the commit record (apps/store/archived_days.py). `prepare`:

1. reads the parts the catalog lists for the day, checking each one's rows, bytes and
   event-id checksum (a mismatch is a `DayProblem`: reported, nothing deleted); their
   ids are the rows already archived (a restored day, or one a crash stopped after its
   commit's predecessor);
2. streams the day's rows from PostgreSQL, leaves out those already archived, and writes
   the rest as new parts, numbered after every object the day's folder holds (nothing
   is ever overwritten), each sorted by player and time;
3. writes the manifest (the catalog's parts and the new ones), then reads every new
   part back and checks its rows, bytes and checksum against what was written.

`commit` deletes the day's rows and event-id claims and catalogs the manifest, in one
transaction under the game's lock (SHARED, so an erasure cannot interleave), and only
if PostgreSQL still holds exactly the rows prepared: an erasure between the two makes
the count differ, the commit is refused (`Changed`), and the next pass starts over.
Objects of the day that the catalog does not list (a crashed pass's parts) are deleted
after the commit. Killed anywhere, a pass loses nothing (PostgreSQL keeps the rows until
the commit) and doubles nothing (the next one archives only rows not in catalogued parts).
"""

import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Final

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
from botocore.exceptions import ClientError
from psycopg.rows import TupleRow

from apps.archive import objects, parquet
from apps.archive.checksum import column_checksum
from apps.core import archive
from apps.core.archive import Manifest, ManifestError, Part
from apps.store import archived_days, game_lock, raw_events
from apps.store.archived_days import ArchivedDay

log = logging.getLogger(__name__)
_NO_IDS: Final = pa.array([], pa.string())


class DayProblem(Exception):
    """The day's files do not match its catalog or what was written: never delete."""

    def __init__(self, game_id: uuid.UUID, day: date, reason: str) -> None:
        super().__init__(f"game {game_id} day {day}: {reason}")
        self.game_id, self.day, self.reason = game_id, day, reason


class Changed(Exception):
    """PostgreSQL's rows changed between prepare and commit (an erasure): retried later."""


@dataclass(frozen=True, slots=True)
class Target:
    """Where parts go and how they are cut."""

    s3: Any
    bucket: str
    rows_per_part: int
    rows_per_group: int


@dataclass(slots=True)
class Prepared:
    game_id: uuid.UUID
    day: date
    manifest: Manifest
    pg_rows: int
    """Rows PostgreSQL held for the day when they were read: the commit's check."""
    new_parts: list[Part] = field(default_factory=list)
    leftovers: list[str] = field(default_factory=list)
    """Objects of the day's folder the manifest does not list (deleted after the commit)."""
    kept: tuple[Part, ...] = ()
    """The parts the catalog listed when the pass read it: the commit is refused if an
    erasure has since rewritten them."""
    folded_before: list[str] = field(default_factory=list)
    """Ids of the rows already in catalogued parts (a restored day): their players' totals
    were folded when they were first archived."""

    @property
    def first_time(self) -> bool:
        """No part of the day was catalogued before this pass."""
        return len(self.manifest.parts) == len(self.new_parts)

    @property
    def new_rows(self) -> int:
        return sum(p.rows for p in self.new_parts)

    @property
    def new_bytes(self) -> int:
        return sum(p.bytes for p in self.new_parts)


def read_part_ids(target: Target, game_id: uuid.UUID, day: date, part: Part) -> pa.Array:
    """The event ids of a catalogued part, checked against the catalog (DayProblem)."""
    try:
        data = objects.get_part(target.s3, target.bucket, game_id, day, part.name)
    except ClientError as e:
        if objects.missing(e):
            raise DayProblem(game_id, day, f"{part.name} is listed but missing") from None
        raise
    check_part(game_id, day, part, data)
    return parquet.decode(data, ["event_id"]).column("event_id").combine_chunks()


def check_part(game_id: uuid.UUID, day: date, part: Part, data: bytes) -> None:
    """DayProblem unless `data` is the part as listed: its bytes, and the rows and checksum
    of its event ids (only that column is decoded: a part is checked as it is written)."""
    if len(data) != part.bytes:
        raise DayProblem(game_id, day, f"{part.name} has {len(data)} bytes, listed {part.bytes}")
    try:
        ids = parquet.decode(data, ["event_id"]).column("event_id")
        checksum = column_checksum(ids)
    except (parquet.PartError, ValueError) as e:
        raise DayProblem(game_id, day, f"{part.name}: {e}") from None
    if len(ids) != part.rows or checksum != part.checksum:
        raise DayProblem(
            game_id, day,
            f"{part.name} holds {len(ids)} rows (event-id checksum {checksum}), the catalog"
            f" {part.rows} ({part.checksum})",
        )  # fmt: skip


def prepare(
    conn: psycopg.Connection[TupleRow], target: Target, game_id: uuid.UUID, day: date,
    committed: ArchivedDay | None, step: Callable[[str], None] = lambda name: None,
) -> Prepared:  # fmt: skip
    """Write and verify the day's parts (see the module docstring); nothing is deleted.
    `step` is told when the parts are uploaded and when the manifest is written."""
    if committed is not None and committed.problem is not None and not committed.in_postgres:
        # Archived and found not to match: only an operator can tell which copy is right.
        raise DayProblem(game_id, day, f"reported before: {committed.problem}")
    present = objects.day_objects(target.s3, target.bucket, game_id, day)
    kept = committed.parts if committed is not None else ()
    archived = [read_part_ids(target, game_id, day, p) for p in kept]
    already = pa.concat_arrays(archived) if archived else _NO_IDS
    numbers = [archive.part_number(n) for n in present]
    next_number = max([n for n in numbers if n is not None] + [-1]) + 1
    next_number = max(next_number, Manifest(game_id, day, kept, _now()).next_part())

    written: list[Part] = []
    pending: list[pa.RecordBatch] = []
    pending_rows = pg_rows = 0

    def flush(rows: int) -> None:
        nonlocal pending, pending_rows, next_number
        table = pa.Table.from_batches(pending)
        part, rest = table.slice(0, rows), table.slice(rows)
        name = archive.part_name(next_number)
        data = parquet.encode(part, target.rows_per_group)
        objects.put_part(target.s3, target.bucket, game_id, day, name, data)
        written.append(Part(name, part.num_rows, len(data), column_checksum(part["event_id"])))
        next_number += 1
        pending = rest.to_batches()
        pending_rows = rest.num_rows

    for batch in raw_events.stream_day(conn, game_id, day):
        pg_rows += batch.num_rows
        if len(already):
            batch = batch.filter(pc.invert(pc.is_in(batch.column("event_id"), already)))
        if batch.num_rows:
            pending.append(batch)
            pending_rows += batch.num_rows
        while pending_rows >= target.rows_per_part:
            flush(target.rows_per_part)
    if pending_rows:
        flush(pending_rows)
    conn.commit()  # the COPY's read-only transaction: nothing held while S3 is verified

    step("uploaded")
    manifest = Manifest(game_id, day, (*kept, *written), _now())
    if (
        written
        or archive.MANIFEST not in present
        or _listed(target, game_id, day) != manifest.parts
    ):
        objects.put_manifest(target.s3, target.bucket, manifest)
    step("manifest")
    for part in written:
        check_part(
            game_id, day, part, objects.get_part(target.s3, target.bucket, game_id, day, part.name)
        )
    listed = {p.name for p in manifest.parts} | {archive.MANIFEST}
    leftovers = sorted(set(present) - listed)
    return Prepared(
        game_id, day, manifest, pg_rows, written, leftovers, tuple(kept),
        already.to_pylist() if kept else [],
    )  # fmt: skip


def _listed(target: Target, game_id: uuid.UUID, day: date) -> tuple[Part, ...] | None:
    """The parts the day's manifest on S3 lists (None: none, or not readable)."""
    try:
        manifest = objects.get_manifest(target.s3, target.bucket, game_id, day)
    except ManifestError:
        return None
    return manifest.parts if manifest is not None else None


def _now() -> datetime:
    return datetime.now(UTC)


def commit(conn: psycopg.Connection[TupleRow], target: Target, prepared: Prepared) -> int:
    """Catalog the day as archived and delete its rows, in one transaction; the rows
    deleted. Raises Changed (and changes nothing) if PostgreSQL no longer holds exactly
    the rows prepared."""
    game_id, day = prepared.game_id, prepared.day
    with conn.transaction():
        conn.execute(game_lock.SHARED, (game_lock.NAMESPACE, [game_lock.game_key(game_id)]))
        check_unchanged(conn, prepared)
        deleted = raw_events.delete_day(conn, game_id, day, prepared.folded_before)
        if deleted != prepared.pg_rows:
            raise Changed(f"game {game_id} day {day}: {deleted} rows, {prepared.pg_rows} read")
        archived_days.record(conn, prepared.manifest, "archived")
    remove_leftovers(target, game_id, day, prepared.leftovers)
    return deleted


def check_unchanged(conn: psycopg.Connection[TupleRow], prepared: Prepared) -> None:
    """Changed unless the catalog still lists the parts `prepare` read (an erasure rewrites
    them under the game's lock: committing the old list would bring the player back)."""
    entry = archived_days.get(conn, prepared.game_id, prepared.day)
    if (entry.parts if entry is not None else ()) != prepared.kept:
        raise Changed(f"game {prepared.game_id} day {prepared.day}: parts rewritten meanwhile")


def remove_leftovers(target: Target, game_id: uuid.UUID, day: date, names: Iterable[str]) -> None:
    """Delete objects of the day that no catalogued manifest lists."""
    prefix = archive.day_prefix(game_id, day)
    objects.delete_keys(target.s3, target.bucket, (prefix + n for n in names))


def report(conn: psycopg.Connection[TupleRow], problem: DayProblem) -> None:
    """Record the problem in the catalog (and the log); the day stays where it is."""
    log.error("archive problem: %s", problem)
    with conn.transaction():
        archived_days.report_problem(conn, problem.game_id, problem.day, problem.reason)
