"""The settings contracts: one declaration reads, validates, renders and wires each variable."""

import dataclasses
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from apps.core import services
from apps.core.errors import ConfigError
from apps.core.settings import for_service
from apps.core.settings.analytics import AnalyticsSettings, QueryLimits
from apps.core.settings.contract import PREFIX, ServiceSettings, Wire
from apps.core.settings.ingest import IngestSettings
from apps.core.settings.kafka_tls import KafkaTls
from apps.core.settings.processor import ProcessorSettings

CONTRACTS = [for_service(s) for s in services.ALL]
NOT_CONFIGURABLE = {"events_topic", "dlq_topic"}
"""Fields code sets (tests isolate by topic name); everything else is a variable."""
REQUIRED = {
    Wire.POSTGRES_DSN: "postgresql://u:pw@db:5432/gm",
    Wire.KAFKA_BOOTSTRAP: "k1:9092,k2:9092",
    Wire.REDIS_URL: "redis://:pw@cache:6379/0",
}


def _required(contract: type[ServiceSettings]) -> dict[str, str]:
    return contract.wire(REQUIRED, complete=False)


def test_every_declared_service_has_a_contract_naming_its_port() -> None:
    for service in services.ALL:
        contract = for_service(service)
        assert contract.SERVICE is service
        settings = contract.from_env(_required(contract))
        assert settings.port == service.port
        assert settings.host == "127.0.0.1"


def test_every_field_is_a_declared_variable_or_deliberately_not_configurable() -> None:
    for contract in CONTRACTS:
        declared = {v.field.split(".")[0] for v in contract.variables()}
        fields = {f.name for f in dataclasses.fields(contract)}
        assert fields - declared <= NOT_CONFIGURABLE, contract.__name__
        keys = [v.key for v in contract.variables()]
        assert len(keys) == len(set(keys)), contract.__name__
        assert all(k.startswith(PREFIX) and k.isupper() for k in keys)


def test_from_env_reads_only_the_variables_its_contract_declares() -> None:
    """A recording environment: every GAMEMETRICS_ key looked up is a declared one."""

    class Recording(dict[str, str]):
        seen: set[str]

        def get(self, key: str, default: Any = None) -> Any:
            self.seen.add(key)
            return super().get(key, default)

        def __getitem__(self, key: str) -> str:
            self.seen.add(key)
            return super().__getitem__(key)

    for contract in CONTRACTS:
        env = Recording(_required(contract))
        env.seen = set()
        contract.from_env(env)
        assert env.seen <= contract.keys(), env.seen - contract.keys()
        assert env.seen == contract.keys()  # and each one is read


def _changed(value: Any) -> Any:
    """A value of the same type that is not the default (for round trips)."""
    match value:
        case bool():
            return not value
        case int():
            return value + 1
        case timedelta():
            return value + timedelta(milliseconds=1500)
        case str():
            return value + "-x"
    return value


@pytest.mark.parametrize("contract", CONTRACTS, ids=lambda c: c.__name__)
def test_settings_render_into_what_they_are_read_back_from(
    contract: type[ServiceSettings],
) -> None:
    defaults = contract.from_env(_required(contract))
    assert contract.from_env(defaults.env()) == defaults
    changes = {
        f.name: _changed(getattr(defaults, f.name))
        for f in dataclasses.fields(contract)
        if f.name not in NOT_CONFIGURABLE and f.name not in {"stack", "port", "host"}
    }
    changes["port"], changes["host"], changes["stack"] = 9999, "0.0.0.0", "prod"  # noqa: S104
    changed = dataclasses.replace(defaults, **changes)
    assert changed != defaults
    assert contract.from_env(changed.env()) == changed


def test_nested_sections_round_trip() -> None:
    tls = KafkaTls("/ca.crt", "/u.crt", "/u.key")
    settings = ProcessorSettings(postgres_dsn="d", kafka_bootstrap="b", kafka_tls=tls)
    assert ProcessorSettings.from_env(settings.env()).kafka_tls == tls
    limits = QueryLimits(max_depth=7, max_body_bytes=4096)
    analytics = AnalyticsSettings(postgres_dsn="d", redis_url="r", limits=limits)
    assert AnalyticsSettings.from_env(analytics.env()).limits == limits
    rates = dict(
        AnalyticsSettings.from_env({**analytics.env(), "GAMEMETRICS_USD_RATES": "EUR=2"}).usd_rates
    )
    assert rates["EUR"] == 2.0


@pytest.mark.parametrize(
    ("variable", "raw", "message"),
    [
        ("GAMEMETRICS_INGEST_PORT", "http", "GAMEMETRICS_INGEST_PORT='http' is not an integer"),
        ("GAMEMETRICS_INGEST_PORT", "0", "GAMEMETRICS_INGEST_PORT=0 is below the minimum 1"),
        ("GAMEMETRICS_INGEST_PORT", "70000",
         "GAMEMETRICS_INGEST_PORT=70000 is above the maximum 65535"),
        ("GAMEMETRICS_STACK", "qa", "GAMEMETRICS_STACK='qa'; allowed: local, dev, staging, prod"),
        ("GAMEMETRICS_DELIVERY_TIMEOUT_SECONDS", "soon",
         "GAMEMETRICS_DELIVERY_TIMEOUT_SECONDS='soon' is not a number of seconds"),
        ("GAMEMETRICS_DELIVERY_TIMEOUT_SECONDS", "0.01",
         "GAMEMETRICS_DELIVERY_TIMEOUT_SECONDS=0.01 is below the minimum 0.1"),
        ("GAMEMETRICS_KEY_CACHE_TTL_SECONDS", "nan",
         "GAMEMETRICS_KEY_CACHE_TTL_SECONDS='nan' is not a finite"),
    ],
)  # fmt: skip
def test_a_bad_value_is_refused_naming_its_variable(variable: str, raw: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        IngestSettings.from_env({**_required(IngestSettings), variable: raw})
    assert message in str(raised.value)


def test_a_missing_required_variable_is_named() -> None:
    env = _required(ProcessorSettings)
    del env["GAMEMETRICS_KAFKA_BOOTSTRAP"]
    with pytest.raises(ConfigError, match="GAMEMETRICS_KAFKA_BOOTSTRAP is required and not set"):
        ProcessorSettings.from_env(env)
    with pytest.raises(
        ConfigError, match="GAMEMETRICS_ANALYTICS_GRAPHIQL='maybe' is not a boolean"
    ):
        AnalyticsSettings.from_env(
            {**_required(AnalyticsSettings), "GAMEMETRICS_ANALYTICS_GRAPHIQL": "maybe"}
        )


def test_wire_writes_only_declared_variables_and_splits_secrets() -> None:
    supplied = {**REQUIRED, Wire.STACK: "prod", Wire.PORT: "1", Wire.ARCHIVE_BUCKET: "b"}
    plain = AnalyticsSettings.wire(supplied, secret=False)
    secret = AnalyticsSettings.wire(supplied, secret=True)
    assert plain == {
        "GAMEMETRICS_STACK": "prod", "GAMEMETRICS_ANALYTICS_PORT": "1",
        "GAMEMETRICS_S3_ARCHIVE_BUCKET": "b",  # analytics reads archived days
    }  # fmt: skip
    assert secret == {
        "GAMEMETRICS_POSTGRES_DSN": REQUIRED[Wire.POSTGRES_DSN],
        "GAMEMETRICS_REDIS_URL": REQUIRED[Wire.REDIS_URL],
    }
    assert "GAMEMETRICS_KAFKA_BOOTSTRAP" not in plain | secret  # analytics does not read Kafka
    with pytest.raises(ConfigError, match="GAMEMETRICS_REDIS_URL"):
        AnalyticsSettings.wire({Wire.POSTGRES_DSN: "x"})


CREDENTIALS = {
    "GAMEMETRICS_POSTGRES_DSN",
    "GAMEMETRICS_REDIS_URL",
    "GAMEMETRICS_USERS_PRIVACY_SIGNING_KEY",  # signs erasure receipts
    # The local S3 store's identity (unset in AWS): the id is secret with its key, a pair.
    "GAMEMETRICS_S3_ACCESS_KEY_ID",
    "GAMEMETRICS_S3_SECRET_ACCESS_KEY",
}


def test_credentials_are_secret_and_nothing_else_is() -> None:
    for contract in CONTRACTS:
        secret = {v.key for v in contract.variables() if v.secret}
        assert secret == contract.keys() & CREDENTIALS


def test_the_key_of_a_field() -> None:
    assert ProcessorSettings.key("max_batch") == "GAMEMETRICS_PROCESSOR_MAX_BATCH"
    assert AnalyticsSettings.key("limits.max_depth") == "GAMEMETRICS_ANALYTICS_MAX_DEPTH"
    with pytest.raises(KeyError, match="events_topic is not read from the environment"):
        ProcessorSettings.key("events_topic")


def test_needs_and_wires_agree() -> None:
    """A service that needs a backend reads its URL; one that does not, does not."""
    by_need = {
        "postgres": Wire.POSTGRES_DSN, "redis": Wire.REDIS_URL, "kafka": Wire.KAFKA_BOOTSTRAP,
    }  # fmt: skip
    for service in services.ALL:
        wires = for_service(service).wires()
        for need, wire in by_need.items():
            assert (need in service.needs) == (wire in wires), (service.name, need)
        assert (Wire.CONSUMER_GROUP in wires) == bool(service.consumes), service.name


def test_graphiql_defaults_on_for_the_local_stack_only() -> None:
    base = _required(AnalyticsSettings)
    assert AnalyticsSettings.from_env(base).graphiql
    assert not AnalyticsSettings.from_env({**base, "GAMEMETRICS_STACK": "prod"}).graphiql


def test_the_variables_the_docs_name_exist() -> None:
    """README and docs/ may list variables, but only ones a contract declares: a renamed or
    removed variable fails here rather than misleading an operator."""
    root = Path(__file__).resolve().parents[4]
    declared = {v.key for c in CONTRACTS for v in c.variables()}
    named = {
        f"{path.relative_to(root)}: {name}"
        for path in [root / "README.md", *sorted((root / "docs").rglob("*.md"))]
        for name in re.findall(r"GAMEMETRICS_[A-Z0-9_]*[A-Z0-9]\b", path.read_text())
        if name not in declared
    }
    assert named == set()
