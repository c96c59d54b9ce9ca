"""Erasing one player from a game's archive: every listed part that holds them is rewritten
without them, and the rollups lose what their archived events added.

Per catalogued day (the catalog in PostgreSQL is the commit record, apps/core/archive.py):

1. find the listed parts holding the player (their footers and player_id chunks, by
   ranged GETs); read each whole, check it against the catalog, and write it again
   without the player under a NEW part number (nothing listed changes);
2. under the game's lock EXCLUSIVE (held at session level through step 3), in ONE
   transaction: check the catalog row is still the one read in step 1 (else start the
   day again), take the erased archived events out of the shared rollups (the same
   statements as PostgreSQL's erasure, apps/store/erasure.py, over `erased_events`) when
   the day is `archived` (a restored or pending day's rows are in PostgreSQL, whose
   eraser takes them out), and record the day's new parts;
3. still under the lock: write the manifest the catalog lists, and delete the parts it
   replaced and every unlisted part that holds the player (what a killed run left).

Killed anywhere, a rerun is correct: before step 2 commits nothing listed changed and
the rerun starts over (the parts the killed run wrote hold no row of the player; they
are unlisted leftovers the retention pass sweeps); after, the listed parts no longer
hold the player, so the rerun subtracts nothing and only finishes step 3. Unlisted
objects that do not hold the player are never deleted here: one may be a retention
pass's part, written and not yet committed.
The player's own rows (players, player_days, live_players) are PostgreSQL's eraser's.
"""

import logging
import uuid
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any, Final

import psycopg
import pyarrow as pa
from botocore.exceptions import ClientError
from psycopg.rows import TupleRow

from apps.archive import days, objects, parquet, players
from apps.archive.checksum import column_checksum
from apps.archive.ranged import RangedPart
from apps.core.archive import Manifest, ManifestError, Part, day_prefix, part_name, part_number
from apps.core.erasers import Erasers
from apps.core.errors import GameMetricsError
from apps.core.settings.s3 import S3Settings
from apps.s3.client import client
from apps.store import archived_days, erasure, game_lock
from apps.store.archived_days import ArchivedDay
from apps.store.live import LIVE_KEPT

log = logging.getLogger(__name__)

ARCHIVE: Final = "archive"
"""The archive eraser's name in `apps.core.erasers.Erasers` (after PostgreSQL's)."""
ATTEMPTS: Final = 5
"""Tries of a day whose catalog row a retention pass changed under the eraser."""
_ERASED_COLUMNS: Final = (
    "event_id", "event_type", "event_time", "received_at", "platform", "country",
    "app_version", "duration_seconds", "amount", "currency",
)  # fmt: skip
_SEGMENT: Final = frozenset({"platform", "country", "app_version"})
"""Keyed as '' where the event had none, as the rollups key them."""


class ArchiveErasureFailed(GameMetricsError):
    """Days of the archive the player could not be erased from (each named, with why);
    the other days were erased, and running the erasure again retries these."""


def erase_player(
    conn: psycopg.Connection[TupleRow], s3: Any, bucket: str, game_id: uuid.UUID,
    player_id: str,
) -> dict[str, int]:  # fmt: skip
    """Erase the player from every catalogued day of the game; the counts for the receipt:
    `archived_events` (rows removed from listed parts) and `archive_days` (days rewritten).

    `conn`: autocommit, no transaction open. Blocks on the game's lock (while a retention
    pass or a batch of the game holds it). Raises ArchiveErasureFailed naming the days
    whose files do not match the catalog or have a problem reported; S3's and
    PostgreSQL's errors as they come."""
    removed = rewritten = 0
    failed: dict[date, str] = {}
    for entry in archived_days.of_game(conn, game_id):
        try:
            n = _erase_day(conn, s3, bucket, game_id, entry.event_date, player_id)
        except (days.DayMismatch, _DayRefused) as e:
            failed[entry.event_date] = str(e)
            continue
        removed += n
        rewritten += n > 0
    if failed:
        named = "; ".join(f"{d}: {why}" for d, why in sorted(failed.items()))
        raise ArchiveErasureFailed(
            f"the player is still in {len(failed)} archived day(s) of game {game_id}: {named}"
        )
    return {"archived_events": removed, "archive_days": rewritten}


class _DayRefused(GameMetricsError):
    pass


class _Changed(Exception):
    """The catalog row changed between reading the parts and the transaction."""


def _erase_day(
    conn: psycopg.Connection[TupleRow], s3: Any, bucket: str, game_id: uuid.UUID, day: date,
    player_id: str,
) -> int:  # fmt: skip
    for _ in range(ATTEMPTS):
        entry = archived_days.get(conn, game_id, day)
        if entry is None:
            return 0
        if entry.problem is not None:
            raise _DayRefused(f"a problem is reported ({entry.problem}); repair the day first")
        try:
            return _rewrite(conn, s3, bucket, entry, player_id)
        except _Changed:
            log.info("archive eraser: the catalog of %s/%s changed; reading it again", game_id, day)
    raise _DayRefused(f"its catalog row kept changing ({ATTEMPTS} tries)")


def _rewrite(
    conn: psycopg.Connection[TupleRow], s3: Any, bucket: str, entry: ArchivedDay, player_id: str
) -> int:
    game_id, day = entry.game_id, entry.event_date
    present = objects.day_objects(s3, bucket, game_id, day)
    residue = _residue(s3, bucket, entry, present, player_id)
    number = days.next_number(entry.parts, present)
    parts: list[Part] = []
    gone: list[pa.Table] = []
    for part in entry.parts:
        if not players.listed_part_holds(s3, bucket, game_id, day, part, player_id):
            parts.append(part)
            continue
        data = days.fetch(s3, bucket, game_id, day, part)
        table = days.checked(game_id, day, part, data)
        gone.append(players.rows_of(table, player_id))
        kept = parquet.without_player(table, player_id)
        if kept.num_rows == 0:
            continue  # the part held only the player: the day lists it no more
        encoded = parquet.encode(kept, players.group_rows(data))
        name = part_name(number)
        number += 1
        objects.put_part(s3, bucket, game_id, day, name, encoded)
        parts.append(Part(name, kept.num_rows, len(encoded), column_checksum(kept["event_id"])))
    if not gone and not residue:
        return 0
    removed = sum(int(t.num_rows) for t in gone)
    manifest = Manifest(game_id, day, tuple(parts), datetime.now(UTC))
    with game_lock.held(conn, game_id, exclusive=True):
        with conn.transaction():
            now = archived_days.get(conn, game_id, day)
            if now is None or (now.state, now.parts) != (entry.state, entry.parts):
                raise _Changed
            if removed:
                _subtract(conn, game_id, entry, gone)
                archived_days.record(conn, manifest, entry.state, entry.restored_until)
        replaced = [p.name for p in entry.parts if p not in manifest.parts]
        if removed or _lists_any(s3, bucket, entry, residue):
            objects.put_manifest(s3, bucket, manifest if removed else _listed(entry))
        prefix = day_prefix(game_id, day)
        objects.delete_keys(s3, bucket, (prefix + n for n in [*replaced, *residue]))
    return removed


def _residue(
    s3: Any, bucket: str, entry: ArchivedDay, present: Mapping[str, int], player_id: str
) -> list[str]:
    """Parts of the day the catalog does not list that hold the player: those an earlier
    run replaced and was killed before deleting, or a retention pass's uncommitted part
    whose commit will be refused (PostgreSQL's eraser deleted the rows it read). Other
    unlisted objects may be a pass's work in progress, and are left to the pass."""
    listed = {p.name for p in entry.parts}
    found = []
    for name, size in present.items():
        if name in listed or part_number(name) is None:
            continue
        source = RangedPart(s3, bucket, entry.game_id, entry.event_date, name, size)
        try:
            if players.holds(source, player_id):
                found.append(name)
        except (pa.ArrowInvalid, OSError, ClientError):
            continue  # not a whole Parquet file (being written, or gone meanwhile)
    return found


def _listed(entry: ArchivedDay) -> Manifest:
    return Manifest(entry.game_id, entry.event_date, entry.parts, datetime.now(UTC))


def _lists_any(s3: Any, bucket: str, entry: ArchivedDay, names: list[str]) -> bool:
    """Whether the day's manifest on S3 lists one of `names` (or cannot be read)."""
    try:
        manifest = objects.get_manifest(s3, bucket, entry.game_id, entry.event_date)
    except ManifestError:
        return True
    return manifest is not None and any(p.name in names for p in manifest.parts)


def _subtract(
    conn: psycopg.Connection[TupleRow], game_id: uuid.UUID, entry: ArchivedDay,
    gone: list[pa.Table],
) -> None:  # fmt: skip
    """Take the removed rows out of the rollups if PostgreSQL no longer holds the day (a
    restored or pending day's rows are there: PostgreSQL's eraser took them out)."""
    cur = conn.cursor()
    erasure.bump_version(cur, game_id)
    if entry.in_postgres:
        return
    erasure.prepare(cur)
    with cur.copy(f"COPY erased_events ({', '.join(_ERASED_COLUMNS)}) FROM STDIN") as copy:
        for table in gone:
            for row in table.select(list(_ERASED_COLUMNS)).to_pylist():
                copy.write_row(
                    [("" if v is None else v) if k in _SEGMENT else v for k, v in row.items()]
                )
    cur.execute("ANALYZE erased_events")
    erasure.subtract(cur, {"game": game_id, "live_kept": LIVE_KEPT, **erasure.NO_COHORT})


class ArchiveEraser:
    """`erase_player` as an `apps.core.erasers.Eraser`: a connection of its own per call,
    and S3 only for a game that has catalogued days."""

    def __init__(self, dsn: str, s3: S3Settings, bucket: str, connect_timeout: float = 5) -> None:
        self._dsn, self._s3_settings, self._bucket = dsn, s3, bucket
        self._connect_timeout = connect_timeout
        self._s3: Any = None

    def __call__(self, game_id: uuid.UUID, player_id: str) -> Mapping[str, int]:
        with psycopg.connect(
            self._dsn, autocommit=True, connect_timeout=int(self._connect_timeout)
        ) as conn:
            if not archived_days.of_game(conn, game_id):
                return {"archived_events": 0, "archive_days": 0}
            if self._s3 is None:
                self._s3 = client(self._s3_settings)
            return erase_player(conn, self._s3, self._bucket, game_id, player_id)


def register_archive(erasers: Erasers, dsn: str, s3: S3Settings, bucket: str) -> None:
    """Register the archive's eraser (under ARCHIVE), after PostgreSQL's."""
    erasers.register(ARCHIVE, ArchiveEraser(dsn, s3, bucket))
