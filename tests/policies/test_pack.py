"""The pack as a whole: what `pulumi preview --policy-pack policies` starts, its policies,
its per-stack configuration, and its independence from the program it checks."""

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
import yaml
from google.protobuf import empty_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc
from pulumi_policy import EnforcementLevel, ResourceValidationPolicy, StackValidationPolicy

from policies.offline import read_config, reconcile
from policies.pack import CONFIG_DIRECTORY, DIRECTORY, NAME, POLICIES
from tests.policies import (
    test_aws_archive,
    test_aws_cluster,
    test_aws_data,
    test_aws_network,
    test_aws_storage,
    test_aws_tags,
    test_kafka_access,
    test_kubernetes_objects,
    test_kubernetes_pods,
    test_stack,
)

ADVISORY_IN_DEV = {
    "rds-multi-az",
    "rds-deletion-protection",
    "rds-backup-retention",
    "elasticache-multi-az",
    "kubernetes-hpa-min-replicas",
    "kafka-replication",
    "zone-spread",
}


def test_at_least_thirty_policies_each_one_validator_with_a_unique_name() -> None:
    names = [p.name for p in POLICIES]
    assert len(names) >= 30
    assert len(set(names)) == len(names)
    for p in POLICIES:
        assert isinstance(p, ResourceValidationPolicy | StackValidationPolicy)
        attribute = (
            "_ResourceValidationPolicy__validate"
            if isinstance(p, ResourceValidationPolicy)
            else "_StackValidationPolicy__validate"
        )
        validate = getattr(p, attribute)
        assert callable(validate), p.name
        assert p.description.endswith("."), p.name


def test_every_policy_has_a_compliant_and_a_non_compliant_case() -> None:
    modules = (
        test_aws_archive,
        test_aws_data,
        test_aws_storage,
        test_aws_network,
        test_aws_cluster,
        test_aws_tags,
        test_kubernetes_pods,
        test_kubernetes_objects,
        test_stack,
        test_kafka_access,
    )
    cases = [case for module in modules for case in module.CASES]
    assert {c.policy for c in cases} == {p.name for p in POLICIES}
    assert all(c.good and c.bad and c.expected for c in cases)


def test_enforcement_per_stack() -> None:
    levels = {}
    for stack in ("dev", "staging", "prod"):
        settings = reconcile(
            POLICIES, EnforcementLevel.MANDATORY, read_config(CONFIG_DIRECTORY / f"{stack}.json")
        )
        levels[stack] = {name: s.enforcement_level for name, s in settings.items()}
    assert set(levels["prod"].values()) == {"mandatory"}
    assert set(levels["staging"].values()) == {"mandatory"}
    assert {n for n, level in levels["dev"].items() if level == "advisory"} == ADVISORY_IN_DEV
    assert {n for n, level in levels["dev"].items() if level != "advisory"} == {
        p.name for p in POLICIES
    } - ADVISORY_IN_DEV
    # Each of dev's exceptions says why, in the file the CLI reads.
    dev = json.loads((CONFIG_DIRECTORY / "dev.json").read_text())
    assert all(dev[name]["why"] for name in ADVISORY_IN_DEV)


def test_pulumi_policy_yaml_is_a_python_pack_in_the_project_virtualenv() -> None:
    document = yaml.safe_load((DIRECTORY / "PulumiPolicy.yaml").read_text())
    assert document["runtime"]["name"] == "python"
    assert document["runtime"]["options"]["virtualenv"] == "../.venv"
    assert document["version"]
    assert document["description"]


def test_the_pack_imports_neither_the_apps_nor_the_infrastructure() -> None:
    code = (
        "import sys, policies.pack, policies.offline; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'apps', 'infra', 'stacks'}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "[]"


@pytest.fixture(scope="module")
def served() -> Iterator[analyzer_pb2_grpc.AnalyzerStub]:
    """The pack started as the Pulumi CLI starts a Python policy pack: in the pack's directory,
    `python -u -m pulumi.policy <engine> .`; it prints its port and serves until stopped."""
    with subprocess.Popen(
        [sys.executable, "-u", "-m", "pulumi.policy", "127.0.0.1:1", "."],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=DIRECTORY,
    ) as process:
        try:
            assert process.stdout is not None
            port = process.stdout.readline().strip()
            assert port.isdigit(), process.stderr.read() if process.stderr else port
            with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
                yield analyzer_pb2_grpc.AnalyzerStub(channel)
        finally:
            process.terminate()
            process.wait(timeout=30)


def test_the_cli_entry_serves_every_policy(served: analyzer_pb2_grpc.AnalyzerStub) -> None:
    info = served.GetAnalyzerInfo(empty_pb2.Empty())
    assert info.name == NAME
    assert [p.name for p in info.policies] == [p.name for p in POLICIES]
    assert {p.enforcementLevel for p in info.policies} == {analyzer_pb2.MANDATORY}
    request = analyzer_pb2.AnalyzeRequest(
        type="aws:rds/instance:Instance", urn="urn:pulumi:prod::gamemetrics::x::db", name="db"
    )
    request.properties.update({"storageEncrypted": False, "multiAz": True})
    policies = {d.policyName for d in served.Analyze(request).diagnostics}
    assert "rds-storage-encrypted" in policies
    assert "rds-multi-az" not in policies


def test_the_pack_directory_is_shipped(tmp_path: Path) -> None:
    """The wheel carries PulumiPolicy.yaml and the per-stack configuration (package data)."""
    text = (DIRECTORY.parent / "pyproject.toml").read_text()
    assert '"policies" = ["PulumiPolicy.yaml", "config/*.json"]' in text
    assert sorted(p.name for p in CONFIG_DIRECTORY.glob("*.json")) == [
        "dev.json",
        "prod.json",
        "staging.json",
    ]


def test_the_readme_lists_every_policy_and_every_dev_exception() -> None:
    readme = (DIRECTORY / "README.md").read_text()
    listed = {line.split("`")[1] for line in readme.splitlines() if line.startswith("| `")}
    assert {p.name for p in POLICIES} <= listed
    assert listed >= ADVISORY_IN_DEV
