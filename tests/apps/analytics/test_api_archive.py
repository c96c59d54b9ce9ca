"""The API over archived days: the same GraphQL answers before and after days move to the
archive (funnel and eventCounts read it; the rollup metrics never read raw events); a
day that cannot be read is a clear error naming it (never a 500, never a partial
answer); S3 down fails only the fields that need an archived day, and /readyz does not
depend on it."""

from collections.abc import Iterator
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import httpx
import psycopg
import pytest

from apps.local.process import free_port
from apps.local.servers import EmbeddedS3
from apps.retention.passes import Pass
from apps.store import archived_days
from tests.apps.analytics.queries.conftest import Store
from tests.apps.analytics.queries.rows import event
from tests.apps.analytics.queries.test_archived import write_journeys
from tests.apps.analytics.queries.test_counts_live import write_counts
from tests.conftest import GameKey
from tests.support.analytics import (
    AnalystToken,
    analytics_settings,
    graphql,
    only_error,
    running_analytics,
)
from tests.support.archive import Bucketed
from tests.support.retention import retention_settings
from tests.support.servers import Endpoints, UvicornThread

D10, D11 = date(2026, 3, 10), date(2026, 3, 11)
QUERY = """
query Q($game: ID!) {
  game(id: $game) {
    all: funnel(from: "2026-03-10", to: "2026-03-11", steps: ["a", "b", "c"],
                windowSeconds: 172800) {
      step users conversionFromStart conversionFromPrevious
    }
    unset: funnel(from: "2026-03-10", to: "2026-03-12", steps: ["a", "b"],
                  filter: {platform: ""}) { step users }
    edges: eventCounts(from: "2026-03-10T10:00:30Z", to: "2026-03-10T12:00:15Z",
                       bucket: MINUTE) { bucket type count }
    midnight: eventCounts(from: "2026-03-10T23:59:30Z", to: "2026-03-11T00:00:20Z",
                          bucket: HOUR, types: ["a"]) { bucket type count }
    activeUsers(from: "2026-03-09", to: "2026-03-12") { bucket value }
    newUsers(from: "2026-03-09", to: "2026-03-12", filter: {platform: ""}) { bucket value }
    retention(from: "2026-03-09", to: "2026-03-11", days: [0, 1, 2]) {
      cohort size retained { day users rate }
    }
    revenue(from: "2026-03-09", to: "2026-03-12") {
      bucket revenueUsd payingUsers purchases arpdau arppu
    }
    sessions(from: "2026-03-09", to: "2026-03-12") {
      bucket sessions players avgLengthSeconds
    }
  }
}
"""
LATER = """
query Q($game: ID!) {
  game(id: $game) {
    later: funnel(from: "2026-03-12", to: "2026-03-12", steps: ["b", "c"]) { step users }
  }
}
"""
ARCHIVED = """
query Q($game: ID!) {
  game(id: $game) {
    archived: funnel(from: "2026-03-10", to: "2026-03-10", steps: ["a", "b"]) { step users }
  }
}
"""
LATER_STEPS = {"later": [{"step": "b", "users": 1}, {"step": "c", "users": 1}]}


@pytest.fixture(scope="module")
def bucket(s3: EmbeddedS3) -> Bucketed:
    return Bucketed(s3.settings)


@pytest.fixture(scope="module")
def served(endpoints: Endpoints, bucket: Bucketed) -> Iterator[UvicornThread]:
    """An instance reading the module's archive bucket, without the cache (so each answer
    is computed)."""
    settings = analytics_settings(
        endpoints, s3=bucket.settings, archive_bucket=bucket.name, cache=False
    )
    with running_analytics(settings) as server:
        yield server


@pytest.fixture(scope="module")
def store(endpoints: Endpoints) -> Iterator[Store]:
    with psycopg.connect(endpoints.postgres_dsn) as conn:
        yield Store(conn)


def data(r: httpx.Response) -> Any:
    assert r.status_code == 200, r.text
    body = r.json()
    assert "errors" not in body, body
    return body["data"]["game"]


def test_the_same_answers_before_and_after_archiving(
    served: UvicornThread, store: Store, bucket: Bucketed, endpoints: Endpoints,
    game: GameKey, token: AnalystToken, s3: EmbeddedS3,
) -> None:  # fmt: skip
    """Archived by the retention service's own pass, a day at a time (the pass dated so
    that only that day has left the game's 30-day hot window)."""
    retention = retention_settings(endpoints, s3, bucket.name, rows_per_part=3)

    def archive_through(day: date) -> None:
        today = day + timedelta(days=31)
        report = Pass(retention, bucket.s3, today=today, only=frozenset({game.game_id})).run()
        assert report.days_archived >= 1
        assert not report.problems

    write_journeys(store, game.game_id)
    write_counts(store, game.game_id)
    store.write(
        event(game.game_id, "session_end", "p1", "2026-03-10T05:00:00", duration=61.5),
        event(game.game_id, "purchase", "p2", "2026-03-10T06:00:00", amount=4.99, currency="USD"),
        event(game.game_id, "purchase", "p2", "2026-03-11T06:00:00", amount=1.0, currency="EUR"),
    )
    variables = {"game": str(game.game_id)}
    before = data(graphql(served.url, QUERY, token, variables))
    assert before["revenue"][1]["purchases"] == 1
    assert before["all"][0]["users"] > 0
    assert before["edges"]
    assert before["midnight"]
    archive_through(D10)
    assert data(graphql(served.url, QUERY, token, variables)) == before
    archive_through(D11)
    assert data(graphql(served.url, QUERY, token, variables)) == before


def test_an_unreadable_day_is_a_clear_error_naming_it(
    served: UvicornThread, store: Store, bucket: Bucketed, endpoints: Endpoints,
    game: GameKey, token: AnalystToken,
) -> None:  # fmt: skip
    write_journeys(store, game.game_id)
    bucket.archive(endpoints.postgres_dsn, game.game_id, D10)
    with psycopg.connect(endpoints.postgres_dsn, autocommit=True) as conn:
        archived_days.report_problem(conn, game.game_id, D10, "part-0.parquet: checksum differs")
    variables = {"game": str(game.game_id)}
    assert data(graphql(served.url, LATER, token, variables)) == LATER_STEPS
    r = graphql(served.url, ARCHIVED, token, variables)
    assert r.status_code == 200
    assert r.json()["data"] == {"game": None}  # funnel is non-null: no partial answer
    error = only_error(r)
    assert error["path"] == ["game", "archived"]
    assert error["extensions"] == {"code": "INTERNAL", "archivedDay": "2026-03-10"}
    assert error["message"] == (
        f"funnel: the archived day 2026-03-10 of game {game.game_id} has a problem:"
        " part-0.parquet: checksum differs; the answer needs that day"
    )


def test_s3_down_fails_only_archived_fields_and_not_readiness(
    served: UvicornThread, endpoints: Endpoints, store: Store, bucket: Bucketed,
    game: GameKey, token: AnalystToken,
) -> None:  # fmt: skip
    write_journeys(store, game.game_id)
    bucket.archive(endpoints.postgres_dsn, game.game_id, D10)
    down = replace(
        bucket.settings, endpoint=f"http://127.0.0.1:{free_port()}",
        connect_timeout=timedelta(seconds=0.5), read_timeout=timedelta(seconds=0.5),
        max_attempts=1,
    )  # fmt: skip
    settings = analytics_settings(endpoints, s3=down, archive_bucket=bucket.name, cache=False)
    with running_analytics(settings) as server:
        ready = httpx.get(server.url + "/readyz", timeout=10)
        assert ready.status_code == 200
        assert ready.json()["checks"] == {"postgres": "ok"}
        variables = {"game": str(game.game_id)}
        assert data(graphql(server.url, LATER, token, variables)) == LATER_STEPS
        r = graphql(server.url, ARCHIVED, token, variables)
        assert r.status_code == 200
        error = only_error(r)
        assert error["extensions"] == {"code": "INTERNAL", "archivedDay": "2026-03-10"}
        assert error["message"].startswith(
            f"funnel: the archived day 2026-03-10 of game {game.game_id} could not be read"
            " from S3 (part-"
        )
        assert error["message"].endswith("; retry later; the answer needs that day")
