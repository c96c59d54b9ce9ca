"""Rules over the whole stack: how the Kubernetes objects fit together (disruption budgets,
network policies, default deny), Kafka's replication, and the spread over zones.

Kafka's replication and the zone spread are advisory in dev: one broker and
one NAT gateway there.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from pulumi_policy import PolicyResource, ReportViolation, StackValidationArgs

from policies.kubernetes_pods import is_workload, pod_labels, pod_spec
from policies.support import (
    about_resource,
    config_names,
    config_number,
    dependencies_of_type,
    dependents,
    depends_on,
    dig,
    has,
    items,
    k8s_name,
    kind_of,
    mapping,
    number,
    of_type,
    peek,
    show,
    stack_policy,
    strings,
)

ZONE_KEY: Final = "topology.kubernetes.io/zone"
DEFAULT_DENY_INGRESS_ONLY: Final = {
    "kafka": "Strimzi writes the ingress policies of its listeners; the operator and the brokers "
    "need egress to the API server and to each other",
}
DEFAULT_DENY_EXEMPT: Final = {
    "monitoring": "Prometheus scrapes every namespace and the API server calls the operator's "
    "admission webhook; the charts do not ship NetworkPolicies",
    "istio-system": "istiod serves every sidecar (15012) and the API server's webhook (15017)",
}
MINIMUM_REPLICATION_FACTOR: Final = 3
MINIMUM_INSYNC_REPLICAS: Final = 2
MINIMUM_ZONES: Final = 3
# Kafka's own defaults for what a cluster leaves unset.
KAFKA_DEFAULTS: Final = {
    "default.replication.factor": 1,
    "min.insync.replicas": 1,
    "offsets.topic.replication.factor": 3,
    "transaction.state.log.replication.factor": 3,
    "transaction.state.log.min.isr": 2,
}
SUBNET: Final = "aws:ec2/subnet:Subnet"
VPC: Final = "aws:ec2/vpc:Vpc"
NAT_GATEWAY: Final = "aws:ec2/natGateway:NatGateway"
NODE_GROUPS: Final = ("eks:index:ManagedNodeGroup", "aws:eks/nodeGroup:NodeGroup")
SUBNET_GROUPS: Final = (
    "aws:rds/subnetGroup:SubnetGroup",
    "aws:elasticache/subnetGroup:SubnetGroup",
)


# --- Kubernetes objects in a stack ---------------------------------------------------------


def is_kind(resource: PolicyResource, group: str, kind: str) -> bool:
    t = resource.resource_type
    prefix = "kubernetes:" + (f"{group}/" if group else "")
    return t.startswith(prefix) and kind_of(t) == kind


def namespace_of(resource: PolicyResource) -> str:
    value = peek(resource.props, "metadata", "namespace")
    if isinstance(value, str) and value:
        return value
    # A Kubernetes provider may set the namespace of everything it creates.
    provider = resource.provider
    if provider is not None and has(provider.props, "namespace"):
        configured = provider.props["namespace"]
        if isinstance(configured, str) and configured:
            return configured
    return "default"


def selects(selector: object, labels: Mapping[str, str]) -> bool:
    """Whether a label selector (matchLabels and matchExpressions) selects `labels`."""
    s = mapping(selector)
    for key, value in mapping(s.get("matchLabels")).items():
        if labels.get(str(key)) != str(value):
            return False
    for expression in items(s.get("matchExpressions")):
        e = mapping(expression)
        key, operator, values = str(e.get("key")), e.get("operator"), strings(e.get("values"))
        present = key in labels
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


def is_empty_selector(selector: object) -> bool:
    s = mapping(selector)
    return not mapping(s.get("matchLabels")) and not items(s.get("matchExpressions"))


@dataclass(frozen=True, slots=True)
class Workload:
    resource: PolicyResource
    namespace: str
    name: str
    kind: str
    labels: dict[str, str]
    spec: Mapping[str, Any]
    """The pod spec."""


def workloads(resources: Iterable[PolicyResource]) -> list[Workload]:
    found = []
    for r in resources:
        spec = pod_spec(r.resource_type, r.props)
        if spec is None or not is_workload(r.resource_type):
            continue
        found.append(
            Workload(
                r,
                namespace_of(r),
                k8s_name(r.props, r.name),
                kind_of(r.resource_type),
                pod_labels(r.resource_type, r.props),
                spec,
            )
        )
    return found


def most_replicas(workload: Workload, resources: Sequence[PolicyResource]) -> float:
    """The most replicas a Deployment or StatefulSet may run: its own, or its HPA's maximum."""
    replicas = number(dig(workload.resource.props, "spec", "replicas"))
    most = 1.0 if replicas is None else replicas
    for hpa in resources:
        if not is_kind(hpa, "autoscaling", "HorizontalPodAutoscaler"):
            continue
        target = mapping(dig(hpa.props, "spec", "scaleTargetRef"))
        if (
            namespace_of(hpa) == workload.namespace
            and target.get("kind") == workload.kind
            and target.get("name") == workload.name
        ):
            most = max(most, number(dig(hpa.props, "spec", "maxReplicas")) or 1.0)
    return most


def replicated(resources: Sequence[PolicyResource]) -> list[tuple[Workload, float]]:
    return [
        (w, n)
        for w in workloads(resources)
        if w.kind in ("Deployment", "StatefulSet") and (n := most_replicas(w, resources)) >= 2
    ]


def pdb_for_replicated(args: StackValidationArgs, report: ReportViolation) -> None:
    resources = args.resources
    budgets = [r for r in resources if is_kind(r, "policy", "PodDisruptionBudget")]
    for w, n in replicated(resources):
        covered = any(
            namespace_of(b) == w.namespace
            and not is_empty_selector(dig(b.props, "spec", "selector"))
            and selects(dig(b.props, "spec", "selector"), w.labels)
            for b in budgets
        )
        if not covered:
            report(
                f"{about_resource(w.resource)} may run {show(n)} replicas but no "
                "PodDisruptionBudget selects its pods, so a node drain can evict them all at "
                "once. Fix: add a PodDisruptionBudget in its namespace with its pod selector and "
                "maxUnavailable: 1.",
                w.resource.urn,
            )


def network_policy_per_workload(args: StackValidationArgs, report: ReportViolation) -> None:
    resources = args.resources
    policies = [r for r in resources if is_kind(r, "networking.k8s.io", "NetworkPolicy")]
    for w in workloads(resources):
        covered = any(
            namespace_of(p) == w.namespace
            and not is_empty_selector(dig(p.props, "spec", "podSelector"))
            and selects(dig(p.props, "spec", "podSelector"), w.labels)
            for p in policies
        )
        if not covered:
            report(
                f"{about_resource(w.resource)} is selected by no NetworkPolicy of its own: its "
                "pods' allowed flows are not declared. Fix: add a NetworkPolicy whose podSelector "
                "matches its pod labels and allows only the flows it needs.",
                w.resource.urn,
            )


def _denies(policy: PolicyResource, direction: str) -> bool:
    spec = mapping(policy.props.get("spec"))
    rules = items(spec.get(direction.lower()))
    types = strings(spec.get("policyTypes")) or (
        ["Ingress", "Egress"] if items(spec.get("egress")) else ["Ingress"]
    )
    return direction in types and not rules


def namespace_default_deny(args: StackValidationArgs, report: ReportViolation) -> None:
    resources = args.resources
    config = args.get_config()
    configured = list(config)
    ingress_only = (
        config_names(config, "ingressOnlyNamespaces")
        if "ingressOnlyNamespaces" in configured
        else set(DEFAULT_DENY_INGRESS_ONLY)
    )
    exempt = (
        config_names(config, "exemptNamespaces")
        if "exemptNamespaces" in configured
        else set(DEFAULT_DENY_EXEMPT)
    )
    declared = {k8s_name(r.props, r.name): r for r in resources if is_kind(r, "core", "Namespace")}
    namespaces = sorted(set(declared) | {w.namespace for w in workloads(resources)})
    policies = [r for r in resources if is_kind(r, "networking.k8s.io", "NetworkPolicy")]
    for ns in namespaces:
        if ns in exempt:
            continue
        needed = ["Ingress"] if ns in ingress_only else ["Ingress", "Egress"]
        defaults = [
            p
            for p in policies
            if namespace_of(p) == ns and is_empty_selector(dig(p.props, "spec", "podSelector"))
        ]
        missing = [d for d in needed if not any(_denies(p, d) for p in defaults)]
        if missing:
            where = about_resource(declared[ns]) if ns in declared else f"Namespace {ns}"
            report(
                f"{where} has no default-deny NetworkPolicy for {' and '.join(missing)}: pods "
                "without a policy of their own accept (or open) any connection. Fix: add a "
                'NetworkPolicy with podSelector: {} and policyTypes: ["Ingress", "Egress"] and '
                "no rules.",
                declared[ns].urn if ns in declared else None,
            )


# --- Kafka ---------------------------------------------------------------------------------


def _strimzi(resource: PolicyResource, kind: str) -> bool:
    return resource.resource_type.startswith("kubernetes:kafka.strimzi.io/") and (
        kind_of(resource.resource_type) == kind
    )


def _cluster_label(resource: PolicyResource) -> str | None:
    value = mapping(dig(resource.props, "metadata", "labels")).get("strimzi.io/cluster")
    return str(value) if value else None


def kafka_replication(args: StackValidationArgs, report: ReportViolation) -> None:
    resources = args.resources
    config = args.get_config()
    rf = config_number(config, "minimumReplicationFactor", MINIMUM_REPLICATION_FACTOR)
    isr = config_number(config, "minimumInsyncReplicas", MINIMUM_INSYNC_REPLICAS)
    settings: dict[tuple[str, str], Mapping[str, Any]] = {}
    for kafka in (r for r in resources if _strimzi(r, "Kafka")):
        name, ns = k8s_name(kafka.props, kafka.name), namespace_of(kafka)
        cfg = mapping(dig(kafka.props, "spec", "kafka", "config"))
        settings[(ns, name)] = cfg
        problems = []
        for key, floor in (
            ("default.replication.factor", rf),
            ("offsets.topic.replication.factor", rf),
            ("transaction.state.log.replication.factor", rf),
            ("min.insync.replicas", isr),
            ("transaction.state.log.min.isr", isr),
        ):
            value = number(cfg.get(key, KAFKA_DEFAULTS[key]))
            if value is None or value < floor:
                problems.append(f"{key} is {show(value)} (at least {show(floor)})")
        pools = [
            p
            for p in resources
            if _strimzi(p, "KafkaNodePool")
            and namespace_of(p) == ns
            and _cluster_label(p) == name
            and "broker" in strings(dig(p.props, "spec", "roles"))
        ]
        brokers = sum(number(dig(p.props, "spec", "replicas")) or 0 for p in pools)
        if not pools:
            brokers = number(dig(kafka.props, "spec", "kafka", "replicas")) or 0
        if brokers < rf:
            problems.append(f"{show(brokers)} broker(s) cannot hold {show(rf)} replicas")
        if problems:
            report(
                f"{about_resource(kafka)} loses acknowledged writes when a broker fails: "
                f"{'; '.join(problems)}. Fix: run at least {show(rf)} brokers with "
                f"default.replication.factor >= {show(rf)} and min.insync.replicas >= "
                f"{show(isr)} (gamemetrics:kafka.brokers).",
                kafka.urn,
            )
    for topic in (r for r in resources if _strimzi(r, "KafkaTopic")):
        cluster = settings.get((namespace_of(topic), _cluster_label(topic) or ""), {})
        replicas = number(
            dig(topic.props, "spec", "replicas")
            or cluster.get(
                "default.replication.factor", KAFKA_DEFAULTS["default.replication.factor"]
            )
        )
        in_sync = number(
            mapping(dig(topic.props, "spec", "config")).get("min.insync.replicas")
            or cluster.get("min.insync.replicas", KAFKA_DEFAULTS["min.insync.replicas"])
        )
        problems = []
        if replicas is None or replicas < rf:
            problems.append(f"{show(replicas)} replica(s)")
        if in_sync is None or in_sync < isr:
            problems.append(f"min.insync.replicas {show(in_sync)}")
        if problems:
            report(
                f"{about_resource(topic)} has {' and '.join(problems)}. Fix: set spec.replicas "
                f">= {show(rf)} and config min.insync.replicas >= {show(isr)}.",
                topic.urn,
            )


# --- zones ---------------------------------------------------------------------------------


def _zone(subnet: PolicyResource) -> str | None:
    value = subnet.props.get("availabilityZone") or subnet.props.get("availabilityZoneId")
    return str(value) if value else None


def _zones(subnets: Iterable[PolicyResource]) -> list[str]:
    return sorted({z for s in subnets if (z := _zone(s))})


def _spreads_over_zones(spec: Mapping[str, Any]) -> bool:
    constraints = [mapping(c) for c in items(spec.get("topologySpreadConstraints"))]
    if any(c.get("topologyKey") == ZONE_KEY for c in constraints):
        return True
    anti = mapping(dig(spec, "affinity", "podAntiAffinity"))
    terms = items(anti.get("requiredDuringSchedulingIgnoredDuringExecution")) + [
        mapping(t).get("podAffinityTerm")
        for t in items(anti.get("preferredDuringSchedulingIgnoredDuringExecution"))
    ]
    return any(mapping(t).get("topologyKey") == ZONE_KEY for t in terms)


def zone_spread(args: StackValidationArgs, report: ReportViolation) -> None:
    resources = args.resources
    minimum = config_number(args.get_config(), "minimumZones", MINIMUM_ZONES)
    fix = f"Fix: spread it over at least {show(minimum)} availability zones"

    def short(zones: list[str]) -> str:
        return f"{len(zones)} zone(s) ({', '.join(zones) or 'none known'})"

    for vpc in of_type(resources, VPC):
        zones = _zones(dependents(resources, vpc, SUBNET))
        if len(zones) < minimum:
            report(f"{about_resource(vpc)} has subnets in {short(zones)}. {fix}.", vpc.urn)
        nats = [
            n
            for n in of_type(resources, NAT_GATEWAY)
            if any(depends_on(s, vpc) for s in dependencies_of_type(n, SUBNET))
        ]
        nat_zones = _zones(s for n in nats for s in dependencies_of_type(n, SUBNET))
        if nats and len(nat_zones) < min(minimum, len(zones) or minimum):
            report(
                f"{about_resource(vpc)} sends its private subnets' egress through NAT gateways "
                f"in {short(nat_zones)}: losing that zone cuts every zone off. {fix}: one NAT "
                "gateway per zone (gamemetrics:network.natGateways: per-az).",
                vpc.urn,
            )
    for group in of_type(resources, *NODE_GROUPS, *SUBNET_GROUPS):
        zones = _zones(dependencies_of_type(group, SUBNET))
        if len(zones) < minimum:
            report(f"{about_resource(group)} uses subnets in {short(zones)}. {fix}.", group.urn)
    for w, n in replicated(resources):
        if not _spreads_over_zones(w.spec):
            report(
                f"{about_resource(w.resource)} may run {show(n)} replicas with nothing keeping "
                f"them apart: they can all land in one zone. {fix}: a topologySpreadConstraint "
                f"on {ZONE_KEY}.",
                w.resource.urn,
            )


POLICIES: Final = [
    stack_policy(
        "kubernetes-pdb-for-replicated",
        "Every Deployment or StatefulSet that runs more than one replica has a "
        "PodDisruptionBudget.",
        pdb_for_replicated,
    ),
    stack_policy(
        "kubernetes-network-policy-per-workload",
        "Every workload is selected by a NetworkPolicy of its own.",
        network_policy_per_workload,
    ),
    stack_policy(
        "kubernetes-namespace-default-deny",
        "Every namespace has a default-deny NetworkPolicy.",
        namespace_default_deny,
        {
            "ingressOnlyNamespaces": {
                "type": "object",
                "additionalProperties": {"type": "string"},
                "default": DEFAULT_DENY_INGRESS_ONLY,
                "description": "namespace -> why it denies ingress only",
            },
            "exemptNamespaces": {
                "type": "object",
                "additionalProperties": {"type": "string"},
                "default": DEFAULT_DENY_EXEMPT,
                "description": "namespace -> why it has no default-deny policy",
            },
        },
    ),
    stack_policy(
        "kafka-replication",
        "Kafka keeps every record on at least three brokers and acknowledges it on two.",
        kafka_replication,
        {
            "minimumReplicationFactor": {
                "type": "integer",
                "minimum": 1,
                "default": MINIMUM_REPLICATION_FACTOR,
            },
            "minimumInsyncReplicas": {
                "type": "integer",
                "minimum": 1,
                "default": MINIMUM_INSYNC_REPLICAS,
            },
        },
    ),
    stack_policy(
        "zone-spread",
        "The network, the nodes, the data stores' subnets and replicated workloads span at "
        "least three availability zones.",
        zone_spread,
        {"minimumZones": {"type": "integer", "minimum": 1, "default": MINIMUM_ZONES}},
    ),
]
