"""Finding a player in a part on S3 reads its footer and a few player_id chunks, not the
part; a part that is gone or not Parquet is named."""

import re
import uuid
from datetime import date
from typing import Any

import pyarrow as pa
import pytest

from apps.archive import objects, parquet
from apps.archive.days import DayMismatch
from apps.archive.players import holds, listed_part_holds
from apps.archive.ranged import RangedPart
from apps.core.archive import Part, id_checksum
from apps.local.servers import EmbeddedS3
from tests.support.archiving import BUCKET, archive_s3

DAY = date(2026, 1, 2)


@pytest.fixture(scope="module")
def store(s3: EmbeddedS3) -> Any:
    return archive_s3(s3.settings)


def part_table(players: int, per_player: int) -> pa.Table:
    n = players * per_player
    at = pa.array([1_700_000_000_000_000 + i for i in range(n)], pa.int64()).cast(
        pa.timestamp("us", tz="UTC")
    )
    ids = [str(uuid.uuid4()) for _ in range(n)]
    columns: dict[str, Any] = {
        "event_id": ids, "event_type": ["design"] * n,
        "player_id": [f"player-{i // per_player:05d}" for i in range(n)],
        "session_id": [None] * n, "event_time": at, "client_time": at, "received_at": at,
        "platform": ["ios"] * n, "country": ["DE"] * n, "app_version": ["1"] * n,
        "properties": ['{"noise": "' + uuid.uuid4().hex * 3 + '"}' for _ in range(n)],
        "duration_seconds": [None] * n, "amount": [None] * n, "currency": [None] * n,
        "item_id": [None] * n, "level": [None] * n, "status": [None] * n,
    }  # fmt: skip
    return parquet.conform(pa.table(columns))


def put(store: Any, game_id: uuid.UUID, table: pa.Table, name: str = "part-0.parquet") -> Part:
    data = parquet.encode(table, 1000)
    objects.put_part(store, BUCKET, game_id, DAY, name, data)
    return Part(name, table.num_rows, len(data), id_checksum(table["event_id"].to_pylist()))


def test_a_player_is_found_reading_a_small_share_of_the_part(store: Any) -> None:
    game_id = uuid.uuid4()
    table = part_table(players=5000, per_player=10)
    part = put(store, game_id, table)
    ranged = RangedPart(store, BUCKET, game_id, DAY, part.name, part.bytes)

    assert holds(ranged, "player-01234")

    assert ranged.fetched < part.bytes / 10, (ranged.fetched, part.bytes)
    assert not listed_part_holds(store, BUCKET, game_id, DAY, part, "player-99999")
    assert not listed_part_holds(store, BUCKET, game_id, DAY, part, "nobody")
    assert listed_part_holds(store, BUCKET, game_id, DAY, part, "player-00000")
    assert listed_part_holds(store, BUCKET, game_id, DAY, part, "player-04999")


def test_a_missing_or_broken_part_is_named(store: Any) -> None:
    game_id = uuid.uuid4()
    part = put(store, game_id, part_table(players=3, per_player=2))
    gone = Part("part-7.parquet", 1, 100, part.checksum)
    with pytest.raises(
        DayMismatch, match=f"day {DAY} of game {game_id}: part-7.parquet is missing"
    ):
        listed_part_holds(store, BUCKET, game_id, DAY, gone, "player-00000")
    objects.put_part(store, BUCKET, game_id, DAY, "part-8.parquet", b"not parquet at all " * 10)
    broken = Part("part-8.parquet", 1, 190, part.checksum)
    with pytest.raises(DayMismatch, match=re.escape("part-8.parquet: unreadable Parquet")):
        listed_part_holds(store, BUCKET, game_id, DAY, broken, "player-00000")
    longer = Part(part.name, part.rows, part.bytes + 500, part.checksum)
    with pytest.raises(DayMismatch, match=re.escape("part-0.parquet")):
        listed_part_holds(store, BUCKET, game_id, DAY, longer, "player-00000")
