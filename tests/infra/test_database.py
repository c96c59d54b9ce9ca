"""Database: private, encrypted, backed up, Multi-AZ and replicated in prod."""

import json

from apps.core.database import POSTGRES_MAJOR
from infra.database import Database, DatabaseArgs, DatabaseConfig
from infra.network import plan_subnets
from stacks.offline.preview import Plan, Secret, run_program
from tests.stacks.test_config import MINIMAL

INSTANCE = "aws:rds/instance:Instance"


def test_never_public_and_only_in_the_isolated_subnets(plans: dict[str, Plan]) -> None:
    for plan in plans.values():
        for instance in plan.of_type(INSTANCE):
            assert instance.plain["publiclyAccessible"] is False
        subnets = plan.one("aws:rds/subnetGroup:SubnetGroup").plain["subnetIds"]
        assert len(subnets) == 3
        assert all("isolated" in s for s in subnets)
        (rule,) = plan.one("aws:ec2/securityGroup:SecurityGroup", "database-sg").plain["ingress"]
        assert (rule["fromPort"], rule["toPort"]) == (5432, 5432)
        assert rule["cidrBlocks"] == list(plan_subnets(plan.settings.network.cidr).private)


def test_encrypted_with_its_key_and_insights_on(plans: dict[str, Plan]) -> None:
    for plan in plans.values():
        assert plan.one("aws:kms/key:Key", "database-key").plain["enableKeyRotation"] is True
        keys = {i.plain["kmsKeyId"] for i in plan.of_type(INSTANCE)}
        (key,) = keys
        assert key.startswith(f"arn:aws:kms:{plan.settings.region}:")
        for instance in plan.of_type(INSTANCE):
            assert instance.plain["storageEncrypted"] is True
            assert instance.plain["performanceInsightsEnabled"] is True
            assert instance.plain["performanceInsightsKmsKeyId"] == instance.plain["kmsKeyId"]


def test_prod_is_multi_az_protected_and_replicated_dev_is_not(dev: Plan, prod: Plan) -> None:
    primary = prod.one(INSTANCE, "database-primary").plain
    assert primary["multiAz"] is True
    assert primary["deletionProtection"] is True
    assert primary["skipFinalSnapshot"] is False
    (replica,) = [r.plain for r in prod.of_type(INSTANCE) if r.name != "database-primary"]
    assert replica["replicateSourceDb"] == "gamemetrics-prod-postgres"
    assert replica["storageEncrypted"] is True
    assert replica["publiclyAccessible"] is False

    (only,) = dev.of_type(INSTANCE)
    assert only.plain["multiAz"] is False
    assert only.plain["deletionProtection"] is False
    assert only.plain["skipFinalSnapshot"] is True


def test_backups_and_point_in_time_recovery_follow_the_stack(plans: dict[str, Plan]) -> None:
    retention = {
        stack: plan.one(INSTANCE, "database-primary").plain["backupRetentionPeriod"]
        for stack, plan in plans.items()
    }
    assert retention == {"dev": 1, "staging": 7, "prod": 35}


def test_parameter_group_loads_pg_stat_statements_and_logs(dev: Plan) -> None:
    group = dev.one("aws:rds/parameterGroup:ParameterGroup").plain
    assert group["family"] == f"postgres{POSTGRES_MAJOR}"
    params = {p["name"]: p["value"] for p in group["parameters"]}
    assert params["shared_preload_libraries"] == "pg_stat_statements"
    assert params["rds.force_ssl"] == "1"
    assert params["log_min_duration_statement"] == "500"
    assert dev.one(INSTANCE).plain["parameterGroupName"].startswith("database-params-")


def test_the_password_is_generated_secret_and_kept_in_secrets_manager(dev: Plan) -> None:
    primary = dev.one(INSTANCE)
    assert isinstance(primary.inputs["password"], Secret)
    version = dev.one("aws:secretsmanager/secretVersion:SecretVersion", "database-credentials")
    assert isinstance(version.inputs["secretString"], Secret)
    stored = json.loads(version.plain["secretString"])
    assert stored["password"] == primary.plain["password"]
    assert stored["host"].startswith("gamemetrics-dev-postgres.")
    secret = dev.one("aws:secretsmanager/secret:Secret", "database-credentials").plain
    assert secret["kmsKeyId"] == primary.plain["kmsKeyId"]


def test_the_component_alone_makes_as_many_replicas_as_asked() -> None:
    def program() -> None:
        Database(
            "db",
            DatabaseArgs(
                name_prefix="t",
                settings=DatabaseConfig(read_replicas=2),
                vpc_id="vpc-1",
                subnet_ids=["a", "b", "c"],
                client_cidrs=["10.0.0.0/19"],
                tags={"environment": "dev"},
            ),
        )

    plan = run_program("dev", MINIMAL, program)
    component = plan.one("gamemetrics:infra:Database")
    children = {r.urn for r in plan.descendants(component)}
    instances = plan.of_type(INSTANCE)
    assert len(instances) == 3
    assert all(i.urn in children for i in instances)
    assert sum(1 for i in instances if "replicateSourceDb" in i.plain) == 2
