"""funnel and eventCounts over archived days: the answers before and after the days move
to the archive (real PostgreSQL, the real local S3) are the same; a day that cannot be
read fails naming it; another game's archive is neither read nor touched."""

import uuid
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import psycopg
import pytest

from apps.analytics.queries import event_counts, funnel
from apps.analytics.queries.archived import Archive, today
from apps.analytics.results import EventCount, FunnelStep
from apps.archive.errors import ArchiveUnavailable, DayUnreadable
from apps.archive.parquet import decode, encode
from apps.archive.read import ArchiveReader
from apps.core import archive as layout
from apps.core.periods import ANY_SEGMENT, Bucket, Segment
from apps.local.process import free_port
from apps.store import archived_days
from tests.apps.analytics.queries.conftest import Store
from tests.apps.analytics.queries.rows import at, event
from tests.support.archive import Bucketed, restore_day
from tests.support.servers import Endpoints

pytestmark = pytest.mark.anyio
Conn = psycopg.AsyncConnection[Any]
D10, D11, D12 = date(2026, 3, 10), date(2026, 3, 11), date(2026, 3, 12)
SEGMENTS = (
    ANY_SEGMENT, Segment(platform=""), Segment(platform="ios"), Segment(country="DE"),
    Segment(platform="", country=""), Segment(platform="ios", app_version="1.0"),
)  # fmt: skip
FUNNELS: tuple[tuple[list[str], int], ...] = (
    (["a", "b", "c"], 2 * 86400),
    (["a", "b"], 3600),
    (["a", "b", "a"], 86400),
    (["b", "c"], 0),
)


def write_journeys(store: Store, game: uuid.UUID) -> None:
    """Chains that start on D10 and end on D11 or D12, equal times, repeated types, and
    segment values NULL, '' and set."""
    e = event
    store.write(
        # p1: a on D10, b and c on D11: crosses the boundary when only D10 is archived
        e(game, "a", "p1", "2026-03-10T22:00:00", platform="ios", country="DE"),
        e(game, "b", "p1", "2026-03-11T01:00:00", platform="ios", country="DE"),
        e(game, "c", "p1", "2026-03-11T20:00:00", platform="ios", country="DE"),
        # p2: everything on D10, a NULL platform
        e(game, "a", "p2", "2026-03-10T08:00:00", country="DE"),
        e(game, "b", "p2", "2026-03-10T08:00:00", country="DE"),  # the same instant
        e(game, "a", "p2", "2026-03-10T08:30:00"),
        e(game, "c", "p2", "2026-03-10T09:00:00"),
        # p3: starts on D11, its later steps on D12 (past `last` when asked for D10..D11)
        e(game, "a", "p3", "2026-03-11T23:59:59.999999", platform=""),
        e(game, "b", "p3", "2026-03-12T00:00:00", platform=""),
        e(game, "c", "p3", "2026-03-12T00:30:00", platform="ios"),
        # p4: b and c on D10, a only on D11: b before a does not count
        e(game, "b", "p4", "2026-03-10T10:00:00", platform="ios", app_version="1.0"),
        e(game, "a", "p4", "2026-03-11T10:00:00", platform="ios", app_version="1.0"),
        e(game, "b", "p4", "2026-03-11T10:20:00", platform="ios", app_version="1.0"),
        e(game, "c", "p4", "2026-03-10T11:00:00", platform="ios", app_version="1.0"),
        # p5: only b and c, on D10
        e(game, "b", "p5", "2026-03-10T00:00:00", platform=""),
        e(game, "c", "p5", "2026-03-10T00:00:00", platform=""),
        # p6: an a on D09 (before the range), b on D10
        e(game, "a", "p6", "2026-03-09T23:00:00"),
        e(game, "b", "p6", "2026-03-10T00:10:00"),
    )


async def funnels(conn: Conn, game: uuid.UUID, archive: Archive | None) -> list[list[FunnelStep]]:
    out: list[list[FunnelStep]] = []
    for steps, window in FUNNELS:
        for segment in SEGMENTS:
            for first, last in ((D10, D10), (D10, D11), (D11, D12), (D10, D12)):
                out.append(await funnel(conn, game, first, last, steps, window, segment, archive))
    return out


async def raw_rows(conn: Conn, game: uuid.UUID) -> int:
    cur = await conn.execute("SELECT count(*) FROM events WHERE game_id = %s", (game,))
    row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def test_funnel_answers_the_same_with_days_archived(
    store: Store, game: uuid.UUID, conn: Conn, endpoints: Endpoints, bucket: Bucketed
) -> None:
    write_journeys(store, game)
    before = await funnels(conn, game, None)
    assert any(s.users for steps in before for s in steps)
    bucket.archive(endpoints.postgres_dsn, game, D10)  # p1's chain now crosses into PG
    assert await raw_rows(conn, game) == 8  # D10's 10 rows left PostgreSQL
    archive = bucket.reader()
    assert await funnels(conn, game, archive) == before
    bucket.archive(endpoints.postgres_dsn, game, D12, parts=1)
    bucket.archive(endpoints.postgres_dsn, game, D11, parts=3)
    assert await funnels(conn, game, archive) == before
    # Restored days are read from PostgreSQL again, and not twice.
    restore_day(endpoints.postgres_dsn, bucket.s3, bucket.name, game, D11)
    assert await funnels(conn, game, archive) == before


async def test_expired_archived_days_are_empty(
    store: Store, game: uuid.UUID, conn: Conn, endpoints: Endpoints, bucket: Bucketed
) -> None:
    write_journeys(store, game)
    bucket.archive(endpoints.postgres_dsn, game, D10)
    # The default archive_days (730) counts from the day: on D10 + 731 it is more than 730
    # days old and has expired, the day before it has not (as retention deletes it).
    steps = ["a", "b"]
    kept = replace(bucket.reader(), today=D10 + timedelta(days=730))
    gone = replace(kept, today=D10 + timedelta(days=731))
    held = await funnel(conn, game, D10, D10, steps, 3600, ANY_SEGMENT, kept)
    assert [s.users for s in held] == [2, 1]
    assert [s.users for s in await funnel(conn, game, D10, D10, steps, 3600, ANY_SEGMENT, gone)
            ] == [0, 0]  # fmt: skip


def write_counts(store: Store, game: uuid.UUID) -> None:
    times = {
        "2026-03-10T10:00:10": "b", "2026-03-10T10:00:30": "b", "2026-03-10T10:00:40": "a",
        "2026-03-10T10:05:00": "b", "2026-03-10T10:05:59.999999": "b", "2026-03-10T11:59:59": "a",
        "2026-03-10T12:00:05": "b", "2026-03-10T12:00:15": "b", "2026-03-10T12:00:20": "a",
        "2026-03-10T23:59:40": "a", "2026-03-10T23:59:59.999999": "b",
        "2026-03-11T00:00:00": "a", "2026-03-11T00:00:10": "b", "2026-03-11T00:00:30": "a",
    }  # fmt: skip
    store.write(*(event(game, t, "p1", stamp) for stamp, t in times.items()))


COUNT_RANGES = (
    ("2026-03-10T10:00:30", "2026-03-10T12:00:15"),  # both edges partial, on D10
    ("2026-03-10T10:00:20", "2026-03-10T10:00:50"),  # inside one minute
    ("2026-03-10T23:59:30", "2026-03-11T00:00:20"),  # no whole minute, across midnight
    ("2026-03-10T23:59:50", "2026-03-11T00:01:00"),  # D10 edge, whole minute on D11
    ("2026-03-10T00:00:00", "2026-03-12T00:00:00"),  # whole minutes only
)


async def all_counts(conn: Conn, game: uuid.UUID, archive: Archive | None) -> list[object]:
    return [
        await event_counts(conn, game, at(start), at(end), bucket, types, archive)
        for start, end in COUNT_RANGES
        for bucket in Bucket
        for types in (None, ["b"], ["a", "zz"])
    ]


async def test_event_counts_edges_on_archived_days(
    store: Store, game: uuid.UUID, conn: Conn, endpoints: Endpoints, bucket: Bucketed
) -> None:
    write_counts(store, game)
    before = await all_counts(conn, game, None)
    assert before[0]
    bucket.archive(endpoints.postgres_dsn, game, D10)
    archive = bucket.reader()
    assert await all_counts(conn, game, archive) == before
    bucket.archive(endpoints.postgres_dsn, game, D11, parts=1)
    assert await all_counts(conn, game, archive) == before


async def test_a_day_that_cannot_be_read_fails_naming_it(
    store: Store, game: uuid.UUID, conn: Conn, endpoints: Endpoints, bucket: Bucketed
) -> None:
    write_journeys(store, game)
    bucket.archive(endpoints.postgres_dsn, game, D10)
    bucket.archive(endpoints.postgres_dsn, game, D11, parts=1)
    archive = bucket.reader()
    named = f"archived day 2026-03-10 of game {game}"

    async def ask() -> list[FunnelStep]:
        return await funnel(conn, game, D10, D10, ["a", "b"], 3600, ANY_SEGMENT, archive)

    async def counts_d10() -> list[EventCount]:
        start, end = at("2026-03-10T10:00:30"), at("2026-03-10T12:00:15")
        return await event_counts(conn, game, start, end, Bucket.HOUR, None, archive)

    # Without an archive configured an archived day is not silently empty.
    with pytest.raises(ArchiveUnavailable, match=named):
        await funnel(conn, game, D10, D10, ["a", "b"], 3600, ANY_SEGMENT)
    prefix = layout.day_prefix(game, D10)
    part = bucket.s3.get_object(Bucket=bucket.name, Key=prefix + "part-0.parquet")["Body"].read()
    # a corrupt part
    bucket.s3.put_object(Bucket=bucket.name, Key=prefix + "part-0.parquet", Body=b"x" * 64)
    for question in (ask, counts_d10):
        with pytest.raises(DayUnreadable, match=f"{named} has part-0.parquet unreadable"):
            await question()
    # a part that is gone
    bucket.s3.delete_object(Bucket=bucket.name, Key=prefix + "part-0.parquet")
    with pytest.raises(DayUnreadable, match=f"{named} has lost part-0.parquet"):
        await ask()
    # a valid part with fewer rows than the catalog lists
    fewer = encode(decode(part).slice(0, 2), 2)
    bucket.s3.put_object(Bucket=bucket.name, Key=prefix + "part-0.parquet", Body=fewer)
    with pytest.raises(DayUnreadable, match=f"{named} has part-0.parquet of 2 rows; its catalog"):
        await ask()
    # repaired, it answers again; a problem reported on it fails it whatever the files
    bucket.s3.put_object(Bucket=bucket.name, Key=prefix + "part-0.parquet", Body=part)
    assert [s.users for s in await ask()] == [2, 1]
    with psycopg.connect(endpoints.postgres_dsn, autocommit=True) as sync:
        archived_days.report_problem(sync, game, D10, "part-1.parquet: checksum differs")
    with pytest.raises(DayUnreadable, match=f"{named} has a problem: part-1.parquet: checksum"):
        await ask()
    # days that are not archived still answer
    d12 = await funnel(conn, game, D12, D12, ["b", "c"], 3600, ANY_SEGMENT, archive)
    assert [s.users for s in d12] == [1, 1]


async def test_s3_down_fails_archived_ranges_only(
    store: Store, game: uuid.UUID, conn: Conn, endpoints: Endpoints, bucket: Bucketed
) -> None:
    write_journeys(store, game)
    bucket.archive(endpoints.postgres_dsn, game, D10)
    down = replace(
        bucket.settings, endpoint=f"http://127.0.0.1:{free_port()}",
        connect_timeout=timedelta(seconds=0.5), read_timeout=timedelta(seconds=0.5),
        max_attempts=1,
    )  # fmt: skip
    archive = Archive(ArchiveReader(down, bucket.name), today())
    with pytest.raises(ArchiveUnavailable, match=f"archived day 2026-03-10 of game {game}"):
        await funnel(conn, game, D10, D11, ["a", "b"], 3600, ANY_SEGMENT, archive)
    start, end = at("2026-03-10T10:00:30"), at("2026-03-10T12:00:15")
    with pytest.raises(ArchiveUnavailable, match="could not be read from S3"):
        await event_counts(conn, game, start, end, Bucket.HOUR, None, archive)
    d12 = await funnel(conn, game, D11, D12, ["a", "b"], 3600, ANY_SEGMENT, archive)
    assert [s.users for s in d12] == [2, 2]
    # whole minutes of an archived day come from the rollup: no S3 needed
    whole = await event_counts(
        conn, game, at("2026-03-10T00:00:00"), at("2026-03-11T00:00:00"), Bucket.DAY, None,
        archive,
    )  # fmt: skip
    assert sum(c.count for c in whole) == 10


async def test_another_games_archive_is_neither_read_nor_touched(
    store: Store, conn: Conn, endpoints: Endpoints, bucket: Bucketed
) -> None:
    mine, other = uuid.uuid4(), uuid.uuid4()
    write_journeys(store, mine)
    write_journeys(store, other)
    bucket.archive(endpoints.postgres_dsn, other, D10)
    objects = bucket.s3.list_objects_v2(Bucket=bucket.name, Prefix=layout.game_prefix(other))
    theirs = {o["Key"]: o["ETag"] for o in objects["Contents"]}
    before = await funnels(conn, mine, None)
    # the other game's files made unreadable: my answers do not read them
    for key in theirs:
        if key.endswith(".parquet"):
            bucket.s3.put_object(Bucket=bucket.name, Key=key, Body=b"corrupt")
    theirs = {
        o["Key"]: o["ETag"]
        for o in bucket.s3.list_objects_v2(Bucket=bucket.name, Prefix=layout.game_prefix(other))[
            "Contents"
        ]
    }
    bucket.archive(endpoints.postgres_dsn, mine, D10)
    archive = bucket.reader()
    assert await funnels(conn, mine, archive) == before
    after = bucket.s3.list_objects_v2(Bucket=bucket.name, Prefix=layout.game_prefix(other))
    assert {o["Key"]: o["ETag"] for o in after["Contents"]} == theirs
    with pytest.raises(DayUnreadable, match=str(other)):
        await funnel(conn, other, D10, D10, ["a", "b"], 3600, ANY_SEGMENT, archive)
