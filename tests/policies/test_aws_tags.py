"""Required tags: own tags merged over the provider's defaults; the taggable types are the
ones pulumi-aws gives a `tags` argument."""

import importlib
import inspect
import json
import keyword

import pytest

from policies.aws_tags import TAGGABLE
from policies.offline import EngineResource, OfflineAnalyzer
from stacks.offline.preview import Plan
from tests.policies.harness import STACK_URN, TAGS, Case, check, res

PLAIN_PROVIDER = "urn:pulumi:test::gamemetrics::pulumi:providers:aws::plain"
DEFAULTS_PROVIDER = "urn:pulumi:test::gamemetrics::pulumi:providers:aws::defaults"


def provider(urn: str, default_tags: dict[str, str] | None) -> EngineResource:
    props: dict[str, object] = {"region": "eu-west-1"}
    if default_tags:
        props["defaultTags"] = json.dumps({"tags": default_tags})
    return EngineResource(
        urn, "pulumi:providers:aws", urn.rsplit("::", 1)[1], True, props, STACK_URN
    )


PLAIN = provider(PLAIN_PROVIDER, None)
DEFAULTS = provider(
    DEFAULTS_PROVIDER, {"environment": "test", "owner": "team", "cost-center": "cc-1"}
)
FIX = (
    "Fix: tag it with environment, service, owner, cost-center (its own tags, or the provider's "
    "defaultTags)."
)

CASES = [
    Case(
        "aws-required-tags",
        good=[
            PLAIN,
            DEFAULTS,
            res("aws:rds/instance:Instance", "db", {"tags": TAGS}, provider=PLAIN_PROVIDER),
            res("aws:kms/key:Key", "key", {"tags": {"service": "db"}}, provider=DEFAULTS_PROVIDER),
            # Not taggable: no tags asked for.
            res("aws:kms/alias:Alias", "alias", {"name": "alias/db"}, provider=PLAIN_PROVIDER),
            res("eks:index:Cluster", "eks", {"tags": TAGS}),
        ],
        bad=[
            PLAIN,
            DEFAULTS,
            res(
                "aws:rds/instance:Instance",
                "db",
                {"tags": {"service": "db"}},
                provider=PLAIN_PROVIDER,
            ),
            res("aws:kms/key:Key", "key", {}, provider=DEFAULTS_PROVIDER),
            res(
                "aws:sfn/stateMachine:StateMachine",
                "flow",
                {"tags": {**TAGS, "owner": ""}},
                provider=PLAIN_PROVIDER,
            ),
            res("eks:index:ManagedNodeGroup", "nodes", {}),
        ],
        expected=[
            (
                "db",
                'aws:rds/instance:Instance "db" lacks the tags environment, owner, cost-center. '
                f"{FIX}",
            ),
            ("key", f'aws:kms/key:Key "key" lacks the tags service. {FIX}'),
            ("flow", f'aws:sfn/stateMachine:StateMachine "flow" lacks the tags owner. {FIX}'),
            (
                "nodes",
                'eks:index:ManagedNodeGroup "nodes" lacks the tags environment, service, owner, '
                f"cost-center. {FIX}",
            ),
        ],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_policy(analyzer: OfflineAnalyzer, case: Case) -> None:
    check(analyzer, case)


def _takes_tags(type_: str) -> bool:
    module, name = type_.split(":")[1].split("/")[0], type_.split(":")[2]
    module += "_" if keyword.iskeyword(module) else ""  # pulumi_aws.lambda_
    cls = getattr(importlib.import_module(f"pulumi_aws.{module}"), name)
    return "tags" in inspect.signature(cls._internal_init).parameters


def test_every_listed_aws_type_takes_tags() -> None:
    listed = sorted(t for t in TAGGABLE if t.startswith("aws:"))
    assert [t for t in listed if not _takes_tags(t)] == []


def test_every_taggable_aws_type_the_stacks_declare_is_listed(plans: dict[str, Plan]) -> None:
    declared = {
        r.type for plan in plans.values() for r in plan.resources if r.type.startswith("aws:")
    }
    assert sorted(t for t in declared if _takes_tags(t) and t not in TAGGABLE) == []
