"""Archiving game-days the way the retention pass does, for tests of the archive's readers,
restore and eraser: PostgreSQL rows -> Parquet parts on S3 -> manifest -> catalog
`archived` and the rows deleted, in one transaction. Also the checks those tests make:
rollups against a recomputation from PostgreSQL and the archive together, and the S3
side against the catalog.

(Branch `reads` has a similar tests/support/archive.py; the lead reconciles them.)
"""

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

import psycopg
import pyarrow as pa
import pyarrow.compute as pc

from apps.archive import objects, parquet
from apps.archive.checksum import column_checksum
from apps.core import archive
from apps.core.archive import Manifest
from apps.processor.partitions import Partitions
from apps.processor.records import Row
from apps.processor.store import BatchWriter
from apps.s3.client import client, ensure_buckets
from apps.store import archived_days, raw_events
from apps.store.archived_days import ArchivedDay
from tests.support import archive as support
from tests.support.recompute import PAIRS

BUCKET: Final = "test-archive"


def archive_s3(settings: Any) -> Any:
    """A client of the test store, with BUCKET made."""
    s3 = client(settings)
    ensure_buckets(s3, [BUCKET])
    return s3


def write_rows(dsn: str, rows: Sequence[Row]) -> None:
    """Store rows as the processor does (events, event_keys and every rollup)."""
    with psycopg.connect(dsn) as conn:
        BatchWriter(conn, Partitions()).write(rows)


def archive_day(
    dsn: str, s3: Any, game_id: uuid.UUID, day: date, rows_per_part: int = 1000,
    rows_per_group: int = 50, bucket: str = BUCKET,
) -> Manifest:  # fmt: skip
    """Archive one game-day in parts of `rows_per_part` rows (tests/support/archive.py)."""
    return support.archive_day(
        dsn, s3, bucket, game_id, day, rows_per_part=rows_per_part, rows_per_group=rows_per_group
    )


def archived_rows(
    s3: Any, game_id: uuid.UUID, entry: ArchivedDay, bucket: str = BUCKET
) -> pa.Table:
    """Every row of the day's listed parts."""
    tables = [
        parquet.decode(objects.get_part(s3, bucket, game_id, entry.event_date, p.name))
        for p in entry.parts
    ]
    return pa.concat_tables(tables) if tables else parquet.SCHEMA.empty_table()


def rollups_against_everything(
    dsn: str, s3: Any, game_id: uuid.UUID, bucket: str = BUCKET
) -> dict[str, tuple[list[Any], list[Any]]]:
    """Each rollup whose rows differ from a recomputation from the events PostgreSQL holds
    and those the archive lists (archived days' rows put back in a transaction that is
    rolled back): {name: (kept, recomputed)}."""
    differences = {}
    with psycopg.connect(dsn) as conn:
        days = [d for d in archived_days.of_game(conn, game_id) if d.state == "archived"]
        tables = [archived_rows(s3, game_id, d, bucket) for d in days]
        with conn.transaction(force_rollback=True):
            for table in tables:
                if table.num_rows:
                    raw_events.restore(conn, game_id, table)
                    conn.execute("DROP TABLE restoring")
            for name, (kept_sql, recomputed_sql) in PAIRS.items():
                kept = conn.execute(kept_sql, (game_id,)).fetchall()
                recomputed = conn.execute(recomputed_sql, (game_id,)).fetchall()
                if kept != recomputed:
                    differences[name] = (kept, recomputed)
    return differences


def s3_disagreements(
    dsn: str, s3: Any, game_id: uuid.UUID, bucket: str = BUCKET, leftovers: bool = False
) -> list[str]:
    """Where S3 does not say what the catalog says: a manifest that lists other parts, an
    object not listed (unless `leftovers` are allowed), a listed part missing or not
    matching its rows and checksum."""
    found = []
    with psycopg.connect(dsn) as conn:
        entries = archived_days.of_game(conn, game_id)
    for entry in entries:
        day = entry.event_date
        manifest = objects.get_manifest(s3, bucket, game_id, day)
        if manifest is None or manifest.parts != entry.parts:
            found.append(f"{day}: the manifest lists {manifest and manifest.parts}")
        present = set(objects.day_objects(s3, bucket, game_id, day))
        listed = {p.name for p in entry.parts}
        if not listed <= present or (not leftovers and present != listed | {archive.MANIFEST}):
            found.append(f"{day}: objects {sorted(present)}, listed {sorted(listed)}")
        for part in entry.parts:
            if part.name not in present:
                continue
            table = parquet.decode(objects.get_part(s3, bucket, game_id, day, part.name))
            if (table.num_rows, column_checksum(table["event_id"])) != (part.rows, part.checksum):
                found.append(f"{day}: {part.name} does not match the catalog")
    return found


def player_in_archive(s3: Any, dsn: str, game_id: uuid.UUID, player_id: str) -> int:
    """Rows of the player in the listed parts of every catalogued day."""
    with psycopg.connect(dsn) as conn:
        entries = archived_days.of_game(conn, game_id)
    return sum(
        int(pc.sum(pc.equal(archived_rows(s3, game_id, e)["player_id"], player_id)).as_py() or 0)
        for e in entries
    )


def events_row(
    game_id: uuid.UUID, player_id: str, at: datetime, kind: str, *, platform: str | None = "ios",
    country: str | None = "DE", received: datetime | None = None,
) -> Row:  # fmt: skip
    """One stored event as the processor's row (a purchase and a session_end carry values),
    received now unless `received` says (the live tables count it)."""
    return (
        game_id, uuid.uuid4(), kind, player_id, f"s-{player_id}", at, at,
        received or datetime.now(UTC),
        platform, country, "1.0.0", '{"k": 1}', 120.5 if kind == "session_end" else None,
        2.5 if kind == "purchase" else None, "EUR" if kind == "purchase" else None,
        "sword" if kind == "purchase" else None, None, None,
    )  # fmt: skip


def history(game_id: uuid.UUID, first: date, days: int, players: Sequence[str]) -> list[Row]:
    """A few events a day for each player: sessions, purchases, design events; the received
    times are recent, so the live tables hold them too."""
    kinds = ("session_start", "design", "purchase", "session_end")
    now = datetime.now(UTC)
    rows = []
    for d in range(days):
        start = datetime.combine(first + timedelta(days=d), datetime.min.time(), UTC)
        for i, who in enumerate(players):
            for k, kind in enumerate(kinds[: 2 + (i + d) % 3]):
                at = start + timedelta(hours=1 + i, minutes=k)
                rows.append(events_row(game_id, who, at, kind, platform=("ios", None)[i % 2],
                                       received=now - timedelta(seconds=i + k)))  # fmt: skip
    return rows


def player_in_objects(s3: Any, game_id: uuid.UUID, player_id: str, bucket: str = BUCKET) -> int:
    """Rows of the player in every part object of the game's folders, listed or not (what
    Athena, reading whole folders, would find)."""
    total = 0
    for day in objects.archived_days(s3, bucket, game_id):
        for name in objects.day_objects(s3, bucket, game_id, day):
            if archive.part_number(name) is None:
                continue
            ids = parquet.decode(objects.get_part(s3, bucket, game_id, day, name), ["player_id"])
            total += int(pc.sum(pc.equal(ids["player_id"], player_id)).as_py() or 0)
    return total
