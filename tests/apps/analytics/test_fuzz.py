"""Hostile input against the running analytics API: never a 5xx, only documented answers,
and never another game's data.

Two games hold rollups written as the processor would (B's values are
distinctive); the token sees game A only. Hypothesis draws GraphQL requests
from the served schema (graphql_strategies.py), hostile JSON bodies and raw
bytes. The whole module stays under 40 s (700 requests; about 25 s here).
"""

import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.analytics.schema import build_schema
from apps.core.services import ANALYTICS
from apps.core.settings.analytics import AnalyticsSettings
from apps.local.process import free_port
from apps.local.services import ServiceUnit
from tests.apps.analytics.graphql_strategies import requests
from tests.conftest import GameKey, new_game
from tests.support.analytics import AnalystToken, analyst_token
from tests.support.servers import Endpoints

CODES = {"UNAUTHENTICATED", "FORBIDDEN", "BAD_USER_INPUT"}  # INTERNAL would be a bug
STATUSES = {200, 400, 401, 413}
B_REVENUE = 987654.125
B_SECONDS = 31337.5
ROLLUPS = ("daily_revenue", "segment_days", "player_days", "daily_stats", "event_counts")
FUZZ = settings(
    deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None, derandomize=True
)


@dataclass(frozen=True)
class Tenants:
    a: GameKey
    b: GameKey
    b_name: str
    token: AnalystToken
    client: httpx.Client

    def forbidden(self) -> tuple[str, ...]:
        """What must never appear in an answer to A's token."""
        return (str(self.b.game_id), self.b_name, repr(B_REVENUE), repr(B_SECONDS))


def _rollups(dsn: str, game_id: uuid.UUID, revenue: float, seconds: float) -> None:
    with psycopg.connect(dsn) as conn:
        for n in range(1, 4):
            day, player = f"2026-03-0{n}", f"p{n}"
            conn.execute(
                "INSERT INTO daily_revenue VALUES (%s, %s, 'ios', 'DE', '1.0', 'USD', %s, 2)",
                (game_id, day, revenue),
            )
            conn.execute(
                "INSERT INTO segment_days VALUES (%s, %s, 'ios', 'DE', '1.0', 5, 2, %s, 2)",
                (game_id, day, seconds),
            )
            conn.execute(
                "INSERT INTO daily_stats (game_id, day, players, session_players, paying_players,"
                " events, sessions, session_seconds, purchases)"
                " VALUES (%s, %s, 1, 1, 1, 5, 2, %s, 2)",
                (game_id, day, seconds),
            )
            conn.execute(
                "INSERT INTO event_counts (game_id, minute, event_type, events)"
                " VALUES (%s, %s, 'purchase', 2)",
                (game_id, f"{day}T10:00:00Z"),
            )
            conn.execute(
                "INSERT INTO player_days (game_id, day, player_id, platform, country, app_version,"
                " played, paid) VALUES (%s, %s, %s, 'ios', 'DE', '1.0', true, true)",
                (game_id, day, player),
            )
        conn.execute(
            "INSERT INTO game_versions (game_id, version, updated_at) VALUES (%s, 1, now())",
            (game_id,),
        )


def snapshot(dsn: str, game_id: uuid.UUID) -> dict[str, list[tuple[Any, ...]]]:
    with psycopg.connect(dsn) as conn:
        return {
            table: conn.execute(
                f"SELECT * FROM {table} WHERE game_id = %s ORDER BY 2, 3",  # noqa: S608 - constant names
                (game_id,),
            ).fetchall()
            for table in ROLLUPS
        }


@pytest.fixture(scope="module")
def service(endpoints: Endpoints, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The service as production runs it: its own process (`gamemetrics serve analytics`),
    configured from the environment for the prod stack (no GraphiQL, no introspection).

    A process of its own also keeps its connection pool's use of `random` out of
    hypothesis's generation, which watches the global random state.
    """
    port = free_port()
    settings = AnalyticsSettings(
        postgres_dsn=endpoints.postgres_dsn, redis_url=endpoints.redis_url, stack="prod",
        host="127.0.0.1", port=port, graphiql=False, introspection=False,
    )  # fmt: skip
    env = {**os.environ, **settings.env()}
    unit = ServiceUnit(ANALYTICS, port, env, tmp_path_factory.mktemp("fuzz") / "analytics.log")
    unit.start()
    try:
        yield unit.url
    finally:
        unit.stop(10)


@pytest.fixture(scope="module")
def tenants(service: str, endpoints: Endpoints) -> Iterator[Tenants]:
    dsn = endpoints.postgres_dsn
    a, b = new_game(dsn), new_game(dsn)
    _rollups(dsn, a.game_id, 12.5, 60.0)
    _rollups(dsn, b.game_id, B_REVENUE, B_SECONDS)
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT name FROM games WHERE game_id = %s", (b.game_id,)).fetchone()
    assert row is not None
    before = snapshot(dsn, b.game_id)
    with httpx.Client(base_url=service, timeout=30) as client:
        yield Tenants(a, b, row[0], analyst_token(dsn, [a.game_id]), client)
    assert snapshot(dsn, b.game_id) == before, "game B's rollups changed"


def post(t: Tenants, content: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
    return t.client.post(
        "/graphql", content=content,
        headers={**t.token.auth, "Content-Type": "application/json", **(headers or {})},
    )  # fmt: skip


def check(t: Tenants, r: httpx.Response) -> None:
    """The documented answer: status, shape, codes; nothing of game B."""
    assert r.status_code in STATUSES, (r.status_code, r.text[:500])
    body = r.json()
    assert isinstance(body, dict)
    assert set(body) <= {"data", "errors"}, body
    assert body, "an empty answer"
    if r.status_code != 200:
        assert "data" not in body
    for error in body.get("errors", ()):
        assert set(error) <= {"message", "locations", "path", "extensions"}, error
        assert isinstance(error["message"], str)
        assert error["message"]
        assert error["extensions"]["code"] in CODES, error
        for loc in error.get("locations", ()):
            assert set(loc) == {"line", "column"}
        assert "OperationType" not in error["message"]
        assert "Traceback" not in error["message"]
    for secret in t.forbidden():
        assert secret not in r.text, f"game B's {secret!r} answered to A's token"


SCHEMA = build_schema()._schema


@settings(FUZZ, max_examples=200)
@given(data=st.data())
def test_generated_graphql_requests(tenants: Tenants, data: st.DataObject) -> None:
    ids = [str(tenants.a.game_id), str(tenants.b.game_id), str(uuid.uuid4())]
    body = data.draw(requests(SCHEMA, ids))
    check(tenants, post(tenants, json.dumps(body).encode()))


@settings(FUZZ, max_examples=80)
@given(
    payload=st.recursive(
        st.one_of(
            st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
            st.text(max_size=30), st.sampled_from(["{ games { id } }", "{ __schema { types"]),
        ),
        lambda inner: st.one_of(
            st.lists(inner, max_size=4),
            st.dictionaries(
                st.sampled_from(["query", "variables", "operationName", "extensions", "x"]),
                inner, max_size=4,
            ),
        ),
        max_leaves=30,
    )
)  # fmt: skip
def test_hostile_json_bodies(tenants: Tenants, payload: object) -> None:
    check(tenants, post(tenants, json.dumps(payload).encode()))


@settings(FUZZ, max_examples=80)
@given(
    content=st.one_of(
        st.binary(max_size=300),
        st.sampled_from(
            [
                b"[" * 20_000, b"{" * 20_000, b'{"query": "' + b"\xff" * 10 + b'"}',
                b'{"query": "{ games { id } }", "variables": ' + b"[" * 3000 + b"]" * 3000 + b"}",
                b'{"query": "\\ud800"}', b"\x00" * 100, b'{"query": "{ games { id } }"}' * 2,
            ]
        ),
        st.binary(max_size=100).map(lambda junk: b'{"query": "{ games { ' + junk + b' } }"}'),
    )
)  # fmt: skip
def test_raw_bytes(tenants: Tenants, content: bytes) -> None:
    check(tenants, post(tenants, content))
