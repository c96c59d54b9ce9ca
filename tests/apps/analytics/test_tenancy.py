"""A token never reads another game's data, whatever the query.

Two games hold events of the same player ids on the same days (so any leak
changes a number); a third has none. Tokens for one game, for two, and for all
games ask every field: their own games answer exactly what the oracle computes
from that game's events alone; any other game answers as a game that does not
exist, whether asked directly, under aliases, through variables, in another
spelling of its id, or through the `games` list.
"""

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest

from apps.store import tokens
from tests.apps.analytics.oracle_pipeline import Delivered, Stack, compare, send
from tests.conftest import new_game
from tests.support.analytics import AnalystToken, analyst_token, graphql
from tests.support.eventsets import EventSet, all_series, body
from tests.support.oracle import (
    LIVE_STATS,
    EventCounts,
    Filter,
    Funnel,
    Json,
    Oracle,
    Query,
    Retention,
    differences,
)
from tests.support.poll import poll_until
from tests.support.processor import (
    ThreadedProcessor,
    module_processor,
)
from tests.support.servers import Endpoints, UvicornThread

NOW = datetime.now(UTC)
DAY0 = NOW.date() - timedelta(days=9)


def _at(days: int, hours: float) -> datetime:
    return datetime.combine(DAY0, datetime.min.time(), UTC) + timedelta(days=days, hours=hours)


EVENTS_A = EventSet(
    (
        (
            body("design", "ana", _at(0, 9), platform="ios", country="DE"),
            body("purchase", "ana", _at(0, 10), platform="ios", amount=4.99, currency="EUR"),
            body("session_end", "bo", _at(1, 8), duration_seconds=60),
            body("design", "bo", _at(2, 8), platform="ios"),
        ),
    )
)
EVENTS_B = EventSet(
    (
        (
            body("design", "ana", _at(0, 9), platform="android", country="US"),
            body("purchase", "ana", _at(0, 11), platform="ios", amount=99, currency="USD"),
            body("purchase", "bo", _at(1, 9), amount=1000, currency="JPY"),
            body("session_end", "bo", _at(1, 8), duration_seconds=600),
            body("session_end", "cy", _at(2, 8), platform="ios", duration_seconds=6),
            body("design", "cy", _at(3, 8)),
            body("purchase", "dee", _at(2, 1), platform="ios", amount=5, currency="GBP"),
        ),
    )
)
FIRST, LAST = DAY0 - timedelta(days=1), DAY0 + timedelta(days=4)
QUERIES: list[Query] = [
    *all_series(FIRST, LAST),
    *all_series(FIRST, LAST, Filter(platform="ios")),
    Retention(FIRST, LAST, (1, 2)),
    Retention(FIRST, LAST, (1,), Filter(platform="android")),
    Funnel(FIRST, LAST, ("design", "purchase")),
    Funnel(FIRST, LAST, ("session_end", "design"), 3 * 86400),
    EventCounts(_at(-1, 0), _at(5, 0), "HOUR"),
    EventCounts(_at(-1, 0), _at(5, 0), "DAY", ("purchase", "design")),
]


processor = pytest.fixture(scope="module", name="processor")(module_processor)


@dataclass(frozen=True)
class Tenants:
    url: str
    a: Delivered
    b: Delivered
    c: uuid.UUID
    """A game without events."""
    a_and_c: AnalystToken
    every_game: AnalystToken


@pytest.fixture(scope="module")
def tenants(
    endpoints: Endpoints,
    ingest: UvicornThread,
    analytics: UvicornThread,
    processor: ThreadedProcessor,
) -> Tenants:
    dsn = endpoints.postgres_dsn
    with httpx.Client(base_url=ingest.url, timeout=15) as client:
        stack = Stack(dsn, client, analytics.url)
        a, b = send(stack, EVENTS_A), send(stack, EVENTS_B)
    c = new_game(dsn).game_id
    return Tenants(
        analytics.url, a, b, c,
        analyst_token(dsn, [a.game_id, c]), analyst_token(dsn, None),
    )  # fmt: skip


def _fields() -> dict[str, str]:
    fields = {f"q{i}": q.graphql() for i, q in enumerate(QUERIES)}
    fields["live"] = LIVE_STATS
    return fields


def _only_data(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    answer = response.json()
    assert "errors" not in answer, answer["errors"]
    return answer["data"]


def test_each_token_reads_its_games_exactly(tenants: Tenants) -> None:
    t = tenants
    # each pair twice: the second answers may come from the cache
    pairs = [(t.a.token, t.a), (t.every_game, t.b), (t.b.token, t.b), (t.every_game, t.a),
             (t.a_and_c, t.a)]  # fmt: skip
    for token, delivered in pairs * 2:
        compare(t.url, Delivered(delivered.game_id, token, delivered.events), QUERIES)
    for token in (t.a_and_c, t.every_game):
        compare(t.url, Delivered(t.c, token, EventSet(())), QUERIES, Oracle([]))


def _game_ids(url: str, token: AnalystToken) -> list[str]:
    return [g["id"] for g in _only_data(graphql(url, "{ games { id name } }", token))["games"]]


def test_games_lists_only_the_tokens_games(tenants: Tenants) -> None:
    t = tenants
    assert _game_ids(t.url, t.a.token) == [str(t.a.game_id)]
    assert _game_ids(t.url, t.b.token) == [str(t.b.game_id)]
    assert sorted(_game_ids(t.url, t.a_and_c)) == sorted([str(t.a.game_id), str(t.c)])
    assert {str(t.a.game_id), str(t.b.game_id), str(t.c)} <= set(_game_ids(t.url, t.every_game))


def test_metrics_nested_in_the_games_list_hold_only_each_games_data(tenants: Tenants) -> None:
    t = tenants
    fields = {f"q{i}": q.graphql() for i, q in enumerate(QUERIES[:8])}
    document = "{ games { id " + " ".join(f"{a}: {f}" for a, f in fields.items()) + " } }"
    today = datetime.now(UTC).date()
    expected = {
        str(t.a.game_id): Oracle(EVENTS_A.events()),
        str(t.c): Oracle([]),
    }
    listed = _only_data(graphql(t.url, document, t.a_and_c))["games"]
    assert sorted(g["id"] for g in listed) == sorted(expected)
    for game in listed:
        oracle = expected[game["id"]]
        for alias, query in zip(fields, QUERIES, strict=False):
            assert differences(query.expect(oracle, today), game[alias], alias) == []


def _error_of(response: httpx.Response, game_id: object) -> Json:
    """The whole answer, with the asked id replaced, to compare two answers' shapes."""
    assert response.status_code == 200, response.text
    return json.loads(response.text.replace(str(game_id), "<ID>"))


def test_another_games_id_answers_as_a_game_that_does_not_exist(tenants: Tenants) -> None:
    t = tenants
    other = str(t.b.game_id)
    every_field = [("id", "id"), ("name", "name"), *_fields().items()]
    cases = [(t.a.token, other, field) for field in every_field] + [
        (asker, game_id, field)
        for asker, game_id in [
            (t.a.token, other.upper()), (t.a_and_c, other), (t.b.token, str(t.a.game_id)),
        ]
        for field in every_field[::6]
    ]  # fmt: skip
    for asker, game_id, (alias, field) in cases:
        selection = field if alias in ("id", "name") else f"{alias}: {field}"
        query = f'{{ game(id: "{game_id}") {{ {selection} }} }}'
        refused = graphql(t.url, query, asker)
        unknown_id = str(uuid.uuid4())
        unknown = graphql(t.url, query.replace(game_id, unknown_id), asker)
        answer = refused.json()
        assert answer["data"] == {"game": None}, (alias, answer)
        assert [e["extensions"]["code"] for e in answer["errors"]] == ["FORBIDDEN"]
        assert _error_of(refused, game_id) == _error_of(unknown, unknown_id)


def test_variables_and_aliases_do_not_open_another_game(tenants: Tenants) -> None:
    t = tenants
    fields = _fields()
    selection = " ".join(f"{a}: {f}" for a, f in list(fields.items())[:4])
    by_variable = graphql(
        t.url, f"query($id: ID!) {{ game(id: $id) {{ {selection} }} }}", t.a.token,
        {"id": str(t.b.game_id)},
    )  # fmt: skip
    assert by_variable.json()["data"] == {"game": None}
    assert [e["extensions"]["code"] for e in by_variable.json()["errors"]] == ["FORBIDDEN"]

    document = (
        f'{{ mine: game(id: "{t.a.game_id}") {{ id {selection} }}'
        f' theirs: game(id: "{t.b.game_id}") {{ id {selection} }} }}'
    )
    answer = graphql(t.url, document, t.a.token).json()
    assert answer["data"]["theirs"] is None
    assert [(e["path"], e["extensions"]["code"]) for e in answer["errors"]] == [
        (["theirs"], "FORBIDDEN")
    ]
    mine = answer["data"]["mine"]
    assert mine["id"] == str(t.a.game_id)
    oracle, today = Oracle(EVENTS_A.events()), datetime.now(UTC).date()
    for alias, query in list(zip(fields, QUERIES, strict=False))[:4]:
        assert differences(query.expect(oracle, today), mine[alias], alias) == []


def test_unknown_and_revoked_tokens_read_nothing(tenants: Tenants, endpoints: Endpoints) -> None:
    t = tenants
    query = f'{{ game(id: "{t.a.game_id}") {{ id {QUERIES[0].graphql()} }} games {{ id }} }}'
    forged = AnalystToken(uuid.uuid4(), t.a.token.token[:-4] + "AAAA")
    for token in (forged, None):
        r = graphql(t.url, query, token)
        assert r.status_code == 401
        assert "data" not in r.json() or r.json()["data"] is None
        assert [e["extensions"]["code"] for e in r.json()["errors"]] == ["UNAUTHENTICATED"]

    doomed = analyst_token(endpoints.postgres_dsn, [t.a.game_id])
    assert graphql(t.url, query, doomed).status_code == 200
    with psycopg.connect(endpoints.postgres_dsn) as conn:
        assert tokens.revoke_token(conn, doomed.token_id)
    poll_until(
        lambda: graphql(t.url, query, doomed).status_code == 401,
        timeout=10, what="the revoked token to be refused",
    )  # fmt: skip
