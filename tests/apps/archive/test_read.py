"""apps/archive/read.py against the real local S3: exactly the catalog's parts, only the
columns asked for, the filter applied; expiry is by the game's archive_days."""

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from apps.archive import objects
from apps.archive.checksum import column_checksum
from apps.archive.parquet import SCHEMA, encode
from apps.archive.read import ArchiveReader, to_read
from apps.core.archive import Part, combine, part_name
from apps.local.servers import EmbeddedS3
from apps.store.archived_days import ArchivedDay, DayState
from tests.support.archive import Bucketed

DAY = date(2026, 3, 10)
T0 = datetime(2026, 3, 10, 12, tzinfo=UTC)


def rows(players: list[str], types: list[str]) -> pa.Table:
    n = len(players)
    columns: dict[str, pa.Array] = {f.name: pa.nulls(n, f.type) for f in SCHEMA}
    columns.update(
        event_id=pa.array([str(uuid.uuid4()) for _ in range(n)]),
        event_type=pa.array(types), player_id=pa.array(players),
        event_time=pa.array([T0 + timedelta(seconds=i) for i in range(n)], SCHEMA.field(
            "event_time").type),
        properties=pa.array(["{}"] * n),
    )  # fmt: skip
    for name in ("client_time", "received_at"):
        columns[name] = columns["event_time"]
    return pa.table([columns[f.name] for f in SCHEMA], schema=SCHEMA)


def catalogued(game: uuid.UUID, parts: list[Part], day: date = DAY) -> ArchivedDay:
    return ArchivedDay(
        game, day, "archived", sum(p.rows for p in parts), sum(p.bytes for p in parts),
        combine(p.checksum for p in parts), tuple(parts), T0, None, None,
    )  # fmt: skip


def put(bucket: Bucketed, game: uuid.UUID, number: int, table: pa.Table) -> Part:
    data = encode(table, 2)
    objects.put_part(bucket.s3, bucket.name, game, DAY, part_name(number), data)
    return Part(part_name(number), table.num_rows, len(data), column_checksum(table["event_id"]))


@pytest.fixture(scope="module")
def bucket(s3: EmbeddedS3) -> Bucketed:
    return Bucketed(s3.settings)


def test_reads_the_listed_parts_only_the_columns_asked_and_the_filter(bucket: Bucketed) -> None:
    game = uuid.uuid4()
    first = put(bucket, game, 0, rows(["p1", "p2", "p3"], ["a", "b", "a"]))
    second = put(bucket, game, 1, rows(["p4", "p5"], ["a", "c"]))
    put(bucket, game, 2, rows(["leftover"], ["a"]))  # a crashed pass's: not in the catalog
    reader = ArchiveReader(bucket.settings, bucket.name)
    day = catalogued(game, [first, second])
    where = pc.field("event_type") == "a"
    found = reader.read(game, [day], ["player_id"], where)
    assert found.schema == pa.schema([SCHEMA.field("player_id")])
    assert sorted(found["player_id"].to_pylist()) == ["p1", "p3", "p4"]
    assert reader.read(game, [day], ["player_id", "event_type"]).num_rows == 5
    empty = reader.read(game, [catalogued(game, [])], ["event_time"])
    assert empty.num_rows == 0
    assert empty.schema == pa.schema([SCHEMA.field("event_time")])
    with pytest.raises(ValueError, match="a day of game"):
        reader.read(uuid.uuid4(), [day], ["player_id"])


def test_only_archived_days_within_archive_days_are_read() -> None:
    game = uuid.uuid4()
    today = date(2026, 12, 7)
    states: tuple[tuple[int, DayState], ...] = (
        (101, "archived"), (100, "archived"), (50, "restored"), (40, "pending"),
    )  # fmt: skip
    days = [
        replace(catalogued(game, [], today - timedelta(days=age)), state=state)
        for age, state in states
    ]
    assert [d.event_date for d in to_read(days, 100, today)] == [today - timedelta(days=100)]
    assert [d.event_date for d in to_read(days, 101, today)] == [
        today - timedelta(days=101), today - timedelta(days=100),
    ]  # fmt: skip
    assert to_read(days, 0, today) == []  # a game that never archives keeps nothing there
