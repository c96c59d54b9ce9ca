"""`game(id) { player(id) { ... } }` over HTTP: the profile of events sent through the real
pipeline, null for an unknown player, never another game's player, bad ids named."""

import json
import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import new_game
from tests.support.analytics import AnalystToken, analyst_token, graphql, only_error
from tests.support.eventsets import LATE_HORIZON_DAYS, EventSet, body, deliver
from tests.support.processor import (
    ThreadedProcessor,
    module_processor,
)
from tests.support.profile_oracle import expected_profile, profile_differences
from tests.support.servers import Endpoints, UvicornThread

FIELDS = """
  id firstSeen lastSeen firstPlatform firstCountry firstAppVersion daysActive sessions
  sessionSeconds revenueUsd purchases
  lastEvents { eventId type time properties amount currency }
"""
QUERY = f"""
query($game: ID!, $player: ID!) {{ game(id: $game) {{ player(id: $player) {{ {FIELDS} }} }} }}
"""
NOW = datetime.now(UTC)


def _at(days: int, seconds: float) -> datetime:
    midnight = datetime.combine(NOW.date() - timedelta(days=days), datetime.min.time(), UTC)
    return midnight + timedelta(seconds=seconds)


processor = pytest.fixture(scope="module", name="processor")(module_processor)


@pytest.fixture(scope="module")
def ingest_client(ingest: UvicornThread, processor: ThreadedProcessor) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=ingest.url, timeout=15) as c:
        yield c


def _game_with(
    client: httpx.Client, dsn: str, waves: Sequence[Sequence[dict[str, Any]]], stop: int = 1
) -> tuple[uuid.UUID, dict[str, str], EventSet]:
    game = new_game(dsn, late_horizon_days=LATE_HORIZON_DAYS)
    events = EventSet(tuple(tuple(w) for w in waves))
    deliver(client, game.auth, game.game_id, events, dsn, stop=stop)
    return game.game_id, game.auth, events


def _ask(url: str, token: AnalystToken, game_id: uuid.UUID, player: str) -> httpx.Response:
    # JSON text with \u escapes (json.dumps), as a client may send it.
    body = {"query": QUERY, "variables": {"game": str(game_id), "player": player}}
    headers = {**token.auth, "Content-Type": "application/json"}
    return httpx.post(url + "/graphql", content=json.dumps(body), headers=headers, timeout=30)


def _profile(r: httpx.Response) -> dict[str, Any] | None:
    assert r.status_code == 200, r.text
    answer = r.json()
    assert "errors" not in answer, answer["errors"]
    player: dict[str, Any] | None = answer["data"]["game"]["player"]
    if player is None:
        return None
    for key in ("firstSeen", "lastSeen"):
        player[key] = datetime.fromisoformat(player[key])
    for e in player["lastEvents"]:
        e["time"] = datetime.fromisoformat(e["time"])
    return player


def _cache_hits(server: UvicornThread) -> float:
    text = httpx.get(server.url + "/metrics").text
    found = re.findall(r'^gm_analytics_cache_total\{result="hit"\} (\S+)$', text, re.M)
    return float(found[0]) if found else 0.0


def _differences(sent: Sequence[Mapping[str, Any]], player: str, got: Any) -> list[str]:
    return profile_differences(expected_profile(sent, player), got, player)


WAVE_1 = [
    body("session_start", "ana", _at(3, 100), platform="ios", country="de", app_version="1.2"),
    body("session_end", "ana", _at(3, 900), duration_seconds=800.5, platform="android"),
    body("purchase", "ana", _at(1, 50), amount=4.99, currency="EUR", item_id="gems"),
    body("purchase", "ana", _at(1, 60), amount=250, currency="JPY"),
    body("design", "ana", _at(0, 5), properties={"where": "shop", "n": [1, 2.5, None]}),
    # numbers jsonb prints as long digit strings, and the ends of 64-bit integers
    body(
        "design",
        "ana",
        _at(0, 6),
        properties={
            "big": 1e300,
            "max": 1.7976931348623157e308,
            "tiny": 5e-324,
            "i": [2**63 - 1, -(2**63)],
            "nested": {"deep": {"x": "\u00e9\n"}},
        },
    ),
    body("design", "bo", _at(2, 5)),
]
WAVE_2 = [
    body("purchase", "ana", _at(0, 70), amount=1.0, currency="USD"),
    body("design", "ana", _at(5, 1), platform="web"),  # late: ana's first event now
]


def test_the_profile_answers_as_the_recomputation_and_follows_new_events(
    analytics: UvicornThread, ingest_client: httpx.Client, endpoints: Endpoints
) -> None:
    game_id, auth, events = _game_with(ingest_client, endpoints.postgres_dsn, [WAVE_1, WAVE_2])
    token = analyst_token(endpoints.postgres_dsn, [game_id])
    answers = {p: _profile(_ask(analytics.url, token, game_id, p)) for p in ("ana", "bo")}
    for player, got in answers.items():
        assert _differences(WAVE_1, player, got) == []
    # Asked again: the same answer, from the cache.
    hits = _cache_hits(analytics)
    assert _profile(_ask(analytics.url, token, game_id, "ana")) == answers["ana"]
    assert _cache_hits(analytics) == hits + 1
    assert _profile(_ask(analytics.url, token, game_id, "cy")) is None
    # Cached under the game's data version: new events are seen at once.
    deliver(ingest_client, auth, game_id, events, endpoints.postgres_dsn, start=1)
    got = _profile(_ask(analytics.url, token, game_id, "ana"))
    assert _differences([*WAVE_1, *WAVE_2], "ana", got) == []
    assert got is not None
    assert (got["firstPlatform"], got["purchases"], got["daysActive"]) == ("web", 3, 4)


def test_a_token_never_reads_another_games_player(
    analytics: UvicornThread, ingest_client: httpx.Client, endpoints: Endpoints
) -> None:
    dsn = endpoints.postgres_dsn
    game_a, _, _ = _game_with(ingest_client, dsn, [[body("purchase", "ana", _at(1, 1))]])
    only_b = [body("design", "bo", _at(1, 2)), body("session_end", "ana", _at(1, 3))]
    game_b, _, _ = _game_with(ingest_client, dsn, [only_b])
    token_b = analyst_token(dsn, [game_b])
    error = only_error(_ask(analytics.url, token_b, game_a, "ana"))
    assert error["extensions"] == {"code": "FORBIDDEN"}
    assert error["message"] == "game not found"
    assert _profile(_ask(analytics.url, token_b, game_b, "never-in-b")) is None
    got = _profile(_ask(analytics.url, token_b, game_b, "ana"))
    assert _differences(only_b, "ana", got) == []  # B's ana only: no purchase of A's
    # Under `games`, each game answers for its own player of that id.
    both = analyst_token(dsn, [game_a, game_b])
    r = graphql(analytics.url, '{ games { id player(id: "ana") { purchases sessions } } }', both)
    assert r.json()["data"]["games"] == [
        {"id": str(game_a), "player": {"purchases": 1, "sessions": 0}},
        {"id": str(game_b), "player": {"purchases": 0, "sessions": 1}},
    ]


@pytest.mark.parametrize(
    ("player", "says"),
    [
        ("", "1..128 characters"),
        ("p" * 129, "1..128 characters"),
        ("a\nb", "control characters"),
        ("a\x00b", "control characters"),
        ("a\x85b", "control characters"),
    ],
)
def test_a_bad_player_id_is_bad_user_input_naming_the_argument(
    analytics: UvicornThread, endpoints: Endpoints, player: str, says: str
) -> None:
    game = new_game(endpoints.postgres_dsn)
    token = analyst_token(endpoints.postgres_dsn, [game.game_id])
    # As a variable and as a literal: JSON's escapes are GraphQL's, so it is the same value.
    inline = f'{{ game(id: "{game.game_id}") {{ player(id: {json.dumps(player)}) {{ id }} }} }}'
    for r in (
        _ask(analytics.url, token, game.game_id, player),
        graphql(analytics.url, inline, token),
    ):
        assert r.status_code == 200, r.text
        error = only_error(r)
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert error["extensions"]["argument"] == "id"
        assert "control characters" in error["extensions"]["allowed"]
        assert says in error["message"]
        assert error["path"] == ["game", "player"]
