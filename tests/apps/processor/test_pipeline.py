"""Events through the real pipeline (HTTP, Kafka, processor, PostgreSQL): once, with rollups."""

import json
import uuid
from datetime import timedelta
from typing import Any

import httpx
import msgspec
import psycopg
from confluent_kafka import KafkaError, Message, Producer

from apps.core.events import encode_stored
from apps.core.topics import EVENTS, EVENTS_DLQ
from apps.processor.partitions import partition_name
from tests.conftest import GameKey
from tests.support.factory import batch, event, iso, now, stored_event
from tests.support.poll import poll_until
from tests.support.processor import ThreadedProcessor, settle
from tests.support.recompute import rollup_differences, stored_ids
from tests.support.servers import Endpoints
from tests.support.topic import consumed_past, read_records


def post(client: httpx.Client, game: GameKey, *events: dict[str, Any]) -> None:
    r = client.post("/v1/events", json=batch(*events), headers=game.auth)
    assert r.status_code == 202, r.text
    assert r.json()["rejected"] == []


def test_events_sent_over_http_land_once_with_their_rollups(
    client: httpx.Client, game: GameKey, endpoints: Endpoints, processor: ThreadedProcessor
) -> None:
    sent = [
        event("session_start", player_id="ana", platform="ios", country="DE"),
        event(
            "purchase", player_id="ana", platform="ios", country="DE", amount=4.99, currency="EUR"
        ),
        event("purchase", player_id="bo", amount=100, currency="JPY"),
        event("progression", player_id="bo", level=2, status="complete"),
        event("session_end", player_id="ana", platform="ios", country="DE", duration_seconds=61.5),
        event("ui.click", player_id="cy", properties={"button": "play"}),
    ]
    post(client, game, *sent)
    post(client, game, *sent)  # a client retry: same event ids
    settle(processor)
    assert sorted(stored_ids(endpoints.postgres_dsn, game.game_id)) == sorted(
        e["event_id"] for e in sent
    )
    assert rollup_differences(endpoints.postgres_dsn, game.game_id) == {}
    with psycopg.connect(endpoints.postgres_dsn) as conn:
        revenue = conn.execute(
            "SELECT currency, amount, purchases FROM daily_revenue WHERE game_id = %s ORDER BY 1",
            (game.game_id,),
        ).fetchall()
        ana = conn.execute(
            "SELECT played, paid, platform, country"
            " FROM player_days WHERE game_id = %s AND player_id = 'ana'",
            (game.game_id,),
        ).fetchall()
        segments = conn.execute(
            "SELECT events, sessions, session_seconds, purchases, platform, country"
            " FROM segment_days WHERE game_id = %s",
            (game.game_id,),
        ).fetchall()
    assert revenue == [("EUR", 4.99, 1), ("JPY", 100.0, 1)]
    assert ana == [(True, True, "ios", "DE")]
    assert (3, 1, 61.5, 1, "ios", "DE") in segments


def test_replaying_records_changes_nothing(
    client: httpx.Client, game: GameKey, endpoints: Endpoints, processor: ThreadedProcessor
) -> None:
    post(client, game, *[event(player_id=f"p{i}", etype="design") for i in range(20)])
    settle(processor)
    before = _rollups(endpoints.postgres_dsn, game.game_id)
    assert before["game_versions"][0][0] >= 1  # bumped by what stored events, not by replays
    ours = [
        (k, v)
        for k, v, _ in read_records(endpoints.kafka_bootstrap)
        if k is not None and k.startswith(str(game.game_id).encode())
    ]
    assert len(ours) == 20
    rows = processor.metrics.registry
    stored, duplicates = (
        rows.get_sample_value("gm_processor_rows_total", {"outcome": outcome})
        for outcome in ("stored", "duplicate")
    )
    replayed: dict[int, int] = {}

    def delivered(err: KafkaError | None, msg: Message) -> None:
        assert err is None, err
        replayed[msg.partition() or 0] = max(replayed.get(msg.partition() or 0, -1),
                                             msg.offset() or 0)  # fmt: skip

    producer = Producer({"bootstrap.servers": endpoints.kafka_bootstrap})
    for key, value in ours * 2:  # the whole stream again, twice
        producer.produce(EVENTS.name, value, key, on_delivery=delivered)
    assert producer.flush(10) == 0
    group = processor.processor.settings.group_id
    poll_until(
        lambda: consumed_past(endpoints.kafka_bootstrap, EVENTS.name, group, replayed),
        timeout=60, what="the processor to commit past the replayed records",
    )  # fmt: skip
    # Every replayed record was read and found already stored; none stored anew.
    after = rows.get_sample_value("gm_processor_rows_total", {"outcome": "duplicate"})
    assert (after or 0) - (duplicates or 0) == 40
    assert rows.get_sample_value("gm_processor_rows_total", {"outcome": "stored"}) == stored
    assert len(stored_ids(endpoints.postgres_dsn, game.game_id)) == 20
    assert _rollups(endpoints.postgres_dsn, game.game_id) == before


def test_late_events_land_in_their_day_and_move_first_seen(
    client: httpx.Client, game: GameKey, endpoints: Endpoints, processor: ThreadedProcessor
) -> None:
    today = event(player_id="late-lou", platform="android", country="BR")
    post(client, game, today)
    settle(processor)
    old_time = now() - timedelta(days=20, hours=3)
    late = event(player_id="late-lou", platform="ios", country="PT", timestamp=iso(old_time))
    post(client, game, late)
    settle(processor)
    day = old_time.date()
    with psycopg.connect(endpoints.postgres_dsn) as conn:
        in_partition = conn.execute(
            f"SELECT event_id::text FROM {partition_name(day)} WHERE game_id = %s",  # noqa: S608
            (game.game_id,),
        ).fetchall()
        first = conn.execute(
            "SELECT first_day, platform, country FROM players WHERE game_id = %s",
            (game.game_id,),
        ).fetchall()
        days = conn.execute(
            "SELECT day FROM player_days WHERE game_id = %s ORDER BY day", (game.game_id,)
        ).fetchall()
    assert in_partition == [(late["event_id"],)]
    assert first == [(day, "ios", "PT")]
    assert [d for (d,) in days] == [day, now().date()]
    assert rollup_differences(endpoints.postgres_dsn, game.game_id) == {}


def test_a_tie_on_the_first_events_time_goes_to_the_smaller_event_id(
    client: httpx.Client, game: GameKey, endpoints: Endpoints, processor: ThreadedProcessor
) -> None:
    """Whichever order the two first events are stored in, the player's first-seen segment
    is the recomputation's: the smaller event id among equal times."""
    t = iso(now() - timedelta(days=2))
    small, large = sorted(uuid.uuid4() for _ in range(2))
    tie = {"player_id": "tie-tom", "timestamp": t}
    post(client, game, event(event_id=str(large), platform="android", country="BR", **tie))
    settle(processor)
    post(client, game, event(event_id=str(small), platform="ios", country="PT", **tie))
    post(client, game, event(player_id="tie-tom"))  # a later day: the cohort moves with them
    settle(processor)
    with psycopg.connect(endpoints.postgres_dsn) as conn:
        first = conn.execute(
            "SELECT platform, country, first_event_id FROM players WHERE game_id = %s",
            (game.game_id,),
        ).fetchall()
    assert first == [("ios", "PT", small)]
    assert rollup_differences(endpoints.postgres_dsn, game.game_id) == {}


def test_simulated_history_rollups_equal_a_recomputation(
    ingest: Any, game: GameKey, endpoints: Endpoints, processor: ThreadedProcessor
) -> None:
    from apps.cli.main import main

    code = main(
        ["simulate", "--url", ingest.url, "--game", str(game.game_id), "--key", game.key,
         "--players", "150", "--rate", "20000", "--days", "4", "--backfill", "--seed", "7",
         "--json"]
    )  # fmt: skip
    assert code == 0
    settle(processor)
    ids = stored_ids(endpoints.postgres_dsn, game.game_id)
    assert len(ids) > 1000
    assert len(set(ids)) == len(ids)
    differences = rollup_differences(endpoints.postgres_dsn, game.game_id)
    assert differences == {}, {k: (len(a), len(b)) for k, (a, b) in differences.items()}


def test_poison_records_go_to_the_dead_letter_topic_and_the_partition_flows(
    game: GameKey, endpoints: Endpoints, processor: ThreadedProcessor
) -> None:
    key = f"{game.game_id}/poison-player".encode()
    good = stored_event(game.game_id, "poison-player")
    bad_version = msgspec.structs.replace(stored_event(game.game_id, "poison-player"), v=3)
    bad_game = msgspec.structs.replace(
        stored_event(game.game_id, "poison-player"), game_id="not-a-uuid"
    )
    old_json = json.dumps({"game_id": str(game.game_id), "v": 1}).encode()
    producer = Producer({"bootstrap.servers": endpoints.kafka_bootstrap})
    for value in (b"{not json", encode_stored(bad_version), encode_stored(bad_game), old_json):
        producer.produce(EVENTS.name, value, key)
    producer.produce(EVENTS.name, encode_stored(good), key)  # same key: same partition, after them
    assert producer.flush(10) == 0
    settle(processor)
    assert stored_ids(endpoints.postgres_dsn, game.game_id) == [str(good.event_id)]
    letters = [
        h for k, _, h in read_records(endpoints.kafka_bootstrap, EVENTS_DLQ.name) if k == key
    ]
    reasons = [h["gm-dlq-reason"].decode() for h in letters]
    codes = [h["gm-dlq-code"].decode() for h in letters]
    assert len(reasons) == 4
    assert "not a StoredEvent record" in reasons[0]
    assert reasons[1] == "unsupported schema version 3"
    assert reasons[2] == "invalid game_id: Invalid UUID"
    assert "not a StoredEvent record" in reasons[3]
    assert codes == ["undecodable", "undecodable", "invalid", "undecodable"]
    assert {h["gm-source-topic"] for h in letters} == {EVENTS.name.encode()}


def test_a_row_the_database_rejects_is_isolated(
    game: GameKey, endpoints: Endpoints, processor: ThreadedProcessor
) -> None:
    settle(processor)  # the counters below move for these records only
    rows = processor.metrics.rows
    before = processor.metrics.dead_letters.labels("rejected_by_database")._value.get()
    duplicates = rows.labels("duplicate")._value.get()
    producer = Producer({"bootstrap.servers": endpoints.kafka_bootstrap})
    good = [stored_event(game.game_id, f"ok-{i}") for i in range(5)]
    bad = stored_event(game.game_id, "nul\x00player")
    for ev in (*good[:2], bad, *good[2:]):
        producer.produce(EVENTS.name, encode_stored(ev), ev.partition_key)
    assert producer.flush(10) == 0
    settle(processor)
    assert sorted(stored_ids(endpoints.postgres_dsn, game.game_id)) == sorted(
        str(e.event_id) for e in good
    )
    letters = [
        h for k, _, h in read_records(endpoints.kafka_bootstrap, EVENTS_DLQ.name)
        if k == bad.partition_key
    ]  # fmt: skip
    assert [h["gm-dlq-code"] for h in letters] == [b"rejected_by_database"]
    assert processor.metrics.dead_letters.labels("rejected_by_database")._value.get() == before + 1
    assert rows.labels("duplicate")._value.get() == duplicates  # rejected is not a duplicate


def _rollups(dsn: str, game_id: uuid.UUID) -> dict[str, list[tuple[Any, ...]]]:
    with psycopg.connect(dsn) as conn:
        return {
            table: conn.execute(
                f"SELECT * FROM {table} WHERE game_id = %s ORDER BY 2, 3",  # noqa: S608
                (game_id,),
            ).fetchall()
            for table in (
                "players",
                "player_days",
                "daily_revenue",
                "event_counts",
                "live_seconds",
                "live_players",
            )
        } | {
            "game_versions": conn.execute(
                "SELECT version, updated_at FROM game_versions WHERE game_id = %s", (game_id,)
            ).fetchall()
        }


def test_partitions_exist_a_week_ahead(endpoints: Endpoints, processor: ThreadedProcessor) -> None:
    poll_until(lambda: processor.processor.database_ok, timeout=30, what="a first batch")
    with psycopg.connect(endpoints.postgres_dsn) as conn:
        names = {
            name
            for (name,) in conn.execute(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                " WHERE i.inhparent = 'events'::regclass"
            ).fetchall()
        }
    today = now().date()
    assert {partition_name(today + timedelta(days=d)) for d in range(-1, 8)} <= names
