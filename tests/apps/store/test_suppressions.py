"""Suppressions in the real PostgreSQL: one game at a time, and a NOTIFY naming the game."""

import uuid

import psycopg
from psycopg.rows import TupleRow

from apps.core.privacy import SUPPRESSIONS_CHANNEL, player_digest
from apps.store import suppressions
from tests.conftest import GameKey, new_game
from tests.support.servers import Endpoints


def _notified(listener: psycopg.Connection[TupleRow]) -> list[str]:
    return [n.payload for n in listener.notifies(timeout=0.5, stop_after=10)]


def test_a_suppression_holds_for_its_game_only_until_lifted(
    endpoints: Endpoints, game: GameKey
) -> None:
    other = new_game(endpoints.postgres_dsn)
    ana, bo = player_digest(game.game_id, "ana"), player_digest(game.game_id, "bo")
    job = uuid.uuid4()
    with psycopg.connect(endpoints.postgres_dsn, autocommit=True) as conn:
        assert suppressions.digests(conn, [game.game_id, other.game_id]) == {}
        assert suppressions.suppress(conn, game.game_id, ana, job)
        assert not suppressions.suppress(conn, game.game_id, ana, uuid.uuid4())
        assert suppressions.suppress(conn, game.game_id, bo, job)
        assert suppressions.suppressed(conn, game.game_id, ana)
        assert not suppressions.suppressed(conn, other.game_id, ana)
        assert suppressions.digests(conn, [game.game_id, other.game_id]) == {
            game.game_id: frozenset({ana, bo})
        }
        kept_job = conn.execute(
            "SELECT job_id FROM privacy_suppressions WHERE game_id = %s AND player_digest = %s",
            (game.game_id, ana),
        ).fetchone()
        assert kept_job == (job,)
        assert suppressions.lift(conn, game.game_id, ana)
        assert not suppressions.lift(conn, game.game_id, ana)
        assert not suppressions.suppressed(conn, game.game_id, ana)
        assert suppressions.digests(conn, [game.game_id]) == {game.game_id: frozenset({bo})}


def test_each_change_notifies_the_game_once_it_commits_and_no_change_notifies_nothing(
    endpoints: Endpoints, game: GameKey
) -> None:
    digest = player_digest(game.game_id, "ana")
    with (
        psycopg.connect(endpoints.postgres_dsn, autocommit=True) as listener,
        psycopg.connect(endpoints.postgres_dsn, autocommit=True) as conn,
    ):
        listener.execute(f"LISTEN {SUPPRESSIONS_CHANNEL}")
        with conn.transaction():
            assert suppressions.suppress(conn, game.game_id, digest, uuid.uuid4())
            assert _notified(listener) == []  # not before the commit
        assert _notified(listener) == [str(game.game_id)]
        assert not suppressions.suppress(conn, game.game_id, digest, uuid.uuid4())
        assert _notified(listener) == []
        assert suppressions.lift(conn, game.game_id, digest)
        assert _notified(listener) == [str(game.game_id)]
        assert not suppressions.lift(conn, game.game_id, digest)
        assert _notified(listener) == []
