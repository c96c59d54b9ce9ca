"""`gamemetrics policy check`: the three stacks pass, the output formats, a broken stack
configuration and a broken program caught, a crashing policy named."""

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pytest
from pulumi_policy import ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from apps.cli.main import main
from apps.cli.policy import sarif, text
from apps.core import services
from infra.kubernetes import workload
from policies import pack
from policies.offline import SECRET_SIG, SIG_KEY, Report
from stacks.image_source import find_project_root
from stacks.offline.policy_check import engine_resources
from stacks.offline.preview import Plan, Secret

ROOT = find_project_root(Path(__file__).parent)
SARIF_SCHEMA = json.loads((Path(__file__).parent / "sarif-schema-2.1.0.json").read_text())
DEV_ADVISORIES = {
    ("rds-backup-retention", "database-primary"),
    ("rds-multi-az", "database-primary"),
    ("rds-deletion-protection", "database-primary"),
    ("elasticache-multi-az", "cache-redis"),
    # dev runs one replica of every declared service: each HPA's minimum is advised against
    *(("kubernetes-hpa-min-replicas", f"kubernetes-{s.name}-hpa") for s in services.ALL),
    ("kafka-replication", "kubernetes-streaming-kafka"),
    ("kafka-replication", "kubernetes-streaming-topic-gm-events-v1"),
    ("kafka-replication", "kubernetes-streaming-topic-gm-events-dlq-v1"),
    ("zone-spread", "network-vpc"),
}
SINGLE_AZ = {
    ("rds-backup-retention", "database-primary"),
    ("rds-multi-az", "database-primary"),
    ("rds-deletion-protection", "database-primary"),
    ("rds-deletion-protection", "database-replica-0"),
    ("elasticache-multi-az", "cache-redis"),
    ("kafka-replication", "kubernetes-streaming-kafka"),
    ("kafka-replication", "kubernetes-streaming-topic-gm-events-v1"),
    ("kafka-replication", "kubernetes-streaming-topic-gm-events-dlq-v1"),
    ("zone-spread", "network-vpc"),
}
"""What prod's configuration turned into a single-AZ, single-broker stack must trigger."""


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["policy", "check", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def pairs(report: dict[str, Any], level: str) -> set[tuple[str, str]]:
    return {
        (v["policy"], v["resourceName"])
        for v in report["violations"]
        if v["enforcementLevel"] == level
    }


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_each_stack_passes_with_no_mandatory_violation(
    capsys: pytest.CaptureFixture[str], stack: str
) -> None:
    code, out, _ = run(capsys, "--stack", stack, "--format", "json")
    assert code == 0
    report = json.loads(out)
    assert report["passed"] is True
    assert report["crashes"] == []
    assert pairs(report, "mandatory") == set()
    # Dev differs where the stack legitimately differs, and only there, as advice.
    assert pairs(report, "advisory") == (DEV_ADVISORIES if stack == "dev" else set())
    assert [p["name"] for p in report["policies"]] == [p.name for p in pack.POLICIES]
    assert all(set(p) >= {"name", "enforcementLevel"} for p in report["policies"])
    assert all(
        set(v) >= {"policy", "enforcementLevel", "resource", "message"}
        for v in report["violations"]
    )
    assert all(v["resource"].startswith(f"urn:pulumi:{stack}::") for v in report["violations"])


def test_text_names_policy_level_resource_and_message(
    plans: dict[str, Plan], reports: dict[str, Report]
) -> None:
    out = text(reports["dev"], plans["dev"])
    lines = out.splitlines()
    assert lines[0] == (
        f"policy pack gamemetrics 0.1.0 on stack dev: {len(pack.POLICIES)} policies "
        f"({len(pack.POLICIES) - 7} mandatory, 7 advisory), {len(plans['dev'].resources)} resources"
    )
    assert "[advisory] rds-multi-az  aws:rds/instance:Instance  database-primary" in lines
    assert (
        '    aws:rds/instance:Instance "database-primary" runs in one availability zone '
        "(multiAz: false): a zone outage stops the database. Fix: set multiAz: true "
        "(gamemetrics:database.multiAz)."
    ) in lines
    assert (
        "    resource: urn:pulumi:dev::gamemetrics::gamemetrics:infra:Database"
        "$aws:rds/instance:Instance::database-primary"
    ) in lines
    assert lines[-1] == (
        f"0 mandatory and {len(DEV_ADVISORIES)} advisory violation(s), 0 crashed policy run(s):"
        " passed"
    )


def test_sarif_is_valid_sarif_2_1_0(plans: dict[str, Plan], reports: dict[str, Report]) -> None:
    document = sarif(reports["dev"], plans["dev"], ROOT / "Pulumi.dev.yaml")
    validator = jsonschema.Draft4Validator(SARIF_SCHEMA, format_checker=jsonschema.FormatChecker())
    assert list(validator.iter_errors(document)) == []
    run_ = document["runs"][0]  # type: ignore[index]
    rules = run_["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == [p.name for p in pack.POLICIES]
    results = run_["results"]
    assert {(r["ruleId"], r["locations"][0]["logicalLocations"][0]["name"]) for r in results} == (
        DEV_ADVISORIES
    )
    assert {r["level"] for r in results} == {"warning"}
    assert all(rules[r["ruleIndex"]]["id"] == r["ruleId"] for r in results)
    assert results[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].endswith(
        "Pulumi.dev.yaml"
    )
    # Not valid: the schema is enforced, not decorative.
    broken = json.loads(json.dumps(document))
    broken["runs"][0]["results"][0]["level"] = "fatal"
    assert list(validator.iter_errors(broken)) != []


def _broken_prod(tmp_path: Path) -> Path:
    """Prod's configuration turned single-AZ, single-broker and unprotected."""
    text_ = (ROOT / "Pulumi.prod.yaml").read_text()
    for old, new in (
        ("natGateways: per-az", "natGateways: single"),
        ("multiAz: true\n    deletionProtection: true\n    backupRetentionDays: 35",
         "multiAz: false\n    deletionProtection: false\n    backupRetentionDays: 1"),
        ("replicas: 2\n    multiAz: true", "replicas: 0\n    multiAz: false"),
        ("brokers: 3", "brokers: 1"),
    ):  # fmt: skip
        assert old in text_
        text_ = text_.replace(old, new)
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text(text_)
    return path


def test_a_broken_prod_configuration_is_stopped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(
        capsys, "--stack", "prod", "--config", str(_broken_prod(tmp_path)), "--format", "json"
    )
    assert code == 1
    report = json.loads(out)
    assert report["passed"] is False
    assert pairs(report, "mandatory") == SINGLE_AZ


@pytest.mark.parametrize(
    ("section", "setting", "message"),
    [
        (
            "database",
            "publiclyAccessible: true",
            "gamemetrics:database: unknown setting publiclyAccessible",
        ),
        (
            "database",
            "storageEncrypted: false",
            "gamemetrics:database: unknown setting storageEncrypted",
        ),
        (
            "cache",
            "atRestEncryptionEnabled: false",
            "gamemetrics:cache: unknown setting atRestEncryptionEnabled",
        ),
    ],
)
def test_a_public_or_unencrypted_database_cannot_even_be_configured(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], section: str, setting: str, message: str
) -> None:
    path = tmp_path / "Pulumi.prod.yaml"
    text_ = (ROOT / "Pulumi.prod.yaml").read_text()
    path.write_text(
        text_.replace(f"  gamemetrics:{section}:\n", f"  gamemetrics:{section}:\n    {setting}\n")
    )
    code, _, err = run(capsys, "--stack", "prod", "--config", str(path))
    assert code == 2
    assert message in err


class _PublicPlaintextInstance(aws.rds.Instance):
    """What a careless edit of infra/database.py could declare."""

    def __init__(self, resource_name: str, *args: Any, **kwargs: Any) -> None:
        kwargs.update(publicly_accessible=True, storage_encrypted=False)
        super().__init__(resource_name, *args, **kwargs)


def _no_limits(service: Any) -> k8s.core.v1.ResourceRequirementsArgs:
    return k8s.core.v1.ResourceRequirementsArgs(requests={"cpu": "250m", "memory": "256Mi"})


def test_a_public_unencrypted_database_and_containers_without_limits_are_stopped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The configuration cannot ask for them, so the program is broken instead (as an edit of
    infra/ could): with prod's broken configuration, every expected violation is reported."""
    monkeypatch.setattr(aws.rds, "Instance", _PublicPlaintextInstance)
    monkeypatch.setattr(workload, "resources", _no_limits)
    code, out, _ = run(
        capsys, "--stack", "prod", "--config", str(_broken_prod(tmp_path)), "--format", "json"
    )
    assert code == 1
    found = pairs(json.loads(out), "mandatory")
    assert found == SINGLE_AZ | {
        ("rds-not-publicly-accessible", "database-primary"),
        ("rds-not-publicly-accessible", "database-replica-0"),
        ("rds-storage-encrypted", "database-primary"),
        ("rds-storage-encrypted", "database-replica-0"),
    } | {
        ("kubernetes-container-resources", f"kubernetes-{s.name}-deployment") for s in services.ALL
    }
    messages = {v["message"] for v in json.loads(out)["violations"]}
    assert (
        'kubernetes:apps/v1:Deployment "kubernetes-ingest-deployment" (Deployment '
        'gamemetrics/ingest): container "ingest" sets no limits.cpu, limits.memory. Fix: set '
        "resources.requests and resources.limits for cpu and memory on every container."
    ) in messages


def _explode(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type == "aws:rds/instance:Instance":
        raise RuntimeError("policy bug")


@pytest.fixture
def exploding_policy() -> Iterator[str]:
    policy = ResourceValidationPolicy("explodes-on-rds", "A policy with a bug.", _explode)
    original = pack.POLICIES
    pack.POLICIES = [*original, policy]  # type: ignore[misc]
    try:
        yield policy.name
    finally:
        pack.POLICIES = original  # type: ignore[misc]


def test_a_crashing_policy_is_named_and_fails_the_check(
    capsys: pytest.CaptureFixture[str], exploding_policy: str, tmp_path: Path
) -> None:
    config = tmp_path / "policy.json"
    config.write_text('{"all": "mandatory"}')
    code, out, _ = run(capsys, "--stack", "staging", "--policy-config", str(config))
    assert code == 1
    lines = out.splitlines()
    primary = (
        "urn:pulumi:staging::gamemetrics::gamemetrics:infra:Database"
        "$aws:rds/instance:Instance::database-primary"
    )
    assert f"[crashed] {exploding_policy}  on {primary}" in lines
    assert "    RuntimeError: policy bug (at test_check.py:" in out
    assert lines[-1] == "0 mandatory and 0 advisory violation(s), 1 crashed policy run(s): FAILED"


def test_crashes_in_json_and_sarif(plans: dict[str, Plan], reports: dict[str, Report]) -> None:
    from policies.offline import Crash

    report = reports["prod"]
    crashed = Report(report.pack, report.version, report.policies, report.violations,
                     (Crash("zone-spread", None, "KeyError: 'x'"),))  # fmt: skip
    assert crashed.to_json()["crashes"] == [
        {"policy": "zone-spread", "resource": None, "error": "KeyError: 'x'"}
    ]
    document = sarif(crashed, plans["prod"], ROOT / "Pulumi.prod.yaml")
    invocation = document["runs"][0]["invocations"][0]  # type: ignore[index]
    assert invocation["executionSuccessful"] is False
    assert invocation["toolExecutionNotifications"][0]["associatedRule"] == {"id": "zone-spread"}
    validator = jsonschema.Draft4Validator(SARIF_SCHEMA, format_checker=jsonschema.FormatChecker())
    assert list(validator.iter_errors(document)) == []


def test_the_engine_sees_secrets_wrapped_and_names_as_the_schema_has_them(
    plans: dict[str, Plan],
) -> None:
    by_name = {r.name: r for r in engine_resources(plans["prod"])}
    primary = by_name["database-primary"].properties
    assert primary["password"] == {SIG_KEY: SECRET_SIG, "value": _secret_value(plans["prod"])}
    assert primary["storageEncrypted"] is True
    assert "storage_encrypted" not in primary
    deployment = by_name["kubernetes-ingest-deployment"].properties
    container = deployment["spec"]["template"]["spec"]["containers"][0]  # type: ignore[index]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True


def _secret_value(plan: Plan) -> object:
    password = plan.one("aws:rds/instance:Instance", "database-primary").inputs["password"]
    assert isinstance(password, Secret)
    return password.value


def test_errors_are_one_line_with_exit_code_two(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert run(capsys, "--stack", "qa")[0] == 2
    config = tmp_path / "policy.json"
    config.write_text('{"rds-multi-az": "blocking"}')
    code, _, err = run(capsys, "--stack", "dev", "--policy-config", str(config))
    assert code == 2
    assert err == (
        "gamemetrics policy: rds-multi-az: enforcement level 'blocking' is not one of "
        "advisory, mandatory, disabled\n"
    )


def test_without_the_infra_extra_it_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "pulumi_policy", None)
    code, _, err = run(capsys, "--stack", "dev")
    assert code == 2
    assert "pip install -c constraints.txt -e '.[infra]'" in err
