"""NetworkPolicies derived from a service's declared dependencies.

The apps namespace denies everything by default (`security.SecurityBaseline`); each
service's policy then allows only the flows its declaration implies.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from apps.core import services
from infra.kubernetes import kafka
from infra.kubernetes.backends import Backends
from infra.kubernetes.meta import Namespaces, selector_labels

netv1 = k8s.networking.v1
metav1 = k8s.meta.v1

PROMETHEUS_LABELS = {"app.kubernetes.io/name": "prometheus"}
ISTIOD_XDS_PORT = 15012
"""Sidecars fetch configuration and certificates from istiod here."""


@dataclass(frozen=True)
class Flows:
    """Where the traffic of the namespace comes from and goes to (not per service)."""

    namespaces: Namespaces
    backends: Backends
    kafka: kafka.KafkaAccess | None
    ingress_sources: Sequence[pulumi.Input[str]]
    """CIDRs the load balancer reaches the pods from (ALB in IP mode: the VPC's subnets)."""
    mesh: bool


def _namespace(name: str) -> metav1.LabelSelectorArgs:
    return metav1.LabelSelectorArgs(match_labels={"kubernetes.io/metadata.name": name})


def _tcp(port: int | str) -> netv1.NetworkPolicyPortArgs:
    return netv1.NetworkPolicyPortArgs(protocol="TCP", port=port)


def dns_egress() -> netv1.NetworkPolicyEgressRuleArgs:
    return netv1.NetworkPolicyEgressRuleArgs(
        to=[
            netv1.NetworkPolicyPeerArgs(
                namespace_selector=_namespace("kube-system"),
                pod_selector=metav1.LabelSelectorArgs(match_labels={"k8s-app": "kube-dns"}),
            )
        ],
        ports=[
            netv1.NetworkPolicyPortArgs(protocol="UDP", port=53),
            netv1.NetworkPolicyPortArgs(protocol="TCP", port=53),
        ],
    )


def ingress_rules(
    service: services.Service, flows: Flows
) -> list[netv1.NetworkPolicyIngressRuleArgs]:
    port = [_tcp(service.port)]
    rules = [
        # Prometheus scrapes metrics_path on the service's one HTTP port.
        netv1.NetworkPolicyIngressRuleArgs(
            from_=[
                netv1.NetworkPolicyPeerArgs(
                    namespace_selector=_namespace(flows.namespaces.monitoring),
                    pod_selector=metav1.LabelSelectorArgs(match_labels=PROMETHEUS_LABELS),
                )
            ],
            ports=port,
        )
    ]
    if service.public:
        rules.append(
            netv1.NetworkPolicyIngressRuleArgs(
                from_=[
                    netv1.NetworkPolicyPeerArgs(ip_block=netv1.IPBlockArgs(cidr=cidr))
                    for cidr in flows.ingress_sources
                ],
                ports=port,
            )
        )
    return rules


def egress_rules(
    service: services.Service, flows: Flows
) -> list[netv1.NetworkPolicyEgressRuleArgs]:
    rules = [dns_egress()]
    vpc = netv1.NetworkPolicyPeerArgs(ip_block=netv1.IPBlockArgs(cidr=flows.backends.vpc_cidr))
    if "postgres" in service.needs:
        if flows.backends.postgres is None:
            raise ValueError(f"service {service.name!r} needs postgres; no PostgresEndpoint given")
        rules.append(
            netv1.NetworkPolicyEgressRuleArgs(to=[vpc], ports=[_tcp(flows.backends.postgres.port)])
        )
    if "redis" in service.needs:
        if flows.backends.redis is None:
            raise ValueError(f"service {service.name!r} needs redis; no RedisEndpoint given")
        rules.append(
            netv1.NetworkPolicyEgressRuleArgs(to=[vpc], ports=[_tcp(flows.backends.redis.port)])
        )
    if kafka.needs_user(service):
        if flows.kafka is None:
            raise ValueError(f"service {service.name!r} needs kafka; no KafkaAccess given")
        rules.append(
            netv1.NetworkPolicyEgressRuleArgs(
                to=[
                    netv1.NetworkPolicyPeerArgs(
                        namespace_selector=_namespace(flows.kafka.namespace),
                        pod_selector=metav1.LabelSelectorArgs(
                            match_labels=flows.kafka.broker_labels
                        ),
                    )
                ],
                ports=[_tcp(kafka.TLS_PORT)],
            )
        )
    if "s3" in service.needs:
        # S3 (through the gateway endpoint) and STS for IRSA answer on public addresses.
        rules.append(
            netv1.NetworkPolicyEgressRuleArgs(
                to=[netv1.NetworkPolicyPeerArgs(ip_block=netv1.IPBlockArgs(cidr="0.0.0.0/0"))],
                ports=[_tcp(443)],
            )
        )
    if flows.mesh:
        rules.append(
            netv1.NetworkPolicyEgressRuleArgs(
                to=[
                    netv1.NetworkPolicyPeerArgs(
                        namespace_selector=_namespace(flows.namespaces.mesh)
                    )
                ],
                ports=[_tcp(ISTIOD_XDS_PORT)],
            )
        )
    return rules


def service_policy_spec(service: services.Service, flows: Flows) -> netv1.NetworkPolicySpecArgs:
    return netv1.NetworkPolicySpecArgs(
        pod_selector=metav1.LabelSelectorArgs(match_labels=selector_labels(service.name)),
        policy_types=["Ingress", "Egress"],
        ingress=ingress_rules(service, flows),
        egress=egress_rules(service, flows),
    )


def default_deny_spec() -> netv1.NetworkPolicySpecArgs:
    """Selects every pod and allows nothing: each flow must be allowed by another policy."""
    return netv1.NetworkPolicySpecArgs(
        pod_selector=metav1.LabelSelectorArgs(), policy_types=["Ingress", "Egress"]
    )


def default_deny_ingress_spec() -> netv1.NetworkPolicySpecArgs:
    return netv1.NetworkPolicySpecArgs(
        pod_selector=metav1.LabelSelectorArgs(), policy_types=["Ingress"]
    )
