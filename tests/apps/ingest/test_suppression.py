"""Suppressed (erased) players over real HTTP: their events are refused with "player erased"
while other players' events of the same batch are accepted and stored; lifting the
suppression, or another game, accepts them. The running API learns of each change through
NOTIFY, so each test first lets the API cache the game's (empty) list."""

import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import psycopg

from apps.core import limits
from apps.core.privacy import player_digest
from apps.store import suppressions
from tests.conftest import GameKey, new_game
from tests.support.factory import batch, event
from tests.support.pipeline import own_pipeline
from tests.support.poll import poll_until
from tests.support.processor import ThreadedProcessor, settle
from tests.support.recompute import stored_ids
from tests.support.servers import Endpoints, ingest_settings, running_ingest
from tests.support.topic import events_of_game

_ERASED = {"field": "player_id", "error": "player erased"}
_REJECTED = 'gm_ingest_events_rejected_total{reason="player_erased"}'


def post(client: httpx.Client, game: GameKey, *events: dict[str, Any]) -> httpx.Response:
    return client.post("/v1/events", json=batch(*events), headers=game.auth)


def suppress(dsn: str, game: GameKey, player_id: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        digest = player_digest(game.game_id, player_id)
        assert suppressions.suppress(conn, game.game_id, digest, uuid.uuid4())


def lift(dsn: str, game: GameKey, player_id: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        assert suppressions.lift(conn, game.game_id, player_digest(game.game_id, player_id))


def refused(client: httpx.Client, game: GameKey, player_id: str) -> bool:
    """Whether the API refuses an event of the player now (an accepted one is sent)."""
    r = post(client, game, event(player_id=player_id))
    return r.status_code == 400 and r.json()["rejected"] == [{"index": 0, **_ERASED}]


def rejected_metric(client: httpx.Client) -> float:
    [line] = [m for m in client.get("/metrics").text.splitlines() if m.startswith(_REJECTED)]
    return float(line.split()[-1])


def test_a_suppressed_players_events_are_refused_and_the_others_stored(
    client: httpx.Client, game: GameKey, endpoints: Endpoints, processor: ThreadedProcessor
) -> None:
    dsn = endpoints.postgres_dsn
    assert post(client, game, event(player_id="bo")).status_code == 202  # the list is cached
    suppress(dsn, game, "ana")
    poll_until(lambda: refused(client, game, "ana"), timeout=10, what="ana refused")
    before = rejected_metric(client)
    sent = [
        event(player_id="ana"),
        event(player_id="bo"),
        event(player_id=""),
        event("purchase", player_id="ana"),
        event(player_id="cy"),
    ]
    r = post(client, game, *sent)
    assert r.status_code == 202, r.text
    assert r.json() == {
        "accepted": 2,
        "rejected": [
            {"index": 0, **_ERASED},
            {"index": 2, "field": "player_id",
             "error": f"must be a string of 1..{limits.MAX_ID_CHARS} characters"},
            {"index": 3, **_ERASED},
        ],
    }  # fmt: skip
    assert rejected_metric(client) - before == 2
    settle(processor)
    ours = {e["event_id"] for e in sent}
    assert {i for i in stored_ids(dsn, game.game_id) if i in ours} == {
        sent[1]["event_id"],
        sent[4]["event_id"],
    }
    on_topic = {str(e.event_id) for e in events_of_game(endpoints.kafka_bootstrap, game.game_id)}
    assert on_topic & ours == {sent[1]["event_id"], sent[4]["event_id"]}


def test_a_batch_of_suppressed_players_only_is_refused_whole(
    client: httpx.Client, game: GameKey, endpoints: Endpoints
) -> None:
    assert post(client, game, event(player_id="bo")).status_code == 202
    suppress(endpoints.postgres_dsn, game, "ana")
    suppress(endpoints.postgres_dsn, game, "éa 👾")
    poll_until(lambda: refused(client, game, "éa 👾"), timeout=10, what="the player refused")
    sent = [event(player_id="ana"), event(player_id="éa 👾"), event(player_id="ana")]
    r = post(client, game, *sent)
    assert r.status_code == 400
    assert r.json() == {"accepted": 0, "rejected": [{"index": i, **_ERASED} for i in range(3)]}
    ours = {e["event_id"] for e in sent}
    on_topic = {str(e.event_id) for e in events_of_game(endpoints.kafka_bootstrap, game.game_id)}
    assert on_topic & ours == set()


def test_lifting_the_suppression_accepts_the_player_again(
    client: httpx.Client, game: GameKey, endpoints: Endpoints, processor: ThreadedProcessor
) -> None:
    dsn = endpoints.postgres_dsn
    assert post(client, game, event(player_id="bo")).status_code == 202
    suppress(dsn, game, "ana")
    poll_until(lambda: refused(client, game, "ana"), timeout=10, what="ana refused")
    lift(dsn, game, "ana")
    poll_until(lambda: not refused(client, game, "ana"), timeout=10, what="ana accepted")
    again = event(player_id="ana")
    r = post(client, game, again)
    assert (r.status_code, r.json()) == (202, {"accepted": 1, "rejected": []})
    settle(processor)
    assert again["event_id"] in stored_ids(dsn, game.game_id)


def test_a_suppression_holds_in_its_game_only(
    client: httpx.Client, game: GameKey, endpoints: Endpoints, processor: ThreadedProcessor
) -> None:
    other = new_game(endpoints.postgres_dsn)
    for g in (game, other):
        assert post(client, g, event(player_id="bo")).status_code == 202
    suppress(endpoints.postgres_dsn, game, "ana")
    poll_until(lambda: refused(client, game, "ana"), timeout=10, what="ana refused")
    elsewhere = event(player_id="ana")
    r = post(client, other, elsewhere)
    assert (r.status_code, r.json()) == (202, {"accepted": 1, "rejected": []})
    assert refused(client, game, "ana")
    settle(processor)
    assert elsewhere["event_id"] in stored_ids(endpoints.postgres_dsn, other.game_id)


def test_while_postgresql_is_down_the_cached_list_still_refuses_and_a_restart_catches_up(
    endpoints: Endpoints, tmp_path: Path
) -> None:
    with (
        own_pipeline(tmp_path, endpoints.redis_url) as pipeline,
        running_ingest(ingest_settings(pipeline.endpoints)) as server,
        httpx.Client(base_url=server.url, timeout=20) as client,
    ):
        game, dsn = pipeline.game, pipeline.pg.url
        assert post(client, game, event(player_id="bo")).status_code == 202
        suppress(dsn, game, "ana")
        poll_until(lambda: refused(client, game, "ana"), timeout=10, what="ana refused")
        pipeline.pg.stop(10)
        # Past the 5 s a list is trusted without its listener: the database cannot be
        # asked, so the cached list (and the cached key) still decide.
        until = time.monotonic() + 6
        while True:
            r = post(client, game, event(player_id="ana"), event(player_id="bo"))
            assert (r.status_code, r.json()) == (
                202, {"accepted": 1, "rejected": [{"index": 0, **_ERASED}]}
            )  # fmt: skip
            if time.monotonic() > until:
                break
        pipeline.pg.start()
        lift(dsn, game, "ana")
        # The listener reconnects (backoff up to 10 s) and starts again from PostgreSQL.
        poll_until(
            lambda: not refused(client, game, "ana"), timeout=30, what="ana accepted", every=0.2
        )
