"""A retention pass against the session's PostgreSQL, Kafka and local S3: what leaves
PostgreSQL, what the archive holds, what is dropped and expired, and whose."""

import uuid

import psycopg

from apps.archive import objects
from apps.core import archive
from apps.core.settings.retention import RetentionSettings
from apps.processor.partitions import Partitions, partition_name
from apps.processor.store import BatchWriter
from apps.retention.passes import Pass
from apps.s3.client import client
from apps.store import archived_days
from apps.store.erasure import erase_player
from apps.store.profiles import player_profile
from tests.support.retention import (
    archived_rows,
    days_ago,
    events_on,
    game_with_retention,
    pg_rows,
    write,
)  # fmt: skip
from tests.support.servers import Endpoints


def run(settings: RetentionSettings, *games: uuid.UUID, days_later: int = 0) -> Pass:
    today = days_ago(-days_later)
    p = Pass(settings, client(settings.s3), today=today, only=frozenset(games))
    p.run()
    return p


def keys_of(dsn: str, game_id: uuid.UUID, day: object) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT count(*) FROM event_keys WHERE game_id = %s AND event_day = %s", (game_id, day)
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_a_pass_moves_the_days_past_the_hot_window_and_only_those(
    endpoints: Endpoints, settings: RetentionSettings
) -> None:
    dsn = endpoints.postgres_dsn
    game = game_with_retention(dsn, hot_days=30, archive_days=730)
    old, older, young = days_ago(31), days_ago(45), days_ago(29)
    for day, n in ((old, 120), (older, 30), (young, 10)):
        write(dsn, events_on(game, day, n))
    before = {d: pg_rows(dsn, game, d) for d in (old, older)}
    s3 = client(settings.s3)

    report = run(settings, game).report

    assert report.days_archived == 2
    assert report.rows_archived == 150
    assert report.rows_deleted == 150
    assert not report.problems
    for day in (old, older):
        assert archived_rows(s3, settings.archive_bucket, game, day) == before[day]
        assert pg_rows(dsn, game, day) == {}
        assert keys_of(dsn, game, day) == 0
    assert len(pg_rows(dsn, game, young)) == 10
    assert keys_of(dsn, game, young) == 10
    assert objects.day_objects(s3, settings.archive_bucket, game, young) == {}
    # 120 rows at 50 per part: three parts, each listed with its size, and nothing else.
    files = objects.day_objects(s3, settings.archive_bucket, game, old)
    manifest = objects.get_manifest(s3, settings.archive_bucket, game, old)
    assert manifest is not None
    assert [p.rows for p in manifest.parts] == [50, 50, 20]
    assert files == {archive.MANIFEST: files[archive.MANIFEST]} | {
        p.name: p.bytes for p in manifest.parts
    }
    with psycopg.connect(dsn) as conn:
        entry = archived_days.get(conn, game, old)
    assert entry is not None
    assert entry.state == "archived"
    assert entry.rows == 120
    assert entry.parts == manifest.parts
    assert entry.problem is None

    again = run(settings, game).report
    assert (again.days_archived, again.rows_deleted, again.bytes_written) == (0, 0, 0)
    assert archived_rows(s3, settings.archive_bucket, game, old) == before[old]


def test_a_partition_of_archived_games_alone_is_dropped_whole(
    endpoints: Endpoints, settings: RetentionSettings
) -> None:
    dsn = endpoints.postgres_dsn
    a = game_with_retention(dsn, hot_days=30, archive_days=3000)
    b = game_with_retention(dsn, hot_days=60, archive_days=3000)
    day = days_ago(1000 + uuid.uuid4().int % 500)  # a day no other test writes
    write(dsn, events_on(a, day, 40) + events_on(b, day, 25))

    report = run(settings, a, b).report

    assert report.partitions_dropped == 1
    assert report.days_archived == 2
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT to_regclass(%s)", (partition_name(day),)).fetchone()
    assert row == (None,)
    s3 = client(settings.s3)
    assert len(archived_rows(s3, settings.archive_bucket, a, day)) == 40
    assert len(archived_rows(s3, settings.archive_bucket, b, day)) == 25
    assert keys_of(dsn, a, day) == keys_of(dsn, b, day) == 0


def test_one_games_pass_never_touches_another_games_rows_or_files(
    endpoints: Endpoints, settings: RetentionSettings
) -> None:
    dsn = endpoints.postgres_dsn
    due = game_with_retention(dsn, hot_days=30)
    kept = game_with_retention(dsn, hot_days=90, archive_days=400)
    day = days_ago(40)
    write(dsn, events_on(due, day, 20) + events_on(kept, day, 15))
    kept_rows = pg_rows(dsn, kept, day)

    run(settings, due, kept)

    s3 = client(settings.s3)
    assert len(archived_rows(s3, settings.archive_bucket, due, day)) == 20
    assert pg_rows(dsn, kept, day) == kept_rows
    assert keys_of(dsn, kept, day) == 15
    assert objects.archived_days(s3, settings.archive_bucket, kept) == []
    with psycopg.connect(dsn) as conn:
        assert archived_days.of_game(conn, kept) == []


def test_a_game_without_archive_has_its_old_days_dropped_unarchived(
    endpoints: Endpoints, settings: RetentionSettings
) -> None:
    dsn = endpoints.postgres_dsn
    game = game_with_retention(dsn, hot_days=30, archive_days=0)
    old, young = days_ago(31), days_ago(3)
    write(dsn, events_on(game, old, 12) + events_on(game, young, 5))

    report = run(settings, game).report

    assert report.days_dropped == 1
    assert report.days_archived == 0
    assert pg_rows(dsn, game, old) == {}
    assert keys_of(dsn, game, old) == 0
    assert len(pg_rows(dsn, game, young)) == 5
    assert objects.archived_days(client(settings.s3), settings.archive_bucket, game) == []


def test_archived_days_expire_past_archive_days(
    endpoints: Endpoints, settings: RetentionSettings
) -> None:
    dsn = endpoints.postgres_dsn
    game = game_with_retention(dsn, hot_days=30, archive_days=40)
    kept, expiring = days_ago(31), days_ago(38)
    write(dsn, events_on(game, kept, 10) + events_on(game, expiring, 10))
    run(settings, game)
    s3 = client(settings.s3)
    assert objects.archived_days(s3, settings.archive_bucket, game) == [expiring, kept]

    report = run(settings, game, days_later=3).report  # `expiring` is now 41 days old

    assert report.days_expired == 1
    assert objects.archived_days(s3, settings.archive_bucket, game) == [kept]
    with psycopg.connect(dsn) as conn:
        assert [d.event_date for d in archived_days.of_game(conn, game)] == [kept]


def test_a_day_already_past_the_archive_window_is_dropped_not_archived(
    endpoints: Endpoints, settings: RetentionSettings
) -> None:
    dsn = endpoints.postgres_dsn
    game = game_with_retention(dsn, hot_days=30, archive_days=40)
    day = days_ago(50)  # the service was down, or archive_days was shortened
    write(dsn, events_on(game, day, 8))

    report = run(settings, game).report

    assert report.days_dropped == 1
    assert report.days_archived == 0
    assert pg_rows(dsn, game, day) == {}
    assert objects.archived_days(client(settings.s3), settings.archive_bucket, game) == []


def test_late_rows_for_an_archived_day_join_it_in_a_new_part(
    endpoints: Endpoints, settings: RetentionSettings
) -> None:
    """A game that raised its late horizon can store events for a day already archived:
    the next pass adds them as a new part; the archived ones are not written again."""
    dsn = endpoints.postgres_dsn
    game = game_with_retention(dsn, hot_days=30)
    day = days_ago(35)
    write(dsn, events_on(game, day, 30))
    run(settings, game)
    late = events_on(game, day, 4)
    write(dsn, late)

    report = run(settings, game).report

    assert report.rows_archived == 4
    assert report.rows_deleted == 4
    s3 = client(settings.s3)
    rows = archived_rows(s3, settings.archive_bucket, game, day)
    assert len(rows) == 34
    assert {str(r[1]) for r in late} <= set(rows)


def test_a_writer_that_knew_a_dropped_partition_creates_it_again(
    endpoints: Endpoints, settings: RetentionSettings
) -> None:
    """The processor remembers the days it created; once retention has dropped one, a late
    event for it (a game whose late horizon grew) is stored, not dead-lettered."""
    dsn = endpoints.postgres_dsn
    game = game_with_retention(dsn, hot_days=30, archive_days=3000)
    day = days_ago(2000 + uuid.uuid4().int % 500)
    with psycopg.connect(dsn) as conn:
        writer = BatchWriter(conn, Partitions())
        assert writer.write(events_on(game, day, 5)).stored == 5
        assert run(settings, game).report.partitions_dropped == 1

        assert writer.write(events_on(game, day, 2)).stored == 2

    assert len(pg_rows(dsn, game, day)) == 2


def test_player_profiles_answer_the_same_after_their_days_are_archived(
    endpoints: Endpoints, settings: RetentionSettings
) -> None:
    dsn = endpoints.postgres_dsn
    game = game_with_retention(dsn, hot_days=30)
    write(dsn, events_on(game, days_ago(45), 90) + events_on(game, days_ago(40), 40))
    write(dsn, events_on(game, days_ago(2), 12))
    players = [f"p-{i}" for i in range(7)]

    def totals() -> list[tuple[object, ...]]:
        with psycopg.connect(dsn) as conn:
            found = [player_profile(conn, game, p) for p in players]
        return [
            (p.first_seen, p.last_seen, p.days_active, p.sessions, p.session_seconds,
             p.purchases, p.revenue_usd)
            for p in found if p is not None
        ]  # fmt: skip

    before = totals()
    assert len(before) == 7
    assert run(settings, game).report.days_archived == 2

    assert totals() == before
    with psycopg.connect(dsn) as conn:
        erased = erase_player(conn, game, "p-1")
        assert erased.removed["player_archived_totals"] >= 1
        assert player_profile(conn, game, "p-1") is None
