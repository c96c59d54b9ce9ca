"""Records of suppressed (erased) players produced straight to Kafka, past ingestion's list:
the processor stores none of them (nor any rollup of theirs), stores the others, and
commits its offsets past them."""

import uuid

import psycopg
from confluent_kafka import KafkaError, Message, Producer

from apps.core.events import StoredEvent, encode_stored
from apps.core.privacy import player_digest
from apps.core.topics import EVENTS
from apps.store import suppressions
from tests.conftest import GameKey, new_game
from tests.support.factory import stored_event
from tests.support.processor import ThreadedProcessor, settle
from tests.support.recompute import rollup_differences, stored_ids
from tests.support.servers import Endpoints
from tests.support.topic import consumed_past


def produce(bootstrap: str, records: list[StoredEvent]) -> dict[int, int]:
    """Produce `records` in order; the last offset of each partition written to."""
    last: dict[int, int] = {}

    def delivered(err: KafkaError | None, msg: Message) -> None:
        assert err is None, err
        partition, offset = msg.partition() or 0, msg.offset() or 0
        last[partition] = max(offset, last.get(partition, -1))

    producer = Producer({"bootstrap.servers": bootstrap})
    for record in records:
        producer.produce(EVENTS.name, encode_stored(record), record.partition_key,
                         on_delivery=delivered)  # fmt: skip
    assert producer.flush(10) == 0
    return last


def players(dsn: str, game_id: uuid.UUID) -> list[str]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT player_id FROM players WHERE game_id = %s ORDER BY 1", (game_id,)
        ).fetchall()
    return [r[0] for r in rows]


def test_records_of_a_suppressed_player_are_dropped_and_committed_past(
    game: GameKey, endpoints: Endpoints, processor: ThreadedProcessor
) -> None:
    dsn, bootstrap = endpoints.postgres_dsn, endpoints.kafka_bootstrap
    with psycopg.connect(dsn, autocommit=True) as conn:
        for player in ("gone", "gone too"):
            digest = player_digest(game.game_id, player)
            assert suppressions.suppress(conn, game.game_id, digest, uuid.uuid4())
    gone = [stored_event(game.game_id, p) for p in ("gone", "gone too", "gone", "gone too")]
    kept = [stored_event(game.game_id, p) for p in ("kept", "also kept")]
    before = processor.metrics.suppressed._value.get()
    last = produce(bootstrap, [gone[0], kept[0], gone[1], gone[2], kept[1], gone[3]])
    group = processor.processor.settings.group_id
    settle(processor)
    assert consumed_past(bootstrap, EVENTS.name, group, last)
    assert sorted(stored_ids(dsn, game.game_id)) == sorted(str(e.event_id) for e in kept)
    assert players(dsn, game.game_id) == ["also kept", "kept"]
    assert rollup_differences(dsn, game.game_id) == {}
    assert processor.metrics.suppressed._value.get() - before == len(gone)


def test_a_batch_of_suppressed_players_only_stores_nothing_and_other_games_are_untouched(
    game: GameKey, endpoints: Endpoints, processor: ThreadedProcessor
) -> None:
    dsn = endpoints.postgres_dsn
    other = new_game(dsn)
    with psycopg.connect(dsn, autocommit=True) as conn:
        digest = player_digest(game.game_id, "gone")
        assert suppressions.suppress(conn, game.game_id, digest, uuid.uuid4())
    gone = [stored_event(game.game_id, "gone") for _ in range(3)]
    elsewhere = stored_event(other.game_id, "gone")  # the same player id in another game
    produce(endpoints.kafka_bootstrap, [*gone, elsewhere])
    settle(processor)
    assert stored_ids(dsn, game.game_id) == []
    assert players(dsn, game.game_id) == []
    assert stored_ids(dsn, other.game_id) == [str(elsewhere.event_id)]


def test_after_the_suppression_is_lifted_the_players_records_are_stored(
    game: GameKey, endpoints: Endpoints, processor: ThreadedProcessor
) -> None:
    dsn = endpoints.postgres_dsn
    digest = player_digest(game.game_id, "back")
    with psycopg.connect(dsn, autocommit=True) as conn:
        assert suppressions.suppress(conn, game.game_id, digest, uuid.uuid4())
    dropped = stored_event(game.game_id, "back")
    produce(endpoints.kafka_bootstrap, [dropped])
    settle(processor)
    with psycopg.connect(dsn, autocommit=True) as conn:
        assert suppressions.lift(conn, game.game_id, digest)
    again = stored_event(game.game_id, "back")
    produce(endpoints.kafka_bootstrap, [again])
    settle(processor)
    assert stored_ids(dsn, game.game_id) == [str(again.event_id)]
    assert rollup_differences(dsn, game.game_id) == {}
