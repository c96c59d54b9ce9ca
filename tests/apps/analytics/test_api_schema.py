"""The schema's names and types are the contract of issue 4, and the settings that shape the API."""

from datetime import timedelta

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLObjectType,
    GraphQLScalarType,
    build_schema,
    print_ast,
)
from graphql.utilities import ast_from_value

from apps.analytics.schema import build_schema as build_api_schema
from apps.core.currency import USD_PER_UNIT
from apps.core.errors import ConfigError
from apps.core.settings.analytics import AnalyticsSettings

CONTRACT = """
scalar Date
scalar DateTime
enum Granularity { DAY WEEK MONTH }
enum Bucket { MINUTE HOUR DAY }
input SegmentFilter { platform: String, country: String, appVersion: String }

type Query { games: [Game!]!  game(id: ID!): Game }

type Game {
  id: ID!  name: String!
  activeUsers(from: Date!, to: Date!, granularity: Granularity = DAY, filter: SegmentFilter): [TimeValue!]!
  newUsers(from: Date!, to: Date!, granularity: Granularity = DAY, filter: SegmentFilter): [TimeValue!]!
  retention(from: Date!, to: Date!, days: [Int!]! = [1, 7, 30], filter: SegmentFilter): [Cohort!]!
  revenue(from: Date!, to: Date!, granularity: Granularity = DAY, filter: SegmentFilter): [RevenuePoint!]!
  sessions(from: Date!, to: Date!, granularity: Granularity = DAY, filter: SegmentFilter): [SessionPoint!]!
  funnel(from: Date!, to: Date!, steps: [String!]!, windowSeconds: Int = 86400, filter: SegmentFilter): [FunnelStep!]!
  eventCounts(from: DateTime!, to: DateTime!, bucket: Bucket = HOUR, types: [String!]): [EventCount!]!
  liveStats: LiveStats!
  player(id: ID!): Player
}
type TimeValue { bucket: Date!  value: Int! }
type Cohort { cohort: Date!  size: Int!  retained: [RetentionPoint!]! }
type RetentionPoint { day: Int!  users: Int!  rate: Float! }
type RevenuePoint { bucket: Date!  revenueUsd: Float!  payingUsers: Int!  purchases: Int!  arpdau: Float!  arppu: Float! }
type SessionPoint { bucket: Date!  sessions: Int!  players: Int!  avgLengthSeconds: Float! }
type FunnelStep { step: String!  users: Int!  conversionFromStart: Float!  conversionFromPrevious: Float! }
type EventCount { bucket: DateTime!  type: String!  count: Int! }
type LiveStats { eventsLastMinute: Int!  eventsPerSecond: Float!  activePlayersLast5Minutes: Int! }
scalar JSON
type Player {
  id: ID!  firstSeen: DateTime!  lastSeen: DateTime!
  firstPlatform: String  firstCountry: String  firstAppVersion: String
  daysActive: Int!  sessions: Int!  sessionSeconds: Float!  revenueUsd: Float!  purchases: Int!
  lastEvents: [PlayerEvent!]!
}
type PlayerEvent { eventId: ID!  type: String!  time: DateTime!  properties: JSON!  amount: Float  currency: String }
"""  # noqa: E501 - the issue's text, verbatim (issue 4; Player and PlayerEvent: issue 16)


def _default(value: object, type_: object) -> str | None:
    node = ast_from_value(value, type_)  # type: ignore[arg-type]
    return None if node is None else print_ast(node)


def test_every_contract_name_type_argument_and_default_is_served_exactly() -> None:
    contract = build_schema(CONTRACT)
    served = build_api_schema().as_str()
    ours = build_schema(served)
    for name, expected in contract.type_map.items():
        if name.startswith("__") or name in {"String", "Int", "Float", "Boolean", "ID"}:
            continue
        actual = ours.type_map.get(name)
        assert actual is not None, f"type {name} is missing"
        assert type(actual) is type(expected), f"{name} is a {type(actual).__name__}"
        if isinstance(expected, GraphQLScalarType):
            continue
        if isinstance(expected, GraphQLEnumType):
            assert isinstance(actual, GraphQLEnumType)
            assert list(actual.values) == list(expected.values), name
            continue
        if isinstance(expected, GraphQLInputObjectType):
            assert isinstance(actual, GraphQLInputObjectType)
            for field_name, f in expected.fields.items():
                mine = actual.fields[field_name]
                assert str(mine.type) == str(f.type), f"{name}.{field_name}"
                assert mine.default_value == f.default_value, f"{name}.{field_name} default"
            continue
        assert isinstance(expected, GraphQLObjectType)
        assert isinstance(actual, GraphQLObjectType)
        for field_name, f in expected.fields.items():
            assert field_name in actual.fields, f"{name}.{field_name} is missing"
            mine = actual.fields[field_name]
            assert str(mine.type) == str(f.type), f"{name}.{field_name}: {mine.type}"
            assert set(mine.args) == set(f.args), f"{name}.{field_name} arguments"
            for arg_name, arg in f.args.items():
                where = f"{name}.{field_name}({arg_name})"
                assert str(mine.args[arg_name].type) == str(arg.type), where
                assert _default(mine.args[arg_name].default_value, arg.type) == _default(
                    arg.default_value, arg.type
                ), f"{where} default"


def test_graphiql_is_on_for_the_local_stack_only_unless_enabled() -> None:
    base = {"GAMEMETRICS_POSTGRES_DSN": "postgresql://x/y", "GAMEMETRICS_REDIS_URL": "redis://x"}
    assert AnalyticsSettings.from_env(base).graphiql
    assert not AnalyticsSettings.from_env({**base, "GAMEMETRICS_STACK": "prod"}).graphiql
    assert not AnalyticsSettings.from_env({**base, "GAMEMETRICS_STACK": "dev"}).graphiql
    enabled = {**base, "GAMEMETRICS_STACK": "staging", "GAMEMETRICS_ANALYTICS_GRAPHIQL": "true"}
    assert AnalyticsSettings.from_env(enabled).graphiql


def test_settings_read_their_keys_and_usd_rates_merge_over_the_shipped_table() -> None:
    settings = AnalyticsSettings.from_env(
        {
            "GAMEMETRICS_POSTGRES_DSN": "postgresql://x/y",
            "GAMEMETRICS_REDIS_URL": "redis://x",
            "GAMEMETRICS_ANALYTICS_PORT": "9000",
            "GAMEMETRICS_ANALYTICS_POOL_SIZE": "3",
            "GAMEMETRICS_ANALYTICS_STATEMENT_TIMEOUT_SECONDS": "2.5",
            "GAMEMETRICS_ANALYTICS_MAX_DEPTH": "6",
            "GAMEMETRICS_USD_RATES": "EUR=1.1, GBP=1.3,XAU=2000",
        }
    )
    assert (settings.port, settings.pool_size) == (9000, 3)
    assert settings.statement_timeout == timedelta(seconds=2.5)
    assert settings.limits.max_depth == 6
    rates = settings.usd_per_unit
    assert (rates["EUR"], rates["GBP"], rates["XAU"]) == (1.1, 1.3, 2000.0)
    assert rates["JPY"] == USD_PER_UNIT["JPY"]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("EUR", "is not CODE=RATE"),
        ("euro=1.1", "is not CODE=RATE"),
        ("EUR=abc", "the rate of EUR ('abc') is not a number"),
        ("EUR=-1", "must be a positive number"),
        ("EUR=nan", "must be a positive number"),
    ],
)
def test_a_malformed_usd_rate_is_refused_naming_the_key(raw: str, message: str) -> None:
    env = {
        "GAMEMETRICS_POSTGRES_DSN": "postgresql://x/y",
        "GAMEMETRICS_REDIS_URL": "redis://x",
        "GAMEMETRICS_USD_RATES": raw,
    }
    with pytest.raises(ConfigError, match="GAMEMETRICS_USD_RATES") as e:
        AnalyticsSettings.from_env(env)
    assert message in str(e.value)


def test_settings_pickle_into_worker_processes() -> None:
    import pickle

    settings = AnalyticsSettings(postgres_dsn="postgresql://x/y", redis_url="redis://x")
    assert pickle.loads(pickle.dumps(settings)) == settings  # noqa: S301 - our own bytes
