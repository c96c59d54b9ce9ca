"""The Kubernetes objects of the whole program (stacks/__main__.py under mocks) are valid."""

import pytest

from infra.kubernetes.validate import kubernetes_objects, validate_objects
from infra.preview import COMPUTED, Plan

STACKS = ("dev", "staging", "prod")


@pytest.mark.parametrize("stack", STACKS)
def test_every_kubernetes_object_of_the_stack_validates(plans: dict[str, Plan], stack: str) -> None:
    plan = plans[stack]
    objects = kubernetes_objects(((r.type, r.plain) for r in plan.resources), unknown=(COMPUTED,))
    report = validate_objects(objects, plan_kubernetes_version(plan))
    kinds = {kind for kind, _, _ in report.validated}
    assert {"Deployment", "KafkaTopic", "KafkaUser", "ServiceMonitor", "Namespace"} <= kinds


def plan_kubernetes_version(plan: Plan) -> str:
    """The EKS version the stack's cluster runs: its objects must fit that API."""
    (cluster,) = [r for r in plan.resources if r.type == "eks:index:Cluster"]
    return str(cluster.plain["version"])
