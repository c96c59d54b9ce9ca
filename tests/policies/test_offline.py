"""The offline analyzer: the engine's configuration rules, what reaches the policies, crashes."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from policies.offline import (
    UNKNOWN,
    EngineResource,
    OfflineAnalyzer,
    PolicyConfigError,
    config_file,
    read_config,
    reconcile,
    secret,
)
from policies.pack import POLICIES
from tests.policies.harness import AWS_PROVIDER_URN, aws_provider, res, stack_resource

SEEN: list[dict[str, Any]] = []


def record(args: ResourceValidationArgs, report: ReportViolation) -> None:
    provider = args.provider
    SEEN.append(
        {
            "type": args.resource_type,
            "name": args.name,
            "props": dict(args.props),
            "config": dict(args.get_config()),
            "provider": dict(provider.props) if provider else None,
            "parent": args.opts.protect,
        }
    )
    report(f"saw {args.name}", None)


def crash(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.name == "boom":
        raise KeyError("missing")


def stack_crash(args: StackValidationArgs, report: ReportViolation) -> None:
    raise ValueError("stack went wrong")


def stack_names(args: StackValidationArgs, report: ReportViolation) -> None:
    for r in args.resources:
        if r.name == "child":
            parent = r.parent.name if r.parent else None
            deps = [d.name for d in r.dependencies]
            report(f"child of {parent}, after {deps}", r.urn)


RECORD = ResourceValidationPolicy("record", "Records what it is given.", record)
CRASH = ResourceValidationPolicy("crash", "Raises on one resource.", crash)
STACK_CRASH = StackValidationPolicy("stack-crash", "Always raises.", stack_crash)
STACK_NAMES = StackValidationPolicy("stack-names", "Reports parents and dependencies.", stack_names)


@pytest.fixture
def seen() -> Iterator[list[dict[str, Any]]]:
    SEEN.clear()
    yield SEEN
    SEEN.clear()


def test_what_reaches_a_policy_is_what_the_engine_sends(seen: list[dict[str, Any]]) -> None:
    analyzer = OfflineAnalyzer([RECORD])
    db = res("aws:rds/instance:Instance", "db", {"password": secret("hunter2"), "port": 5432})
    report = analyzer.analyze([stack_resource(), aws_provider({"owner": "team"}), db])
    entry = next(s for s in seen if s["name"] == "db")
    # Secrets arrive unwrapped, numbers as the wire's floats, the provider with its inputs.
    assert entry["props"] == {"password": "hunter2", "port": 5432.0}
    assert entry["provider"]["defaultTags"] == '{"tags": {"owner": "team"}}'
    # A resource policy's violation is attributed to the analyzed resource, with the level.
    hits = [v for v in report.violations if v.resource_name == "db"]
    assert [(v.policy, v.enforcement_level, v.message, v.urn) for v in hits] == [
        ("record", "mandatory", "saw db", db.urn)
    ]
    assert hits[0].description == "Records what it is given."


def test_a_value_unknown_during_preview_is_reported_as_the_sdk_does() -> None:
    def reads(args: ResourceValidationArgs, report: ReportViolation) -> None:
        if args.props.get("kmsKeyId") is None:
            report("no key", None)

    analyzer = OfflineAnalyzer([ResourceValidationPolicy("reads-key", "Reads the key.", reads)])
    db = res("aws:rds/instance:Instance", "db", {"kmsKeyId": UNKNOWN}, provider="")
    report = analyzer.analyze([db])
    assert [(v.enforcement_level, v.message) for v in report.violations] == [
        (
            "advisory",
            "can't run policy 'reads-key' during preview: string value at .kmsKeyId can't be "
            "known during preview",
        )
    ]


def test_stack_policies_see_parents_and_dependencies() -> None:
    analyzer = OfflineAnalyzer([STACK_NAMES])
    parent = res("gamemetrics:infra:Box", "box", {}, provider="")
    dep = res("aws:kms/key:Key", "key", {})
    child = EngineResource(
        "urn:child",
        "aws:s3/bucket:Bucket",
        "child",
        True,
        {},
        parent.urn,
        AWS_PROVIDER_URN,
        (dep.urn,),
    )
    report = analyzer.analyze([stack_resource(), aws_provider(), parent, dep, child])
    assert [(v.resource_name, v.message) for v in report.violations] == [
        ("child", "child of box, after ['key']")
    ]


def test_a_crashing_policy_is_named_and_the_others_still_report(seen: list[dict[str, Any]]) -> None:
    analyzer = OfflineAnalyzer([RECORD, CRASH, STACK_CRASH, STACK_NAMES])
    boom = res("aws:s3/bucket:Bucket", "boom", {}, provider="")
    fine = res("aws:s3/bucket:Bucket", "fine", {}, provider="")
    report = analyzer.analyze([boom, fine])
    assert [(c.policy, c.urn) for c in report.crashes] == [
        ("crash", boom.urn),
        ("stack-crash", None),
    ]
    assert report.crashes[0].error.startswith("KeyError: 'missing' (at test_offline.py:")
    assert report.crashes[0].error.endswith(", in crash)")
    assert "ValueError: stack went wrong" in report.crashes[1].error
    # `record` ran on both resources, before and after the crash was isolated.
    assert [v.message for v in report.violations] == ["saw boom", "saw fine"]
    assert not report.passed
    # The configuration is restored after the isolation runs.
    assert {p.name: p.enforcement_level for p in report.policies} == dict.fromkeys(
        ("record", "crash", "stack-crash", "stack-names"), "mandatory"
    )


def test_configuration_is_reconciled_as_the_engine_does() -> None:
    settings = reconcile(
        POLICIES,
        EnforcementLevel.MANDATORY,
        {
            "all": "advisory",
            "rds-multi-az": "mandatory",
            "rds-backup-retention": {"minimumDays": 3, "why": "a note the schema allows"},
            "zone-spread": {"enforcementLevel": "disabled"},
        },
    )
    assert settings["ecr-immutable-tags"].enforcement_level == "advisory"
    assert settings["rds-multi-az"].enforcement_level == "mandatory"
    assert settings["rds-backup-retention"].enforcement_level == "advisory"
    assert settings["rds-backup-retention"].properties == {
        "minimumDays": 3,
        "why": "a note the schema allows",
    }
    assert settings["kafka-replication"].properties == {
        "minimumReplicationFactor": 3,
        "minimumInsyncReplicas": 2,
    }
    assert settings["zone-spread"].enforcement_level == "disabled"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"rds-multi-az": "blocking"},
            "rds-multi-az: enforcement level 'blocking' is not one of advisory, mandatory, "
            "disabled",
        ),
        ({"rds-mutli-az": "advisory"}, "rds-mutli-az: no such policy in the pack; policies: "),
        (
            {"rds-backup-retention": {"minimumDays": "a week"}},
            "rds-backup-retention.minimumDays: 'a week' is not of type 'integer'",
        ),
        ({"zone-spread": 3}, "zone-spread: expected an enforcement level or an object, got 3"),
    ],
)
def test_an_invalid_configuration_names_the_policy(config: dict[str, Any], message: str) -> None:
    with pytest.raises(PolicyConfigError) as raised:
        reconcile(POLICIES, EnforcementLevel.MANDATORY, config)
    assert str(raised.value).startswith(message)


def test_a_disabled_policy_is_not_evaluated() -> None:
    analyzer = OfflineAnalyzer([RECORD], config={"record": "disabled"})
    report = analyzer.analyze([res("aws:kms/key:Key", "key", {}, provider="")])
    assert report.policies == ()
    assert report.violations == ()


def test_configuration_files(tmp_path: Path) -> None:
    assert config_file("prod").name == "prod.json"
    # A stack without its own file takes its environment's.
    assert config_file("prod-eu", "prod").name == "prod.json"
    with pytest.raises(PolicyConfigError, match="no policy configuration for stack 'qa'"):
        config_file("qa", "qa")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(PolicyConfigError, match=r"broken\.json: not valid JSON"):
        read_config(broken)
    with pytest.raises(PolicyConfigError, match="cannot read the policy configuration"):
        read_config(tmp_path / "missing.json")


def test_a_name_unknown_during_preview_still_names_the_resource(analyzer: OfflineAnalyzer) -> None:
    from tests.policies.kubernetes import deployment, pod_spec

    web = deployment(spec=pod_spec(hostPID=True))
    metadata = {**web.properties["metadata"], "namespace": UNKNOWN}  # type: ignore[dict-item]
    computed = EngineResource(
        web.urn, web.type, web.name, True, {**web.properties, "metadata": metadata}
    )
    analyzer.configure({"all": "mandatory"})
    try:
        report = analyzer.analyze([computed])
    finally:
        analyzer.configure({})
    assert [
        v.message for v in report.violations if v.policy == "kubernetes-no-host-namespaces"
    ] == [
        'kubernetes:apps/v1:Deployment "web" (Deployment (computed)/web) shares the node\'s '
        "namespaces (hostPID: true). Fix: remove them; expose ports through a Service instead."
    ]
