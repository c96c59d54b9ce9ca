"""POST /graphql over real HTTP: tokens, tenancy, limits, errors, GraphiQL, probes and metrics."""

import logging
import uuid
from collections.abc import Iterator
from datetime import timedelta

import httpx
import psycopg
import pytest

from apps.core.settings.analytics import QueryLimits
from apps.local.process import free_port
from apps.store import tokens
from tests.conftest import GameKey, new_game
from tests.support.analytics import (
    AnalystToken,
    analyst_token,
    analytics_settings,
    graphql,
    only_error,
    running_analytics,
)
from tests.support.servers import Endpoints, UvicornThread

STRICT = QueryLimits(
    max_depth=2, max_aliases=2, max_tokens=200, max_complexity=5, max_body_bytes=2048
)
GAME_QUERY = "query($id: ID!) { game(id: $id) { id name } }"


@pytest.fixture(scope="module")
def strict(endpoints: Endpoints) -> Iterator[UvicornThread]:
    """A production-like instance with small limits and a short statement timeout."""
    settings = analytics_settings(
        endpoints, stack="prod", graphiql=False, limits=STRICT,
        statement_timeout=timedelta(milliseconds=500),
    )  # fmt: skip
    with running_analytics(settings) as server:
        yield server


# --- who may ask ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Basic dXNlcjpwdw==", "Bearer", "Bearer not-a-token", "Bearer gma_" + "A" * 43],
)
def test_a_request_without_a_valid_token_is_401_unauthenticated(
    analytics: UvicornThread, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    r = httpx.post(analytics.url + "/graphql", json={"query": "{ games { id } }"}, headers=headers)
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Bearer")
    error = only_error(r)
    assert error["extensions"] == {"code": "UNAUTHENTICATED"}
    assert "data" not in r.json()


def test_a_revoked_token_is_refused_from_the_next_request_on(
    analytics: UvicornThread, endpoints: Endpoints, game: GameKey, token: AnalystToken
) -> None:
    assert graphql(analytics.url, GAME_QUERY, token, {"id": str(game.game_id)}).status_code == 200
    with psycopg.connect(endpoints.postgres_dsn) as conn:
        assert tokens.revoke_token(conn, token.token_id)
    r = graphql(analytics.url, GAME_QUERY, token, {"id": str(game.game_id)})
    assert r.status_code == 401
    assert only_error(r)["extensions"] == {"code": "UNAUTHENTICATED"}


def test_a_token_sees_only_its_games(analytics: UvicornThread, endpoints: Endpoints) -> None:
    mine, other = new_game(endpoints.postgres_dsn), new_game(endpoints.postgres_dsn)
    token = analyst_token(endpoints.postgres_dsn, [mine.game_id])
    r = graphql(analytics.url, "{ games { id name } }", token)
    assert r.status_code == 200
    assert [g["id"] for g in r.json()["data"]["games"]] == [str(mine.game_id)]

    own = graphql(analytics.url, GAME_QUERY, token, {"id": str(mine.game_id)}).json()
    assert own["data"]["game"]["id"] == str(mine.game_id)
    assert own["data"]["game"]["name"].startswith("test-")

    foreign = graphql(analytics.url, GAME_QUERY, token, {"id": str(other.game_id)})
    missing = graphql(analytics.url, GAME_QUERY, token, {"id": str(uuid.uuid4())})
    assert foreign.status_code == missing.status_code == 200
    assert foreign.json() == missing.json()
    assert foreign.json()["data"] == {"game": None}
    error = only_error(foreign)
    assert error["message"] == "game not found"
    assert error["extensions"] == {"code": "FORBIDDEN"}
    assert error["path"] == ["game"]


def test_an_all_games_token_sees_every_game_and_still_not_a_missing_one(
    analytics: UvicornThread, endpoints: Endpoints
) -> None:
    first, second = new_game(endpoints.postgres_dsn), new_game(endpoints.postgres_dsn)
    token = analyst_token(endpoints.postgres_dsn, None)
    listed = {
        g["id"] for g in graphql(analytics.url, "{ games { id } }", token).json()["data"]["games"]
    }
    assert {str(first.game_id), str(second.game_id)} <= listed
    r = graphql(analytics.url, GAME_QUERY, token, {"id": str(uuid.uuid4())})
    assert only_error(r)["extensions"] == {"code": "FORBIDDEN"}


def test_a_malformed_game_id_is_bad_user_input(
    analytics: UvicornThread, token: AnalystToken
) -> None:
    r = graphql(analytics.url, GAME_QUERY, token, {"id": "42; DROP TABLE games"})
    error = only_error(r)
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "argument": "id", "allowed": "a UUID"}


# --- argument ranges -----------------------------------------------------------------------


def metric_query(game: GameKey, field: str, args: str, selection: str = "bucket") -> str:
    return f'{{ game(id: "{game.game_id}") {{ {field}({args}) {{ {selection} }} }} }}'


@pytest.mark.parametrize(
    ("field", "args", "selection", "argument", "allowed"),
    [
        ("activeUsers", 'from: "2025-01-01", to: "2026-02-05"', "bucket", "to", "400 days"),
        ("newUsers", 'from: "2026-02-05", to: "2026-02-04"', "bucket", "to", "from <= to"),
        ("revenue", 'from: "2024-01-01", to: "2026-01-01"', "bucket", "to", "400 days"),
        ("sessions", 'from: "2026-01-02", to: "2026-01-01"', "bucket", "to", "from <= to"),
        ("retention", 'from: "2026-01-01", to: "2027-03-01"', "cohort", "to", "400 days"),
        ("retention", 'from: "2026-01-01", to: "2026-01-02", days: [1, 999]', "cohort",
         "days", "each 0 to 400"),
        ("eventCounts", 'from: "2026-01-01T00:00:00Z", to: "2026-01-08T00:00:01Z",'
         " bucket: MINUTE", "count", "to", "7 days for MINUTE"),
        ("eventCounts", 'from: "2026-01-01T00:00:00Z", to: "2027-03-01T00:00:00Z"', "count",
         "to", "400 days"),
        ("eventCounts", 'from: "2026-01-02T00:00:00Z", to: "2026-01-01T00:00:00Z"', "count",
         "to", "from <= to"),
        ("funnel", 'from: "2026-01-01", to: "2026-01-02", steps: ['
         + ", ".join(f'"s{i}"' for i in range(11)) + "]", "step", "steps", "1 to 10 steps"),
        ("funnel", 'from: "2026-01-01", to: "2026-01-02", steps: []', "step", "steps",
         "1 to 10 steps"),
        ("funnel", 'from: "2026-01-01", to: "2026-01-02", steps: ["a"], windowSeconds: -1',
         "step", "windowSeconds", "0 to 7776000 seconds"),
        ("funnel", 'from: "2026-01-05", to: "2026-01-02", steps: ["a"]', "step", "to",
         "from <= to"),
    ],
)  # fmt: skip
def test_an_argument_out_of_range_is_bad_user_input_naming_it_and_the_range(
    analytics: UvicornThread, game: GameKey, token: AnalystToken,
    field: str, args: str, selection: str, argument: str, allowed: str,
) -> None:  # fmt: skip
    r = graphql(analytics.url, metric_query(game, field, args, selection), token)
    assert r.status_code == 200
    assert r.json()["data"] == {"game": None}  # the error nulls the non-null list up to game
    error = only_error(r)
    ext = error["extensions"]
    assert isinstance(ext, dict)
    assert ext["code"] == "BAD_USER_INPUT"
    assert ext["argument"] == argument
    assert allowed in ext["allowed"]
    assert str(error["message"]).startswith(f"{argument}: ")
    assert error["path"] == ["game", field]


def test_a_malformed_date_is_bad_user_input(analytics: UvicornThread, token: AnalystToken) -> None:
    query = "query($d: Date!) { games { activeUsers(from: $d, to: $d) { value } } }"
    r = graphql(analytics.url, query, token, {"d": "2026-13-01"})
    error = only_error(r)
    assert error["extensions"] == {"code": "BAD_USER_INPUT"}
    assert "2026-13-01" in str(error["message"])


# --- limits on the request -----------------------------------------------------------------


def test_query_depth_beyond_the_limit_is_bad_user_input_naming_it(
    strict: UvicornThread, token: AnalystToken
) -> None:
    query = '{ games { retention(from: "2026-01-01", to: "2026-01-01") { retained { day } } } }'
    error = only_error(graphql(strict.url, query, token))
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "limit": "depth", "allowed": 2}


def test_too_many_aliases_are_bad_user_input_naming_the_limit(
    strict: UvicornThread, token: AnalystToken
) -> None:
    error = only_error(
        graphql(strict.url, "{ a: games { id } b: games { id } c: games { id } }", token)
    )
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "limit": "aliases", "allowed": 2}


def test_a_document_with_too_many_tokens_is_bad_user_input_naming_the_limit(
    strict: UvicornThread, token: AnalystToken
) -> None:
    query = "{ games { " + " ".join(["id"] * 250) + " } }"
    error = only_error(graphql(strict.url, query, token))
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "limit": "tokens", "allowed": 200}


def test_a_too_complex_document_is_bad_user_input_naming_the_limit(
    strict: UvicornThread, game: GameKey, token: AnalystToken
) -> None:
    query = (
        f'{{ game(id: "{game.game_id}") {{ funnel(from: "2026-01-01", to: "2026-01-01",'
        ' steps: ["a"]) { users } liveStats { eventsLastMinute } } }'
    )
    error = only_error(graphql(strict.url, query, token))
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "limit": "complexity", "allowed": 5}
    assert "complexity is 6" in str(error["message"])


def test_metric_fields_under_games_count_once_per_game(
    strict: UvicornThread, endpoints: Endpoints
) -> None:
    many = [new_game(endpoints.postgres_dsn).game_id for _ in range(3)]
    token = analyst_token(endpoints.postgres_dsn, many)
    query = '{ games { retention(from: "2026-01-01", to: "2026-01-01") { size } } }'
    error = only_error(graphql(strict.url, query, token))  # weight 2 x 3 games > 5
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "limit": "complexity", "allowed": 5}
    assert error["path"] == ["games"]


def test_a_body_over_the_limit_is_413_bad_user_input(
    strict: UvicornThread, token: AnalystToken
) -> None:
    body = {"query": "{ games { id } }", "variables": {"pad": "x" * 4096}}
    r = httpx.post(strict.url + "/graphql", json=body, headers=token.auth)
    assert r.status_code == 413
    assert only_error(r)["extensions"] == {
        "code": "BAD_USER_INPUT", "limit": "bodyBytes", "allowed": 2048,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json", "not JSON"),
        (b"[]", "JSON object"),
        (b'{"variables": {}}', "query: a GraphQL document is required"),
        (b'{"query": "{ games { id } }", "variables": [1]}', "variables"),
    ],
)
def test_a_malformed_body_is_400_bad_user_input(
    analytics: UvicornThread, token: AnalystToken, content: bytes, message: str
) -> None:
    r = httpx.post(
        analytics.url + "/graphql", content=content,
        headers={**token.auth, "Content-Type": "application/json"},
    )  # fmt: skip
    assert r.status_code == 400
    error = only_error(r)
    assert error["extensions"] == {"code": "BAD_USER_INPUT"}
    assert message in str(error["message"])


def test_mutations_and_unknown_fields_are_bad_user_input(
    analytics: UvicornThread, token: AnalystToken
) -> None:
    r = graphql(analytics.url, "{ games { id secret } }", token)
    assert r.status_code == 200
    assert only_error(r)["extensions"] == {"code": "BAD_USER_INPUT"}
    r = graphql(analytics.url, "mutation { games { id } }", token)
    assert r.status_code == 400
    error = only_error(r)
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "allowed": "query"}
    assert error["message"] == "only queries are served; this operation is a mutation"


def test_a_statement_past_the_timeout_is_bad_user_input_query_too_expensive(
    strict: UvicornThread, endpoints: Endpoints, game: GameKey, token: AnalystToken
) -> None:
    query = metric_query(game, "activeUsers", 'from: "2026-01-01", to: "2026-01-03"', "value")
    with psycopg.connect(endpoints.postgres_dsn) as conn:
        # Hold every table a metric may read, so its statements wait past the 500 ms timeout.
        conn.execute("LOCK TABLE game_versions, player_days, players IN ACCESS EXCLUSIVE MODE")
        r = graphql(strict.url, query, token)
    error = only_error(r)
    assert error["extensions"] == {
        "code": "BAD_USER_INPUT", "limit": "statementTimeoutMs", "allowed": 500,
    }  # fmt: skip
    assert "query too expensive" in str(error["message"])


# --- internal errors -----------------------------------------------------------------------


def test_an_internal_error_says_nothing_but_its_incident_which_the_log_holds(
    endpoints: Endpoints, game: GameKey, token: AnalystToken, caplog: pytest.LogCaptureFixture
) -> None:
    # A role that can check tokens but read no metric table: the first metric query fails.
    role = f"gm_limited_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(endpoints.postgres_dsn, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN")
        conn.execute(f"GRANT SELECT ON games, analyst_tokens, analyst_token_games TO {role}")
        conn.execute(f"GRANT UPDATE ON analyst_tokens TO {role}")
    limited = Endpoints(
        endpoints.postgres_dsn.replace("postgres@", f"{role}@", 1),
        endpoints.kafka_bootstrap, endpoints.redis_url,
    )  # fmt: skip
    query = metric_query(game, "activeUsers", 'from: "2026-01-01", to: "2026-01-03"', "value")
    try:
        with (
            running_analytics(analytics_settings(limited)) as server,
            caplog.at_level(logging.ERROR, logger="apps.analytics"),
        ):
            r = graphql(server.url, query, token)
    finally:
        with psycopg.connect(endpoints.postgres_dsn, autocommit=True) as conn:
            conn.execute(f"DROP OWNED BY {role}")
            conn.execute(f"DROP ROLE {role}")
    assert r.status_code == 200
    error = only_error(r)
    assert error["extensions"] == {"code": "INTERNAL"}
    message = str(error["message"])
    assert message.startswith("internal error (incident ")
    for leak in ("permission", "denied", "game_versions", "player_days", "SELECT", "Traceback"):
        assert leak not in r.text
    incident = message.removeprefix("internal error (incident ").rstrip(")")
    [record] = [rec for rec in caplog.records if incident in rec.getMessage()]
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], psycopg.errors.InsufficientPrivilege)


# --- GraphiQL, probes, metrics -------------------------------------------------------------


def test_graphiql_is_served_on_get_in_dev_mode(analytics: UvicornThread) -> None:
    r = httpx.get(analytics.url + "/graphql")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert "graphiql" in r.text.lower()


def test_graphiql_is_not_served_outside_dev_mode(strict: UvicornThread) -> None:
    r = httpx.get(strict.url + "/graphql")
    assert r.status_code == 405
    assert r.headers["allow"] == "POST"
    assert only_error(r)["extensions"] == {"code": "BAD_USER_INPUT"}
    assert "graphiql" not in r.text.lower().replace("graphiql is served", "")


def test_probes_and_metrics(analytics: UvicornThread, token: AnalystToken) -> None:
    assert httpx.get(analytics.url + "/healthz").json() == {"status": "alive"}
    ready = httpx.get(analytics.url + "/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"postgres": "ok"}
    graphql(analytics.url, "{ games { id } }", None)
    graphql(analytics.url, "{ games { id } }", token)
    text = httpx.get(analytics.url + "/metrics").text
    assert 'gm_analytics_requests_total{status="401"}' in text
    assert 'gm_analytics_requests_total{status="200"}' in text
    unauthenticated = [
        line for line in text.splitlines()
        if line.startswith('gm_analytics_errors_total{code="UNAUTHENTICATED"}')
    ]  # fmt: skip
    assert unauthenticated
    assert float(unauthenticated[0].split()[-1]) >= 1
    assert 'gm_analytics_cache_total{result="hit"}' in text
    assert "gm_analytics_request_duration_seconds_bucket" in text


def test_readyz_is_503_when_postgresql_is_unreachable(endpoints: Endpoints) -> None:
    dead = Endpoints(
        f"postgresql://postgres@127.0.0.1:{free_port()}/gm", endpoints.kafka_bootstrap,
        endpoints.redis_url,
    )  # fmt: skip
    with running_analytics(analytics_settings(dead)) as server:
        r = httpx.get(server.url + "/readyz", timeout=10)
        assert r.status_code == 503
        assert r.json()["checks"]["postgres"].startswith("unreachable")
        token_check = httpx.post(
            server.url + "/graphql", json={"query": "{ games { id } }"},
            headers={"Authorization": "Bearer gma_" + "A" * 43}, timeout=30,
        )  # fmt: skip
        assert token_check.status_code == 503
        assert only_error(token_check)["extensions"] == {"code": "INTERNAL"}
