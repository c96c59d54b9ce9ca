"""The Kubernetes objects of the whole program (stacks/__main__.py under mocks) are valid."""

import json

import pytest

from infra.kubernetes import kafka
from stacks.offline.preview import COMPUTED, Plan
from stacks.offline.validate import SCHEMAS_DIR, kubernetes_objects, validate_objects

STACKS = ("dev", "staging", "prod")


@pytest.mark.parametrize("stack", STACKS)
def test_every_kubernetes_object_of_the_stack_validates(plans: dict[str, Plan], stack: str) -> None:
    plan = plans[stack]
    objects = kubernetes_objects(((r.type, r.plain) for r in plan.resources), unknown=(COMPUTED,))
    report = validate_objects(objects, plan_kubernetes_version(plan))
    kinds = {kind for kind, _, _ in report.validated}
    assert {"Deployment", "Namespace"} <= kinds
    if SCHEMAS_DIR.is_dir():  # the custom resources too, against the shared CRD schemas
        assert {"KafkaTopic", "KafkaUser", "ServiceMonitor"} <= kinds


@pytest.mark.parametrize("stack", STACKS)
def test_no_field_of_a_kubernetes_object_is_left_unknown(
    plans: dict[str, Plan], stack: str
) -> None:
    """Validation checks only known values: the mock cloud answers every output the objects
    use (ARNs, endpoints, the Kafka CA's PEMs), so nothing escapes it."""
    for resource in plans[stack].resources:
        if resource.type.startswith("kubernetes:"):
            assert COMPUTED not in json.dumps(resource.plain), resource.name


def test_the_generated_kafka_ca_reaches_both_namespaces_as_pem(dev: Plan) -> None:
    secrets = {
        (r.plain["metadata"]["namespace"], r.plain["metadata"]["name"]): r
        for r in dev.of_type("kubernetes:core/v1:Secret")
    }
    cert = secrets[("kafka", "gamemetrics-cluster-ca-cert")].plain["stringData"]["ca.crt"]
    key = secrets[("kafka", "gamemetrics-cluster-ca")].plain["stringData"]["ca.key"]
    apps = secrets[("gamemetrics", kafka.CLUSTER_CA_SECRET)].plain["stringData"]
    assert cert.startswith("-----BEGIN CERTIFICATE-----\n")
    assert key.startswith("-----BEGIN EC PRIVATE KEY-----\n")
    assert apps == {"ca.crt": cert}
    shown = json.dumps(dev.to_json())
    assert key.splitlines()[1] not in shown


def plan_kubernetes_version(plan: Plan) -> str:
    """The EKS version the stack's cluster runs: its objects must fit that API."""
    (cluster,) = [r for r in plan.resources if r.type == "eks:index:Cluster"]
    return str(cluster.plain["version"])
