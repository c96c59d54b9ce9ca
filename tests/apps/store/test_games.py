"""Games' retention in the real PostgreSQL: the migration's columns, defaults and CHECKs
state what apps/core/retention.py declares, and `set_retention` keeps them."""

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql
from psycopg.rows import TupleRow

from apps.core import retention
from apps.core.errors import BatchError
from apps.core.retention import Retention
from apps.store import games
from tests.conftest import new_game
from tests.support.servers import Endpoints


@pytest.fixture
def conn(endpoints: Endpoints) -> Iterator[psycopg.Connection[TupleRow]]:
    with psycopg.connect(endpoints.postgres_dsn, autocommit=True) as c:
        yield c


def _raw_update(conn: psycopg.Connection[TupleRow], game_id: uuid.UUID, **values: int) -> None:
    """Past the store's checks: what the table itself accepts."""
    sets = sql.SQL(", ").join(
        sql.SQL("{} = {}").format(sql.Identifier(k), sql.Literal(v)) for k, v in values.items()
    )
    with conn.transaction():
        conn.execute(sql.SQL("UPDATE games SET {} WHERE game_id = %s").format(sets), (game_id,))


def test_the_columns_defaults_are_the_declared_ones(
    conn: psycopg.Connection[TupleRow], endpoints: Endpoints
) -> None:
    rows = conn.execute(
        "SELECT column_name, column_default FROM information_schema.columns"
        " WHERE table_name = 'games' AND column_name IN ('hot_days', 'archive_days')"
    ).fetchall()
    defaults = {str(name): str(default) for name, default in rows}
    assert defaults == {name: str(v) for name, v in Retention().as_dict().items()}
    game = games.get_game(conn, new_game(endpoints.postgres_dsn).game_id)
    assert game.retention == Retention()
    assert (game.hot_days, game.archive_days) == (30, 730)


@pytest.mark.parametrize("name", list(retention.BOUNDS))
def test_the_tables_checks_hold_the_declared_bounds(
    conn: psycopg.Connection[TupleRow], endpoints: Endpoints, name: str
) -> None:
    game_id = new_game(endpoints.postgres_dsn).game_id
    low, high = retention.BOUNDS[name]
    # The other value set so that only this one's bounds are in play.
    other = {"hot_days": {"archive_days": 0}, "archive_days": {"hot_days": 1}}[name]
    for value in (low, high):
        _raw_update(conn, game_id, **other, **{name: value})
        assert games.get_game(conn, game_id).retention.as_dict()[name] == value
    for value in (low - 1, high + 1):
        with pytest.raises(psycopg.errors.CheckViolation):
            _raw_update(conn, game_id, **other, **{name: value})
    # Refused by this value's own CHECK (below 0 the archive rule refuses too), which is:
    row = conn.execute(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = %s",
        (f"games_{name}",),
    ).fetchone()
    assert row == (f"CHECK ((({name} >= {low}) AND ({name} <= {high})))",)


def test_the_tables_check_holds_the_archive_after_hot_rule(
    conn: psycopg.Connection[TupleRow], endpoints: Endpoints
) -> None:
    game_id = new_game(endpoints.postgres_dsn).game_id
    for hot, archive in ((30, 30), (31, 30)):
        with pytest.raises(psycopg.errors.CheckViolation, match="games_archive_after_hot"):
            _raw_update(conn, game_id, hot_days=hot, archive_days=archive)
        with pytest.raises(BatchError):
            retention.settle(Retention(), hot_days=hot, archive_days=archive)
    for hot, archive in ((30, 31), (3650, 0)):
        _raw_update(conn, game_id, hot_days=hot, archive_days=archive)
        assert retention.settle(Retention(), hot, archive) == Retention(hot, archive)


def test_set_retention_changes_one_game_and_says_what_it_was(
    conn: psycopg.Connection[TupleRow], endpoints: Endpoints
) -> None:
    mine = new_game(endpoints.postgres_dsn).game_id
    theirs = new_game(endpoints.postgres_dsn).game_id
    change = games.set_retention(conn, mine, 90, None)
    assert (change.old, change.new) == (Retention(30, 730), Retention(90, 730))
    change = games.set_retention(conn, mine, None, 0)
    assert (change.old, change.new) == (Retention(90, 730), Retention(90, 0))
    change = games.set_retention(conn, mine, 7, 3650)
    assert change.new == games.get_game(conn, mine).retention == Retention(7, 3650)
    assert games.get_game(conn, theirs).retention == Retention()
    listed = {g.game_id: g.retention for g in games.list_games(conn)}
    assert (listed[mine], listed[theirs]) == (Retention(7, 3650), Retention())


def test_a_new_archive_days_bumps_the_games_data_version(
    conn: psycopg.Connection[TupleRow], endpoints: Endpoints
) -> None:
    """Expired archived days read as empty: cached answers must not outlive the change."""
    game_id = new_game(endpoints.postgres_dsn).game_id

    def version() -> int:
        row = conn.execute(
            "SELECT coalesce(max(version), 0) FROM game_versions WHERE game_id = %s", (game_id,)
        ).fetchone()
        assert row is not None
        return int(row[0])

    start = version()
    games.set_retention(conn, game_id, 60, None)  # hot_days only: answers do not change
    assert version() == start
    games.set_retention(conn, game_id, None, 400)
    assert version() == start + 1
    games.set_retention(conn, game_id, 30, 400)  # the same archive_days
    assert version() == start + 1
    games.set_retention(conn, game_id, None, 0)
    assert version() == start + 2


def test_set_retention_refuses_by_field_and_changes_nothing(
    conn: psycopg.Connection[TupleRow], endpoints: Endpoints
) -> None:
    game_id = new_game(endpoints.postgres_dsn).game_id
    for hot, archive, field in ((0, None, "hot_days"), (None, 36501, "archive_days"),
                                (800, None, "hot_days"), (None, 30, "archive_days"),
                                (None, None, "hot_days")):  # fmt: skip
        with pytest.raises(BatchError) as refused:
            games.set_retention(conn, game_id, hot, archive)
        assert refused.value.field == field
    assert games.get_game(conn, game_id).retention == Retention()
    missing = uuid.uuid4()
    with pytest.raises(games.GameNotFound, match=str(missing)):
        games.set_retention(conn, missing, 10, None)
