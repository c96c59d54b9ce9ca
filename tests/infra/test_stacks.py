"""The three stacks: inventories, their differences, tags on every taggable AWS resource."""

import importlib
import inspect
import re
from functools import cache

from stacks.config import TAG_KEYS
from stacks.offline.preview import Plan, Resource

COMMON = {
    "gamemetrics:infra:Network": 1,
    "gamemetrics:infra:Cluster": 1,
    "gamemetrics:infra:Database": 1,
    "gamemetrics:infra:Cache": 1,
    "gamemetrics:infra:Storage": 1,
    "gamemetrics:infra:Registry": 1,
    "gamemetrics:infra:ArchiveCatalog": 1,
    "gamemetrics:infra:Bucket": 4,
    "pulumi:providers:aws": 1,
    "pulumi:providers:kubernetes": 1,
    "aws:ec2/vpc:Vpc": 1,
    "aws:ec2/subnet:Subnet": 9,
    "aws:ec2/routeTable:RouteTable": 5,
    "aws:ec2/vpcEndpoint:VpcEndpoint": 3,
    "aws:ec2/flowLog:FlowLog": 1,
    "aws:kms/key:Key": 6,
    "eks:index:Cluster": 1,
    "aws:eks/addon:Addon": 3,
    "aws:elasticache/replicationGroup:ReplicationGroup": 1,
    "aws:s3/bucket:Bucket": 4,
    "aws:glue/catalogDatabase:CatalogDatabase": 1,
    "aws:glue/catalogTable:CatalogTable": 1,
    "aws:athena/workgroup:Workgroup": 1,
    "aws:ecr/repository:Repository": 1,
    "docker-build:index:Image": 1,
    "aws:secretsmanager/secret:Secret": 2,
}
DIFFERENT = {
    # type: (dev, staging, prod)
    "aws:ec2/natGateway:NatGateway": (1, 3, 3),
    "aws:ec2/eip:Eip": (1, 3, 3),
    "eks:index:ManagedNodeGroup": (1, 1, 2),
    "aws:ec2/launchTemplate:LaunchTemplate": (1, 1, 2),
    "aws:rds/instance:Instance": (1, 1, 2),
}
TOTALS = {"dev": 127, "staging": 131, "prod": 134}
"""What the AWS side declares: the stack, its AWS provider and the seven components' trees."""
COMPONENTS = tuple(
    f"gamemetrics:infra:{c}"
    for c in ("Network", "Cluster", "Database", "Cache", "Storage", "Registry", "ArchiveCatalog")
)


def aws_side(plan: Plan) -> list[Resource]:
    """The stack, its AWS provider and the AWS components' trees (not the Kubernetes side's)."""
    found = [r for r in plan.resources if r.type in ("pulumi:pulumi:Stack", "pulumi:providers:aws")]
    for component in (r for r in plan.resources if r.type in COMPONENTS):
        found += [component, *plan.descendants(component)]
    return found


def test_each_stack_inventory(plans: dict[str, Plan]) -> None:
    for i, (stack, plan) in enumerate(plans.items()):
        counts = plan.count_by_type()
        for type_, count in COMMON.items():
            assert counts.get(type_) == count, (stack, type_)
        for type_, per_stack in DIFFERENT.items():
            assert counts.get(type_) == per_stack[i], (stack, type_)
        assert len(aws_side(plan)) == TOTALS[stack], stack


def test_the_stacks_differ_in_configuration_only(plans: dict[str, Plan]) -> None:
    """Same components and resource names everywhere, except what the configuration scales."""
    scaled = ("-nat-", "-private-default-", "-replica-", "cluster-kafka")

    def names(plan: Plan) -> set[tuple[str, str]]:
        return {(r.type, r.name) for r in aws_side(plan) if not any(s in r.name for s in scaled)}

    dev, staging, prod = (names(p) for p in plans.values())
    assert {n for n in dev if n[0] != "pulumi:pulumi:Stack"} == {
        n for n in prod if n[0] != "pulumi:pulumi:Stack"
    }
    assert staging - {("pulumi:pulumi:Stack", "gamemetrics-staging")} == dev - {
        ("pulumi:pulumi:Stack", "gamemetrics-dev")
    }


def test_every_resource_is_parented_to_a_component(plans: dict[str, Plan]) -> None:
    for plan in plans.values():
        stack = plan.one("pulumi:pulumi:Stack")
        top = {r.type for r in plan.children(stack)}
        assert all(t == "pulumi:providers:aws" or t.startswith("gamemetrics:") for t in top)


@cache
def taggable(type_: str) -> bool:
    """Whether the SDK's resource takes `tags` (for the aws and eks packages)."""
    package, module, name = type_.split(":")
    roots = {"aws": "pulumi_aws", "eks": "pulumi_eks"}
    if package not in roots:
        return False
    path = (
        roots[package] if module.startswith("index") else f"{roots[package]}.{module.split('/')[0]}"
    )
    args = getattr(importlib.import_module(path), f"{name}Args")
    return "tags" in inspect.signature(args.__init__).parameters


def component_of(plan: Plan, resource: Resource) -> str | None:
    """The AWS component (network, database, ...) the resource belongs to, if any."""
    by_urn = {r.urn: r for r in plan.resources}
    current: Resource | None = resource
    while current is not None and current.type not in COMPONENTS:
        current = by_urn.get(current.parent or "")
    if current is None:
        return None
    # ArchiveCatalog -> archive-catalog
    return re.sub(r"(?<!^)(?=[A-Z])", "-", current.type.rsplit(":", 1)[1]).lower()


def test_every_taggable_aws_resource_carries_the_four_tags(plans: dict[str, Plan]) -> None:
    checked = 0
    for stack, plan in plans.items():
        for resource in plan.resources:
            if not taggable(resource.type):
                continue
            tags = resource.plain.get("tags")
            assert isinstance(tags, dict), f"{stack}: {resource.type} {resource.name} has no tags"
            assert set(TAG_KEYS) <= set(tags), (resource.type, resource.name)
            assert tags["environment"] == stack
            assert tags["owner"] == "platform-team"
            assert tags["cost-center"] == f"gamemetrics-{stack}"
            component = component_of(plan, resource)
            if component is not None:  # the Kubernetes side names its own services
                assert tags["service"] == component, resource.name
            checked += 1
    assert checked > 3 * 40
    assert taggable("aws:glue/catalogDatabase:CatalogDatabase")
    assert taggable("aws:athena/workgroup:Workgroup")
    assert not taggable("aws:kms/alias:Alias")
    assert taggable("aws:kms/key:Key")


def test_the_provider_tags_by_default_too(prod: Plan) -> None:
    provider = prod.one("pulumi:providers:aws").plain
    assert provider["region"] == "eu-central-1"
    assert '"cost-center": "gamemetrics-prod"' in provider["defaultTags"]


def test_exports(plans: dict[str, Plan]) -> None:
    for stack, plan in plans.items():
        assert plan.outputs["environment"] == stack
        assert plan.outputs["clusterName"] == f"gamemetrics-{stack}"
        buckets = plan.outputs["buckets"]
        assert isinstance(buckets, dict)
        assert set(buckets) == {"archive", "backups", "logs"}
        assert str(plan.outputs["databaseAddress"]).startswith(f"gamemetrics-{stack}-postgres.")
    readers = plans["prod"].outputs["databaseReaderAddresses"]
    assert isinstance(readers, list)
    assert len(readers) == 1
