"""Writer lanes: however many, every record lands once, rollups stay exact, and the
processor still reports itself caught up (also with a lane that owns no partition)."""

import random
import uuid
from datetime import timedelta

import msgspec
import psycopg
import pytest

from apps.core.events import StoredEvent
from apps.store import games
from tests.support.factory import now, stored_event
from tests.support.poll import poll_until
from tests.support.processor import processor_settings, processor_thread
from tests.support.recompute import rollup_differences, stored_ids
from tests.support.servers import Endpoints
from tests.support.topic import topic_with

PARTITIONS = 3


def _events(game_id: uuid.UUID, players: int, per_player: int) -> list[StoredEvent]:
    """Sessions, purchases and plain events of `players` players over three days, some late."""
    rng = random.Random(players * 31 + per_player)
    start = now() - timedelta(days=2)
    out = []
    for p in range(players):
        for i in range(per_player):
            t = start + timedelta(minutes=rng.randrange(3 * 24 * 60))
            kind = rng.choice(("design", "session_end", "purchase"))
            out.append(msgspec.structs.replace(
                stored_event(game_id, f"lane-p{p}"), type=kind, session_id=f"s{i}",
                event_time=t, client_time=t, platform=rng.choice(("ios", "android")),
                country=rng.choice(("DE", "US")), app_version="1.0",
                duration_seconds=60.0 if kind == "session_end" else None,
                amount=1.99 if kind == "purchase" else None,
                currency="USD" if kind == "purchase" else None,
                item_id="gems" if kind == "purchase" else None,
            ))  # fmt: skip
    return out


@pytest.mark.parametrize("writers", [1, 4])
def test_every_record_lands_once_with_exact_rollups(endpoints: Endpoints, writers: int) -> None:
    with psycopg.connect(endpoints.postgres_dsn) as conn:
        game_id = games.create_game(conn, f"lanes-{writers}").game_id
    records = _events(game_id, players=40, per_player=25)
    # A third of them twice: duplicates claim nothing.
    topic = topic_with(endpoints.kafka_bootstrap, "lanes", PARTITIONS, records + records[:300])

    settings = processor_settings(
        endpoints.postgres_dsn, endpoints.kafka_bootstrap, events_topic=topic,
        group_id=f"lanes-{uuid.uuid4()}", writers=writers, max_batch=200,
    )  # fmt: skip
    with processor_thread(settings) as running:
        rows = running.metrics.registry
        poll_until(
            lambda: sum(
                rows.get_sample_value("gm_processor_rows_total", {"outcome": o}) or 0
                for o in ("stored", "duplicate")
            ) >= len(records) + 300,
            timeout=60,
            what=f"all {len(records) + 300} records written",
        )  # fmt: skip
        assert len(running.processor._assignment.assigned) == PARTITIONS
        stored = running.metrics.rows.labels("stored")._value.get()
        duplicates = running.metrics.rows.labels("duplicate")._value.get()
    ids = stored_ids(endpoints.postgres_dsn, game_id)
    assert sorted(ids) == sorted(str(ev.event_id) for ev in records)
    assert (stored, duplicates) == (len(records), 300)
    assert rollup_differences(endpoints.postgres_dsn, game_id) == {}
