"""Building resources as the engine describes them, and running one policy's cases."""

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from policies.offline import EngineResource, OfflineAnalyzer, Report

STACK_URN = "urn:pulumi:test::gamemetrics::pulumi:pulumi:Stack::gamemetrics-test"
AWS_PROVIDER_URN = "urn:pulumi:test::gamemetrics::pulumi:providers:aws::aws"
TAGS = {"environment": "test", "service": "db", "owner": "team", "cost-center": "cc-1"}


def urn(type_: str, name: str) -> str:
    return f"urn:pulumi:test::gamemetrics::{type_}::{name}"


def res(
    type_: str,
    name: str,
    props: Mapping[str, Any] | None = None,
    *,
    deps: Sequence[EngineResource] = (),
    provider: str | None = None,
) -> EngineResource:
    """A resource; AWS resources get the test stack's AWS provider unless told otherwise."""
    if provider is None and type_.startswith("aws:"):
        provider = AWS_PROVIDER_URN
    return EngineResource(
        urn=urn(type_, name),
        type=type_,
        name=name,
        custom=not type_.startswith(("eks:index:", "pulumi:pulumi:")),
        properties=dict(props or {}),
        parent=STACK_URN,
        provider=provider,
        dependencies=tuple(d.urn for d in deps),
    )


def aws_provider(default_tags: Mapping[str, str] | None = None) -> EngineResource:
    props: dict[str, Any] = {"region": "eu-west-1"}
    if default_tags is not None:
        # As the SDK sends provider configuration: nested values as JSON text.
        props["defaultTags"] = json.dumps({"tags": dict(default_tags)})
    return EngineResource(
        urn=AWS_PROVIDER_URN,
        type="pulumi:providers:aws",
        name="aws",
        custom=True,
        properties=props,
        parent=STACK_URN,
    )


def stack_resource() -> EngineResource:
    return EngineResource(STACK_URN, "pulumi:pulumi:Stack", "gamemetrics-test", False, {})


def k8s(
    kind: str, group_version: str, name: str, spec: Mapping[str, Any], **meta: Any
) -> dict[str, Any]:
    """The properties of a Kubernetes object as pulumi-kubernetes sends them."""
    api = group_version.replace("core/", "")
    metadata: dict[str, Any] = {"name": name, "namespace": meta.pop("namespace", "apps")}
    metadata.update(meta)
    return {"apiVersion": api, "kind": kind, "metadata": metadata, "spec": dict(spec)}


@dataclass(frozen=True)
class Case:
    """One policy: resources that comply, resources that do not, and exactly what it says."""

    policy: str
    good: Sequence[EngineResource]
    bad: Sequence[EngineResource]
    expected: Sequence[tuple[str, str]]
    """(resource name, message) of every violation on `bad`, in order."""
    config: Mapping[str, Any] = field(default_factory=dict)
    id: str = ""

    def __str__(self) -> str:
        return f"{self.policy}{'-' + self.id if self.id else ''}"


def analyze(
    analyzer: OfflineAnalyzer, resources: Sequence[EngineResource], config: Mapping[str, Any]
) -> Report:
    analyzer.configure({"all": "mandatory", **config})
    try:
        return analyzer.analyze([stack_resource(), aws_provider(TAGS), *resources])
    finally:
        analyzer.configure({})


def found(
    analyzer: OfflineAnalyzer,
    policy: str,
    resources: Sequence[EngineResource],
    config: Mapping[str, Any] | None = None,
) -> list[tuple[str, str]]:
    report = analyze(analyzer, resources, {policy: {**(config or {})}} if config else {})
    assert report.crashes == (), report.crashes
    hits = [v for v in report.violations if v.policy == policy]
    assert all(v.enforcement_level == "mandatory" for v in hits)
    return [(v.resource_name, v.message) for v in hits]


def check(analyzer: OfflineAnalyzer, case: Case) -> None:
    assert found(analyzer, case.policy, case.good, case.config) == []
    assert found(analyzer, case.policy, case.bad, case.config) == list(case.expected)
