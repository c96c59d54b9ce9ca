"""Every Game field answers over HTTP from events sent through the real pipeline.

The numbers are checked exhaustively against an oracle in test_oracle*.py;
here each field's plumbing (arguments, conversion, the USD rate override) is.
"""

from collections.abc import Iterator
from datetime import timedelta

import httpx
import psycopg
import pytest

from apps.core.settings.common import parse_usd_rates
from tests.conftest import GameKey
from tests.support.analytics import analyst_token, analytics_settings, graphql, running_analytics
from tests.support.factory import batch, event, iso, now
from tests.support.poll import poll_until
from tests.support.processor import (
    module_processor,
)
from tests.support.servers import Endpoints, UvicornThread

QUERY = """
query($id: ID!, $day: Date!, $start: DateTime!, $end: DateTime!) {
  game(id: $id) {
    id
    activeUsers(from: $day, to: $day) { bucket value }
    newUsers(from: $day, to: $day, granularity: MONTH, filter: {platform: "ios"}) { bucket value }
    retention(from: $day, to: $day, days: [0, 1]) { cohort size retained { day users rate } }
    revenue(from: $day, to: $day) {
      bucket revenueUsd payingUsers purchases arpdau arppu
    }
    sessions(from: $day, to: $day, filter: {country: "DE"}) {
      bucket sessions players avgLengthSeconds
    }
    funnel(from: $day, to: $day, steps: ["session_start", "purchase"]) {
      step users conversionFromStart conversionFromPrevious
    }
    eventCounts(from: $start, to: $end, bucket: DAY, types: ["purchase", "session_end"]) {
      bucket type count
    }
    liveStats { eventsLastMinute eventsPerSecond activePlayersLast5Minutes }
  }
}
"""


processor = pytest.fixture(scope="module", name="processor")(module_processor)


@pytest.fixture(scope="module")
def euro_at_two(endpoints: Endpoints) -> Iterator[UvicornThread]:
    """An instance whose rate table says 1 EUR = 2 USD (GAMEMETRICS_USD_RATES)."""
    rates = parse_usd_rates("GAMEMETRICS_USD_RATES", "EUR=2")
    settings = analytics_settings(endpoints, usd_rates=rates)
    with running_analytics(settings) as server:
        yield server


@pytest.mark.usefixtures("processor")
def test_every_field_answers_from_events_sent_through_the_pipeline(
    euro_at_two: UvicornThread, client: httpx.Client, endpoints: Endpoints, game: GameKey
) -> None:
    t = now().replace(microsecond=0) - timedelta(seconds=30)
    if (t + timedelta(seconds=10)).date() != t.date():
        t -= timedelta(seconds=15)  # the five events on one day, even just before midnight
    at = iso(t)
    sent = [
        event("session_start", player_id="ann", timestamp=at, platform="ios", country="DE"),
        event("purchase", player_id="ann", timestamp=iso(t + timedelta(seconds=5)),
              amount=5.0, currency="EUR", platform="ios", country="DE"),
        event("session_end", player_id="ann", timestamp=iso(t + timedelta(seconds=10)),
              duration_seconds=100.0, platform="ios", country="DE"),
        event("session_start", player_id="bob", timestamp=at, platform="android", country="FR"),
        event("session_end", player_id="bob", timestamp=iso(t + timedelta(seconds=10)),
              duration_seconds=50.0, platform="android", country="FR"),
    ]  # fmt: skip
    assert client.post("/v1/events", json=batch(*sent), headers=game.auth).status_code == 202

    def stored() -> bool:
        with psycopg.connect(endpoints.postgres_dsn) as conn:
            row = conn.execute(
                "SELECT count(*) FROM events WHERE game_id = %s", (game.game_id,)
            ).fetchone()
        return row == (len(sent),)

    poll_until(stored, timeout=30, what="the events stored")
    token = analyst_token(endpoints.postgres_dsn, [game.game_id])
    day = t.date()
    variables = {
        "id": str(game.game_id),
        "day": day.isoformat(),
        "start": iso(t - timedelta(hours=1)),
        "end": iso(t + timedelta(hours=1)),
    }
    asked_on = now().date()
    r = graphql(euro_at_two.url, QUERY, token, variables)
    answered_on = now().date()
    assert r.status_code == 200
    body = r.json()
    assert "errors" not in body, body["errors"]
    g = body["data"]["game"]
    d = day.isoformat()
    assert g["activeUsers"] == [{"bucket": d, "value": 2}]
    assert g["newUsers"] == [{"bucket": day.replace(day=1).isoformat(), "value": 1}]
    day_0 = {"day": 0, "users": 2, "rate": 1.0}
    day_1 = {"day": 1, "users": 0, "rate": 0.0}
    # Day 1 is left out while it is after today; a run that crosses midnight UTC sees it.
    expected = [[day_0, day_1] if today > day else [day_0] for today in {asked_on, answered_on}]
    assert len(g["retention"]) == 1
    assert g["retention"][0]["cohort"] == d
    assert g["retention"][0]["size"] == 2
    assert g["retention"][0]["retained"] in expected
    assert g["revenue"] == [
        {"bucket": d, "revenueUsd": 10.0, "payingUsers": 1, "purchases": 1,
         "arpdau": 5.0, "arppu": 10.0},
    ]  # fmt: skip
    assert g["sessions"] == [{"bucket": d, "sessions": 1, "players": 1, "avgLengthSeconds": 100.0}]
    assert g["funnel"] == [
        {"step": "session_start", "users": 2, "conversionFromStart": 1.0,
         "conversionFromPrevious": 1.0},
        {"step": "purchase", "users": 1, "conversionFromStart": 0.5,
         "conversionFromPrevious": 0.5},
    ]  # fmt: skip
    bucket = f"{d}T00:00:00+00:00"
    assert g["eventCounts"] == [
        {"bucket": bucket, "type": "purchase", "count": 1},
        {"bucket": bucket, "type": "session_end", "count": 2},
    ]
    live = g["liveStats"]
    assert live["eventsLastMinute"] == 5
    assert live["eventsPerSecond"] == pytest.approx(5 / 60)
    assert live["activePlayersLast5Minutes"] == 2
