"""Stack policies: how Kubernetes objects fit together, Kafka replication, zone spread."""

from typing import Any

import pytest

from policies.offline import EngineResource, OfflineAnalyzer
from tests.policies.harness import Case, check, found, k8s, res
from tests.policies.kubernetes import deployment, pod_spec, subject

NETPOL = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
PDB = "kubernetes:policy/v1:PodDisruptionBudget"
NAMESPACE = "kubernetes:core/v1:Namespace"
WEB_LABELS = {"app.kubernetes.io/name": "web"}
ZONE_SPREAD = [
    {
        "maxSkew": 1,
        "topologyKey": "topology.kubernetes.io/zone",
        "whenUnsatisfiable": "ScheduleAnyway",
    }
]


def netpol(
    name: str, selector: dict[str, Any], namespace: str = "apps", **spec: Any
) -> EngineResource:
    body = {"podSelector": selector, **spec}
    return res(
        NETPOL, name, k8s("NetworkPolicy", "networking.k8s.io/v1", name, body, namespace=namespace)
    )


def pdb(name: str, selector: dict[str, Any]) -> EngineResource:
    body = {"maxUnavailable": 1, "selector": selector}
    return res(PDB, name, k8s("PodDisruptionBudget", "policy/v1", name, body))


def hpa(target: str, maximum: int) -> EngineResource:
    spec = {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
        "minReplicas": 2,
        "maxReplicas": maximum,
    }
    return res(
        "kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
        f"{target}-hpa",
        k8s("HorizontalPodAutoscaler", "autoscaling/v2", target, spec),
    )


def namespace(name: str) -> EngineResource:
    props = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    return res(NAMESPACE, name, props)


DENY_ALL: dict[str, Any] = {"policyTypes": ["Ingress", "Egress"]}


def _kafka(
    brokers: int, config: dict[str, Any], topic_replicas: int, topic_isr: int | None
) -> list[EngineResource]:
    cluster_labels = {"strimzi.io/cluster": "events"}
    kafka = res(
        "kubernetes:kafka.strimzi.io/v1:Kafka",
        "kafka",
        k8s(
            "Kafka",
            "kafka.strimzi.io/v1",
            "events",
            {"kafka": {"config": config}},
            namespace="kafka",
        ),
    )
    pool = res(
        "kubernetes:kafka.strimzi.io/v1:KafkaNodePool",
        "pool",
        k8s(
            "KafkaNodePool",
            "kafka.strimzi.io/v1",
            "pool",
            {"replicas": brokers, "roles": ["controller", "broker"]},
            namespace="kafka",
            labels=cluster_labels,
        ),
    )
    topic_config = {} if topic_isr is None else {"min.insync.replicas": topic_isr}
    topic = res(
        "kubernetes:kafka.strimzi.io/v1:KafkaTopic",
        "topic",
        k8s(
            "KafkaTopic",
            "kafka.strimzi.io/v1",
            "events",
            {"partitions": 12, "replicas": topic_replicas, "config": topic_config},
            namespace="kafka",
            labels=cluster_labels,
        ),
    )
    return [kafka, pool, topic]


REPLICATED = {
    "default.replication.factor": 3,
    "min.insync.replicas": 2,
    "offsets.topic.replication.factor": 3,
    "transaction.state.log.replication.factor": 3,
    "transaction.state.log.min.isr": 2,
}


def _network(zones: list[str], nat_zones: list[str]) -> list[EngineResource]:
    vpc = res("aws:ec2/vpc:Vpc", "vpc", {"cidrBlock": "10.0.0.0/16"})
    subnets = [
        res("aws:ec2/subnet:Subnet", f"private-{z}", {"availabilityZone": z}, deps=[vpc])
        for z in zones
    ]
    by_zone = {s.properties["availabilityZone"]: s for s in subnets}
    nats = [
        res("aws:ec2/natGateway:NatGateway", f"nat-{z}", {}, deps=[by_zone[z]]) for z in nat_zones
    ]
    nodes = res("eks:index:ManagedNodeGroup", "nodes", {}, deps=subnets)
    return [vpc, *subnets, *nats, nodes]


def _zone_case() -> Case:
    zones = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
    spread = deployment("web", pod_spec(topologySpreadConstraints=ZONE_SPREAD), replicas=3)
    fix = "Fix: spread it over at least 3 availability zones"
    return Case(
        "zone-spread",
        good=[*_network(zones, zones), spread, deployment("single", replicas=1)],
        bad=[*_network(zones[:1], zones[:1]), deployment("web", replicas=3)],
        expected=[
            ("vpc", f'aws:ec2/vpc:Vpc "vpc" has subnets in 1 zone(s) (eu-west-1a). {fix}.'),
            (
                "nodes",
                'eks:index:ManagedNodeGroup "nodes" uses subnets in 1 zone(s) (eu-west-1a). '
                f"{fix}.",
            ),
            (
                "web",
                f"{subject()} may run 3 replicas with nothing keeping them apart: they can all "
                "land "
                f"in one zone. {fix}: a topologySpreadConstraint on topology.kubernetes.io/zone.",
            ),
        ],
    )


CASES = [
    Case(
        "kubernetes-pdb-for-replicated",
        good=[
            deployment("web", replicas=3),
            pdb("web", {"matchLabels": WEB_LABELS}),
            deployment("single"),  # one replica, no autoscaler: nothing to keep available
        ],
        bad=[
            deployment("web", replicas=1),
            hpa("web", 4),
            # A budget for other pods does not count.
            pdb("other", {"matchLabels": {"app.kubernetes.io/name": "other"}}),
        ],
        expected=[
            (
                "web",
                f"{subject()} may run 4 replicas but no PodDisruptionBudget selects its pods, so a "
                "node drain can evict them all at once. Fix: add a PodDisruptionBudget in its "
                "namespace with its pod selector and maxUnavailable: 1.",
            )
        ],
    ),
    Case(
        "kubernetes-network-policy-per-workload",
        good=[
            deployment("web"),
            netpol(
                "web",
                {
                    "matchExpressions": [
                        {"key": "app.kubernetes.io/name", "operator": "In", "values": ["web"]}
                    ]
                },
            ),
        ],
        bad=[
            deployment("web"),
            netpol("default-deny", {}, **DENY_ALL),
            netpol("web-in-other-namespace", {"matchLabels": WEB_LABELS}, namespace="other"),
        ],
        expected=[
            (
                "web",
                f"{subject()} is selected by no NetworkPolicy of its own: its pods' allowed flows "
                "are not declared. Fix: add a NetworkPolicy whose podSelector matches its pod "
                "labels and allows only the flows it needs.",
            )
        ],
    ),
    Case(
        "kubernetes-namespace-default-deny",
        good=[
            namespace("apps"),
            netpol("default-deny", {}, **DENY_ALL),
            namespace("kafka"),  # ingress-only by default (Strimzi)
            netpol("deny-in", {}, "kafka", policyTypes=["Ingress"]),
            namespace("monitoring"),  # exempt by default
        ],
        bad=[
            namespace("apps"),
            netpol("deny-in", {}, policyTypes=["Ingress"]),
            # A workload in a namespace the stack does not declare counts too.
            deployment("stray", namespace="tools"),
            netpol("allow-all", {}, "tools", policyTypes=["Ingress"], ingress=[{}]),
        ],
        expected=[
            (
                "apps",
                f'{NAMESPACE} "apps" (Namespace apps) has no default-deny NetworkPolicy for '
                "Egress: "
                "pods without a policy of their own accept (or open) any connection. Fix: add a "
                'NetworkPolicy with podSelector: {} and policyTypes: ["Ingress", "Egress"] and no '
                "rules.",
            ),
            (
                "gamemetrics-test",
                "Namespace tools has no default-deny NetworkPolicy for Ingress and Egress: pods "
                "without a policy of their own accept (or open) any connection. Fix: add a "
                'NetworkPolicy with podSelector: {} and policyTypes: ["Ingress", "Egress"] and no '
                "rules.",
            ),
        ],
    ),
    Case(
        "kafka-replication",
        good=_kafka(3, REPLICATED, 3, 2),
        bad=_kafka(1, {"min.insync.replicas": 1}, 1, None),
        expected=[
            (
                "kafka",
                'kubernetes:kafka.strimzi.io/v1:Kafka "kafka" (Kafka kafka/events) loses '
                "acknowledged writes when a broker fails: default.replication.factor is 1 (at "
                "least 3); min.insync.replicas is 1 (at least 2); 1 broker(s) cannot hold 3 "
                "replicas. Fix: run at least 3 brokers with default.replication.factor >= 3 and "
                "min.insync.replicas >= 2 (gamemetrics:kafka.brokers).",
            ),
            (
                "topic",
                'kubernetes:kafka.strimzi.io/v1:KafkaTopic "topic" (KafkaTopic kafka/events) has 1 '
                "replica(s) and min.insync.replicas 1. Fix: set spec.replicas >= 3 and config "
                "min.insync.replicas >= 2.",
            ),
        ],
    ),
    _zone_case(),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_policy(analyzer: OfflineAnalyzer, case: Case) -> None:
    check(analyzer, case)


def test_one_nat_gateway_for_three_zones_is_a_single_point_of_failure(
    analyzer: OfflineAnalyzer,
) -> None:
    zones = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
    assert found(analyzer, "zone-spread", _network(zones, zones[:1])) == [
        (
            "vpc",
            'aws:ec2/vpc:Vpc "vpc" sends its private subnets\' egress through NAT gateways in 1 '
            "zone(s) (eu-west-1a): losing that zone cuts every zone off. Fix: spread it over at "
            "least 3 availability zones: one NAT gateway per zone "
            "(gamemetrics:network.natGateways: per-az).",
        )
    ]


def test_kafka_floors_come_from_the_policy_configuration(analyzer: OfflineAnalyzer) -> None:
    single = _kafka(1, {"default.replication.factor": 1, "min.insync.replicas": 1,
                        "offsets.topic.replication.factor": 1,
                        "transaction.state.log.replication.factor": 1,
                        "transaction.state.log.min.isr": 1}, 1, 1)  # fmt: skip
    relaxed = {"minimumReplicationFactor": 1, "minimumInsyncReplicas": 1}
    assert found(analyzer, "kafka-replication", single, relaxed) == []
