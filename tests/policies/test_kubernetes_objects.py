"""Autoscalers, Services, Ingresses and namespaces: cases with exact messages."""

import json
from typing import Any

import pytest

from policies.offline import EngineResource, OfflineAnalyzer
from tests.policies.harness import Case, check, found, k8s, res

HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
SERVICE = "kubernetes:core/v1:Service"
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
NAMESPACE = "kubernetes:core/v1:Namespace"
RESTRICTED = {
    f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "audit", "warn")
}
ALB = {
    "alb.ingress.kubernetes.io/listen-ports": json.dumps([{"HTTPS": 443}]),
    "alb.ingress.kubernetes.io/certificate-arn": "arn:aws:acm:eu-west-1:1:certificate/1",
}


def hpa(name: str, minimum: int | None) -> EngineResource:
    spec: dict[str, object] = {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
        "maxReplicas": 10,
    }
    if minimum is not None:
        spec["minReplicas"] = minimum
    return res(HPA, name, k8s("HorizontalPodAutoscaler", "autoscaling/v2", name, spec))


def service(name: str, kind: str, namespace: str = "apps") -> EngineResource:
    spec = {"type": kind, "ports": [{"port": 443}], "selector": {"app": name}}
    return res(SERVICE, name, k8s("Service", "core/v1", name, spec, namespace=namespace))


def ingress(name: str, spec: dict[str, Any], annotations: dict[str, str]) -> EngineResource:
    props = k8s("Ingress", "networking.k8s.io/v1", name, spec, annotations=annotations)
    return res(INGRESS, name, props)


def namespace(name: str, labels: dict[str, str]) -> EngineResource:
    props = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}
    return res(NAMESPACE, name, props)


RULE: dict[str, Any] = {
    "host": "api.example.com",
    "http": {"paths": [{"path": "/", "pathType": "Prefix"}]},
}
TLS_SPEC: dict[str, Any] = {
    "ingressClassName": "alb",
    "tls": [{"hosts": ["api.example.com"]}],
    "rules": [RULE],
}
INGRESS_FIX = (
    "Fix: list every host under spec.tls and, for the ALB, set "
    "alb.ingress.kubernetes.io/listen-ports: '[{\"HTTPS\": 443}]' with a certificate."
)

CASES = [
    Case(
        "kubernetes-hpa-min-replicas",
        good=[hpa("web", 2)],
        bad=[hpa("web", 1), hpa("worker", None)],
        expected=[
            (
                "web",
                f'{HPA} "web" (HorizontalPodAutoscaler apps/web) lets web scale down to 1 '
                "replica(s): one pod's restart or eviction is an outage. Fix: set "
                "spec.minReplicas to at least 2 (the service's scaling declaration for this "
                "stack).",
            ),
            (
                "worker",
                f'{HPA} "worker" (HorizontalPodAutoscaler apps/worker) lets worker scale down to 1 '
                "replica(s): one pod's restart or eviction is an outage. Fix: set "
                "spec.minReplicas to at least 2 (the service's scaling declaration for this "
                "stack).",
            ),
        ],
    ),
    Case(
        "kubernetes-no-load-balancer-service",
        good=[service("web", "ClusterIP")],
        bad=[service("web", "LoadBalancer")],
        expected=[
            (
                "web",
                f'{SERVICE} "web" (Service apps/web) is of type LoadBalancer: it opens its own '
                "load "
                "balancer beside the ingress. Fix: make it a ClusterIP Service and route to it "
                "through the Ingress (ALB).",
            )
        ],
    ),
    Case(
        "kubernetes-ingress-tls",
        good=[
            ingress("web", TLS_SPEC, ALB),
            # The controller listens on HTTPS by itself when the Ingress has a certificate.
            ingress("default-ports", TLS_SPEC, {}),
        ],
        bad=[
            ingress("plain", {"ingressClassName": "alb", "rules": [RULE]}, {}),
            ingress(
                "partial",
                {**TLS_SPEC, "rules": [RULE, {**RULE, "host": "admin.example.com"}]},
                {
                    **ALB,
                    "alb.ingress.kubernetes.io/listen-ports": json.dumps(
                        [{"HTTP": 80}, {"HTTPS": 443}]
                    ),
                },
            ),
        ],
        expected=[
            (
                "plain",
                f'{INGRESS} "plain" (Ingress apps/plain) serves traffic without TLS: it declares '
                "no "
                "spec.tls; its load balancer listens on plain HTTP "
                f"(alb.ingress.kubernetes.io/listen-ports: not set). {INGRESS_FIX}",
            ),
            (
                "partial",
                f'{INGRESS} "partial" (Ingress apps/partial) serves traffic without TLS: hosts '
                "admin.example.com have no TLS entry; its load balancer listens on plain HTTP "
                '(alb.ingress.kubernetes.io/listen-ports: [{"HTTP": 80}, {"HTTPS": 443}]). '
                f"{INGRESS_FIX}",
            ),
        ],
    ),
    Case(
        "kubernetes-namespace-pod-security",
        good=[
            namespace("apps", RESTRICTED),
            # Exempt by default (node-exporter), and still warning and auditing at restricted.
            namespace(
                "monitoring", {**RESTRICTED, "pod-security.kubernetes.io/enforce": "privileged"}
            ),
        ],
        bad=[
            namespace("apps", {**RESTRICTED, "pod-security.kubernetes.io/enforce": "baseline"}),
            namespace("monitoring", {"pod-security.kubernetes.io/enforce": "privileged"}),
        ],
        expected=[
            (
                "apps",
                f'{NAMESPACE} "apps" (Namespace apps) does not enforce the restricted Pod Security '
                "Standard (pod-security.kubernetes.io/enforce: baseline). Fix: label it "
                "pod-security.kubernetes.io/enforce=restricted (or list it, with the reason, in "
                "this policy's exemptNamespaces).",
            ),
            (
                "monitoring",
                f'{NAMESPACE} "monitoring" (Namespace monitoring) is exempt from enforcing '
                "restricted, but hides its exceptions: pod-security.kubernetes.io/audit, "
                "pod-security.kubernetes.io/warn not restricted. Fix: label it "
                "pod-security.kubernetes.io/audit=restricted and "
                "pod-security.kubernetes.io/warn=restricted.",
            ),
        ],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_policy(analyzer: OfflineAnalyzer, case: Case) -> None:
    check(analyzer, case)


def test_configuration_moves_the_floor_and_the_exemptions(analyzer: OfflineAnalyzer) -> None:
    assert (
        found(analyzer, "kubernetes-hpa-min-replicas", [hpa("web", 1)], {"minimumReplicas": 1})
        == []
    )
    controller = service("nginx", "LoadBalancer", "ingress")
    allowed = {"ingressNamespaces": ["ingress"]}
    assert found(analyzer, "kubernetes-no-load-balancer-service", [controller], allowed) == []
    privileged = namespace(
        "monitoring", {**RESTRICTED, "pod-security.kubernetes.io/enforce": "privileged"}
    )
    exempt_none: dict[str, Any] = {"exemptNamespaces": {}}
    assert len(found(analyzer, "kubernetes-namespace-pod-security", [privileged], exempt_none)) == 1
