"""`GET /v1/games/{game_id}/players/{player_id}`: the profile of events sent through the real
pipeline equals the recomputation and the GraphQL answer; roles, tenancy and bad ids."""

import uuid
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
import psycopg
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from apps.core.currency import USD_PER_UNIT
from apps.core.roles import ROLES, at_least
from apps.core.settings.common import parse_usd_rates
from tests.conftest import new_game
from tests.support.eventsets import LATE_HORIZON_DAYS, EventSet, body, deliver, event_sets
from tests.support.processor import ThreadedProcessor, processor_settings, processor_thread
from tests.support.profile_oracle import expected_profile, players, profile_differences
from tests.support.servers import Endpoints, UvicornThread
from tests.support.users import Person, person, running_users, users_settings

NOW = datetime.now(UTC)
FIELDS = """
  id firstSeen lastSeen firstPlatform firstCountry firstAppVersion daysActive sessions
  sessionSeconds revenueUsd purchases
  lastEvents { eventId type time properties amount currency }
"""


def _at(days: int, seconds: float) -> datetime:
    midnight = datetime.combine(NOW.date() - timedelta(days=days), datetime.min.time(), UTC)
    return midnight + timedelta(seconds=seconds)


@pytest.fixture(scope="module")
def processor(endpoints: Endpoints) -> Iterator[ThreadedProcessor]:
    settings_ = processor_settings(endpoints.postgres_dsn, endpoints.kafka_bootstrap)
    with processor_thread(settings_) as running:
        yield running


@pytest.fixture(scope="module")
def ingest_client(ingest: UvicornThread, processor: ThreadedProcessor) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=ingest.url, timeout=15) as c:
        yield c


def _delivered(client: httpx.Client, dsn: str, waves: Sequence[Sequence[Any]]) -> uuid.UUID:
    game = new_game(dsn, late_horizon_days=LATE_HORIZON_DAYS)
    deliver(client, game.auth, game.game_id, EventSet(tuple(tuple(w) for w in waves)), dsn)
    return game.game_id


def _path(game_id: uuid.UUID | str, player: str) -> str:
    return f"/v1/games/{game_id}/players/{quote(player, safe='')}"


def _get(url: str, who: Person, game_id: uuid.UUID | str, player: str, **query: str) -> Any:
    return httpx.get(url + _path(game_id, player), params=query, headers=who.auth, timeout=30)


_KEYS = {
    "player_id": "id",
    "first_seen": "firstSeen",
    "last_seen": "lastSeen",
    "first_platform": "firstPlatform",
    "first_country": "firstCountry",
    "first_app_version": "firstAppVersion",
    "days_active": "daysActive",
    "sessions": "sessions",
    "session_seconds": "sessionSeconds",
    "revenue_usd": "revenueUsd",
    "purchases": "purchases",
    "last_events": "lastEvents",
}
_EVENT_KEYS = {"event_id": "eventId", "type": "type", "time": "time",
               "properties": "properties", "amount": "amount", "currency": "currency"}  # fmt: skip


def as_oracle(answer: Mapping[str, Any]) -> dict[str, Any]:
    """The REST JSON in the oracle's shape: its camelCase keys, times as datetimes. Every
    key must be one the contract names (a missing or extra one fails the comparison)."""
    out = {_KEYS.get(k, f"unexpected {k}"): v for k, v in answer.items()}
    for key in ("firstSeen", "lastSeen"):
        out[key] = datetime.fromisoformat(out[key])
    out["lastEvents"] = [
        {_EVENT_KEYS.get(k, f"unexpected {k}"): v for k, v in e.items()} for e in out["lastEvents"]
    ]
    for e in out["lastEvents"]:
        e["time"] = datetime.fromisoformat(e["time"])
    return out


def _profile(r: httpx.Response) -> dict[str, Any]:
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    return as_oracle(r.json())


def _differences(
    sent: Sequence[Mapping[str, Any]], player: str, got: Any,
    rates: Mapping[str, float] = USD_PER_UNIT,
) -> list[str]:  # fmt: skip
    return profile_differences(expected_profile(sent, player, rates), got, player)


WAVE = [
    body("session_start", "ana", _at(3, 100), platform="ios", country="de", app_version="1.2"),
    body("session_end", "ana", _at(3, 900), duration_seconds=800.5, platform="android"),
    body("purchase", "ana", _at(1, 50), amount=4.99, currency="EUR", item_id="gems"),
    body("purchase", "ana", _at(1, 60), amount=250, currency="JPY"),
    body("design", "ana", _at(0, 5), properties={"where": "shop", "n": [1, 2.5, None]}),
    body(
        "design",
        "ana",
        _at(0, 6),
        properties={"big": 1e300, "i": [2**63 - 1, -(2**63)], "deep": {"x": "\u00e9\n"}},
    ),
    body("design", "bo", _at(2, 5)),
    # A player id with a slash, a space, a non-ASCII letter and a percent sign.
    body("purchase", "steam/42 é%", _at(1, 7), amount=2.5, currency="USD", country="fr"),
]


@pytest.fixture(scope="module")
def played(ingest_client: httpx.Client, endpoints: Endpoints) -> uuid.UUID:
    return _delivered(ingest_client, endpoints.postgres_dsn, [WAVE])


def test_the_profile_answers_as_the_recomputation_and_as_graphql(
    users: UvicornThread, analytics: UvicornThread, endpoints: Endpoints, played: uuid.UUID
) -> None:
    analyst = person(users.url, endpoints.postgres_dsn, {played: "analyst"})
    query = f"query($g: ID!, $p: ID!) {{ game(id: $g) {{ player(id: $p) {{ {FIELDS} }} }} }}"
    for player in sorted(players(WAVE)):
        got = _profile(_get(users.url, analyst, played, player))
        assert _differences(WAVE, player, got) == []
        # The same values as GraphQL gives the same session (floats to the last bit).
        r = httpx.post(
            analytics.url + "/graphql", headers=analyst.auth, timeout=30,
            json={"query": query, "variables": {"g": str(played), "p": player}},
        )  # fmt: skip
        graphql = r.json()["data"]["game"]["player"]
        for key in ("firstSeen", "lastSeen"):
            graphql[key] = datetime.fromisoformat(graphql[key])
        for e in graphql["lastEvents"]:
            e["time"] = datetime.fromisoformat(e["time"])
        assert got == graphql
    # The slash may also travel unencoded.
    raw = httpx.get(users.url + f"/v1/games/{played}/players/steam/42 é%25", headers=analyst.auth)
    assert _differences(WAVE, "steam/42 é%", _profile(raw)) == []


def test_events_trims_the_last_events(
    users: UvicornThread, endpoints: Endpoints, played: uuid.UUID
) -> None:
    analyst = person(users.url, endpoints.postgres_dsn, {played: "analyst"})
    full = _get(users.url, analyst, played, "ana").json()
    assert len(full["last_events"]) == 6
    for n in (0, 1, 5, 50):
        r = _get(users.url, analyst, played, "ana", events=str(n))
        assert r.status_code == 200, r.text
        assert r.json() == {**full, "last_events": full["last_events"][:n]}
    for bad in ("-1", "51", "x", "1.5", "9" * 30):
        r = _get(users.url, analyst, played, "ana", events=bad)
        assert (r.status_code, r.json()["field"]) == (400, "events"), (bad, r.text)


def test_an_unknown_player_and_bad_ids_are_named(
    users: UvicornThread, endpoints: Endpoints, played: uuid.UUID
) -> None:
    analyst = person(users.url, endpoints.postgres_dsn, {played: "analyst"})
    r = _get(users.url, analyst, played, "never-played")
    assert (r.status_code, r.json()["field"]) == (404, "player_id"), r.text
    assert "never-played" in r.json()["error"]
    for bad, says in (("p" * 129, "1..128 characters"), ("a\nb", "control characters"),
                      ("a\x00b", "control characters"), ("a\x85b", "control characters"),
                      ("", "1..128 characters")):  # fmt: skip
        r = _get(users.url, analyst, played, bad)
        assert (r.status_code, r.json().get("field")) == (400, "player_id"), (bad, r.text)
        assert says in r.json()["error"]
    r = _get(users.url, analyst, "not-a-game", "ana")
    assert (r.status_code, r.json()["field"]) == (400, "game_id"), r.text


def test_roles_and_tenancy(
    users: UvicornThread, ingest_client: httpx.Client, endpoints: Endpoints, played: uuid.UUID
) -> None:
    dsn = endpoints.postgres_dsn
    expected = _get(users.url, person(users.url, dsn, {played: "owner"}), played, "ana").json()
    for role in ROLES:
        caller = person(users.url, dsn, {played: role})
        r = _get(users.url, caller, played, "ana")
        if at_least(role, "analyst"):
            assert (r.status_code, r.json()) == (200, expected), (role, r.text)
        else:
            assert (r.status_code, r.json()["required_role"]) == (403, "analyst"), r.text
            assert "analyst" in r.json()["error"]
    # Game B has its own "ana": an analyst of B reads B's ana only, and nothing of A.
    only_b = [body("design", "ana", _at(1, 2)), body("session_end", "ana", _at(1, 3))]
    game_b = _delivered(ingest_client, dsn, [only_b])
    analyst_b = person(users.url, dsn, {game_b: "analyst"})
    for player in ("ana", "bo"):
        r = _get(users.url, analyst_b, played, player)
        assert (r.status_code, r.json()["field"]) == (404, "game_id"), r.text
        assert str(played) in r.json()["error"]
    assert _differences(only_b, "ana", _profile(_get(users.url, analyst_b, game_b, "ana"))) == []
    r = _get(users.url, analyst_b, game_b, "bo")  # A's player, not B's
    assert (r.status_code, r.json()["field"]) == (404, "player_id")
    # Checked before any lookup: the same 404 for a game that does not exist.
    r = _get(users.url, analyst_b, uuid.uuid4(), "ana")
    assert (r.status_code, r.json()["field"]) == (404, "game_id")


@pytest.fixture(scope="module")
def euro_at_two(endpoints: Endpoints) -> Iterator[UvicornThread]:
    """A users service whose rate table says 1 EUR = 2 USD (GAMEMETRICS_USD_RATES)."""
    rates = parse_usd_rates("GAMEMETRICS_USD_RATES", "EUR=2")
    with running_users(users_settings(endpoints, usd_rates=rates)) as server:
        yield server


def test_revenue_uses_the_services_rate_table(
    euro_at_two: UvicornThread, endpoints: Endpoints, played: uuid.UUID
) -> None:
    analyst = person(euro_at_two.url, endpoints.postgres_dsn, {played: "analyst"})
    got = _profile(_get(euro_at_two.url, analyst, played, "ana"))
    rates = {**USD_PER_UNIT, "EUR": 2.0}
    assert _differences(WAVE, "ana", got, rates) == []
    assert got["revenueUsd"] == pytest.approx(4.99 * 2 + 250 * USD_PER_UNIT["JPY"], rel=1e-12)


@pytest.fixture(scope="module")
def impatient(endpoints: Endpoints) -> Iterator[UvicornThread]:
    """A users service whose statements may take 0.3 s."""
    settings_ = users_settings(endpoints, statement_timeout=timedelta(seconds=0.3))
    with running_users(settings_) as server:
        yield server


def test_a_profile_past_the_statement_timeout_is_a_503_saying_so(
    impatient: UvicornThread, endpoints: Endpoints, played: uuid.UUID
) -> None:
    analyst = person(impatient.url, endpoints.postgres_dsn, {played: "analyst"})
    with psycopg.connect(endpoints.postgres_dsn) as conn:
        conn.execute("LOCK TABLE players IN ACCESS EXCLUSIVE MODE")  # until the rollback
        r = _get(impatient.url, analyst, played, "ana")
        conn.rollback()
    assert r.status_code == 503, r.text
    assert r.headers["Retry-After"] == "1"
    assert "statement timeout" in r.json()["error"]
    assert _get(impatient.url, analyst, played, "ana").status_code == 200


# No shrinking: each example is a new game through the whole pipeline.
@settings(
    max_examples=4,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_every_players_rest_profile_equals_the_recomputation(
    users: UvicornThread, ingest_client: httpx.Client, endpoints: Endpoints, data: st.DataObject
) -> None:
    events = data.draw(event_sets(NOW), label="events")
    game = new_game(endpoints.postgres_dsn, late_horizon_days=LATE_HORIZON_DAYS)
    deliver(ingest_client, game.auth, game.game_id, events, endpoints.postgres_dsn)
    sent = events.sent()
    analyst = person(users.url, endpoints.postgres_dsn, {game.game_id: "analyst"})
    problems: list[str] = []
    for player in sorted(players(sent)):
        problems += _differences(sent, player, _profile(_get(users.url, analyst, game.game_id,
                                                             player)))[:8]  # fmt: skip
    assert not problems, "\n".join(problems)
