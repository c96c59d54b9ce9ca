"""The typed stack configuration: the stack files, safe defaults, errors that name the key."""

import json
from pathlib import Path
from typing import Any

import pytest

from infra.cluster import POOL_LABEL
from infra.kubernetes.placement import Taint
from stacks import config, load
from stacks.errors import ConfigError
from stacks.image_source import find_project_root

ROOT = find_project_root(Path(__file__).parent)
MINIMAL: dict[str, object] = {
    "aws:region": "eu-west-1",
    "gamemetrics:environment": "dev",
    "gamemetrics:owner": "platform-team",
    "gamemetrics:costCenter": "cc-1",
}


def parse(**overrides: object) -> config.StackConfig:
    values = dict(MINIMAL)
    for key, value in overrides.items():
        values[f"gamemetrics:{key}" if ":" not in key else key] = value
    return load.parse(values)


def error(values: dict[str, object]) -> str:
    with pytest.raises(ConfigError) as raised:
        load.parse(values)
    return str(raised.value)


def test_each_stack_file_parses_into_its_environment() -> None:
    for stack in ("dev", "staging", "prod"):
        settings = load.from_file(ROOT / f"Pulumi.{stack}.yaml")
        assert settings.environment == stack
        assert settings.name_prefix == f"gamemetrics-{stack}"
        assert settings.tags.for_service("database") == {
            "environment": stack,
            "service": "database",
            "owner": "platform-team",
            "cost-center": f"gamemetrics-{stack}",
        }


def test_stack_files_differ_where_the_issue_says() -> None:
    dev, staging, prod = (
        load.from_file(ROOT / f"Pulumi.{s}.yaml") for s in ("dev", "staging", "prod")
    )
    assert (dev.network.nat_gateways, prod.network.nat_gateways) == ("single", "per-az")
    assert not dev.database.multi_az
    assert staging.database.multi_az
    assert prod.database.multi_az
    assert not dev.database.deletion_protection
    assert prod.database.deletion_protection
    assert (dev.database.read_replicas, prod.database.read_replicas) == (0, 1)
    assert dev.database.backup_retention_days < staging.database.backup_retention_days
    assert staging.database.backup_retention_days < prod.database.backup_retention_days
    assert (dev.kafka.brokers, staging.kafka.brokers, prod.kafka.brokers) == (1, 3, 3)
    assert (dev.kafka.replication_factor, prod.kafka.replication_factor) == (1, 3)
    assert (dev.kafka.min_insync_replicas, prod.kafka.min_insync_replicas) == (1, 2)
    assert prod.cluster.public_access_cidrs == ()
    assert len(prod.cluster.node_groups) == 2
    assert not dev.mesh.enabled
    assert prod.mesh.enabled
    assert dev.storage.force_destroy
    assert not prod.storage.force_destroy


def test_defaults_are_the_safe_choice() -> None:
    settings = parse()
    assert settings.network.availability_zones == ("eu-west-1a", "eu-west-1b", "eu-west-1c")
    assert settings.network.nat_gateways == "per-az"
    assert settings.cluster.public_access_cidrs == ()
    assert settings.cluster.deletion_protection
    assert settings.database.multi_az
    assert settings.database.deletion_protection
    assert settings.database.final_snapshot
    assert settings.database.backup_retention_days >= 7
    assert settings.cache.multi_az
    assert settings.cache.replicas >= 1
    assert not settings.storage.force_destroy
    assert not settings.registry.force_delete
    assert settings.kafka.brokers == 3


def test_structured_values_may_come_as_json_text_as_the_pulumi_cli_passes_them() -> None:
    settings = parse(database=json.dumps({"multiAz": False, "readReplicas": "2"}))
    assert not settings.database.multi_az
    assert settings.database.read_replicas == 2


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ("gamemetrics:environment", "gamemetrics:environment: required, one of dev, staging, prod"),
        ("aws:region", "aws:region: required, an AWS region"),
        ("gamemetrics:owner", "gamemetrics:owner: required"),
        ("gamemetrics:costCenter", "gamemetrics:costCenter: required"),
    ],
)
def test_a_missing_required_key_is_named(missing: str, message: str) -> None:
    values = {k: v for k, v in MINIMAL.items() if k != missing}
    assert error(values).startswith(message)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        (
            "environment",
            "qa",
            "gamemetrics:environment: expected one of dev, staging, prod, got 'qa'",
        ),
        ("aws:region", "Europe", "aws:region: expected an AWS region such as eu-west-1"),
        ("databse", {}, "gamemetrics:databse: unknown key; allowed: gamemetrics:environment"),
        (
            "database",
            {"multiAZ": True},
            "gamemetrics:database: unknown setting multiAZ; allowed: ",
        ),
        (
            "database",
            {"backupRetentionDays": 0},
            "gamemetrics:database.backupRetentionDays: expected an integer from 1 to 35, got 0",
        ),
        (
            "database",
            {"multiAz": "yes"},
            "gamemetrics:database.multiAz: expected true or false, got 'yes'",
        ),
        (
            "database",
            {"performanceInsightsRetentionDays": 10},
            "gamemetrics:database.performanceInsightsRetentionDays: expected 7, a multiple of 31",
        ),
        ("database", "not json", "gamemetrics:database: expected a mapping of settings"),
        (
            "database",
            {"engineVersion": "17"},
            "gamemetrics:database.engineVersion: expected PostgreSQL 18 or newer",
        ),
        (
            "network",
            {"cidr": "8.8.0.0/16"},
            "gamemetrics:network.cidr: expected a private IPv4 block from /16 to /20",
        ),
        (
            "network",
            {"natGateways": "two"},
            "gamemetrics:network.natGateways: expected one of single, per-az, got 'two'",
        ),
        (
            "network",
            {"availabilityZones": ["eu-west-1a", "eu-west-1b"]},
            "gamemetrics:network.availabilityZones: expected 3 distinct zones of eu-west-1",
        ),
        (
            "network",
            {"flowLogRetentionDays": 10},
            "gamemetrics:network.flowLogRetentionDays: expected one of 1, 3, 5, 7, 14",
        ),
        (
            "cluster",
            {"publicAccessCidrs": ["0.0.0.0/0"]},
            "gamemetrics:cluster.publicAccessCidrs: expected an allow-list of specific CIDR blocks",
        ),
        (
            "cluster",
            {"publicAccessCidrs": ["office"]},
            "gamemetrics:cluster.publicAccessCidrs: expected IPv4 CIDR blocks",
        ),
        (
            "cluster",
            {"nodeGroups": [{"name": "a", "minSize": 3, "desiredSize": 2}]},
            "gamemetrics:cluster.nodeGroups[0]: expected minSize <= desiredSize <= maxSize",
        ),
        (
            "cluster",
            {"nodeGroups": [{"name": "a"}, {"name": "a"}]},
            "gamemetrics:cluster.nodeGroups: names must be unique",
        ),
        (
            "cluster",
            {"nodeGroups": [{"instanceTypes": ["m7i.large"]}]},
            "gamemetrics:cluster.nodeGroups[0].name: required",
        ),
        (
            "cluster",
            {"nodeGroups": [{"name": "a", "capacityType": "spot"}]},
            "gamemetrics:cluster.nodeGroups[0].capacityType: expected one of ON_DEMAND, SPOT",
        ),
        (
            "cluster",
            {"nodeGroups": [{"name": "a"}, {"name": "b", "taints": [{"key": "x"}]}]},
            "gamemetrics:cluster.nodeGroups[1].taints[0].value: required, a label value",
        ),
        (
            "cluster",
            {
                "nodeGroups": [
                    {"name": "a"},
                    {"name": "b", "taints": [{"key": "x", "value": "y", "effect": "NoRun"}]},
                ]
            },
            "gamemetrics:cluster.nodeGroups[1].taints[0].effect: expected one of NoSchedule, "
            "PreferNoSchedule, NoExecute, got 'NoRun'",
        ),
        (
            "cluster",
            {"nodeGroups": [{"name": "a", "taints": [{"key": "x", "value": "y"}]}]},
            "gamemetrics:cluster.nodeGroups: expected at least one group without taints",
        ),
        ("cache", {"replicas": 0}, "gamemetrics:cache.multiAz: true needs replicas >= 1"),
        ("kafka", {"brokers": 2}, "gamemetrics:kafka.brokers: expected 1 (dev) or 3 and more"),
        (
            "storage",
            {"archiveInfrequentAccessDays": 60, "archiveGlacierIrDays": 80},
            "gamemetrics:storage.archiveGlacierIrDays: expected at least "
            "archiveInfrequentAccessDays + 30 (90), got 80",
        ),
        (
            "athena",
            {"bytesScannedCutoffGib": 0},
            "gamemetrics:athena.bytesScannedCutoffGib: expected an integer from 1 to 1048576",
        ),
        (
            "athena",
            {"resultsRetentionDays": "forever"},
            "gamemetrics:athena.resultsRetentionDays: expected an integer from 1 to 365",
        ),
        # Glacier Flexible Retrieval is gone (unreadable without a restore): its key too.
        (
            "storage",
            {"archiveGlacierDays": 180},
            "gamemetrics:storage: unknown setting archiveGlacierDays; allowed: ",
        ),
    ],
)
def test_an_invalid_key_is_named_with_what_is_allowed(key: str, value: Any, message: str) -> None:
    values = dict(MINIMAL)
    values[key if ":" in key else f"gamemetrics:{key}"] = value
    assert error(values).startswith(message)


def test_a_file_error_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.qa.yaml"
    path.write_text("config:\n  aws:region: eu-west-1\n")
    with pytest.raises(ConfigError, match=r"Pulumi\.qa\.yaml: gamemetrics:environment: required"):
        load.from_file(path)
    path.write_text("config: [1, 2]\n")
    with pytest.raises(ConfigError, match="expected a mapping with a `config:` mapping inside"):
        load.from_file(path)
    with pytest.raises(ConfigError, match="cannot read the stack configuration"):
        load.from_file(tmp_path / "missing.yaml")


def test_a_node_group_may_be_reserved_for_a_workload_by_label_and_taint() -> None:
    settings = load.from_file(ROOT / "Pulumi.prod.yaml")
    (kafka,) = settings.cluster.pool("kafka")
    assert kafka.name == "kafka"
    assert kafka.labels == {POOL_LABEL: "kafka"}
    assert kafka.taints == (Taint(POOL_LABEL, "kafka", "NoSchedule"),)
    for stack in ("dev", "staging"):
        assert load.from_file(ROOT / f"Pulumi.{stack}.yaml").cluster.pool("kafka") == ()


def test_loki_keeps_logs_no_longer_than_the_logs_bucket_does() -> None:
    message = error(
        {
            **MINIMAL,
            "gamemetrics:storage": {"logsRetentionDays": 14},
            "gamemetrics:observability": {"logsRetentionDays": 30},
        }
    )
    assert message == (
        "gamemetrics:observability.logsRetentionDays: expected at most "
        "gamemetrics:storage.logsRetentionDays (14: the logs bucket, where Loki stores, "
        "expires objects then), got 30"
    )
    assert parse(storage={"logsRetentionDays": 30}, observability={"logsRetentionDays": 30})
