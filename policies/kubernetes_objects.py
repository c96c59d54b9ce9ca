"""Kubernetes objects around the pods: autoscalers, Services, Ingresses, namespaces.

The HPA floor is advisory in dev (one replica per service there).
"""

import json
from typing import Final

from pulumi_policy import ReportViolation, ResourceValidationArgs

from policies.support import (
    about,
    config_names,
    config_number,
    dig,
    items,
    k8s_name,
    k8s_namespace,
    kind_of,
    mapping,
    number,
    resource_policy,
    show,
    strings,
)

MINIMUM_REPLICAS: Final = 2
PSS_ENFORCE: Final = "pod-security.kubernetes.io/enforce"
PSS_AUDIT: Final = "pod-security.kubernetes.io/audit"
PSS_WARN: Final = "pod-security.kubernetes.io/warn"
PRIVILEGED_NAMESPACES: Final = {
    "monitoring": "node-exporter (kube-prometheus-stack) needs the node's network and PID "
    "namespaces to report node metrics",
    "istio-system": "istio-cni configures pod networking on every node (privileged); it is what "
    "lets meshed pods stay restricted",
}
"""Namespaces that may enforce less than `restricted`, and why (they still warn and audit at
`restricted`, so every exception shows)."""
ALB_LISTEN_PORTS: Final = "alb.ingress.kubernetes.io/listen-ports"
ALB_SSL_REDIRECT: Final = "alb.ingress.kubernetes.io/ssl-redirect"


def _is(args: ResourceValidationArgs, group: str, kind: str) -> bool:
    t = args.resource_type
    return t.startswith(f"kubernetes:{group}/") and kind_of(t) == kind


def hpa_min_replicas(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if not _is(args, "autoscaling", "HorizontalPodAutoscaler"):
        return
    minimum = config_number(args.get_config(), "minimumReplicas", MINIMUM_REPLICAS)
    value = dig(args.props, "spec", "minReplicas")
    replicas = number(value) if value is not None else 1.0
    if replicas is None or replicas < minimum:
        target = dig(args.props, "spec", "scaleTargetRef", "name")
        report(
            f"{about(args)} lets {show(target)} scale down to {show(replicas)} replica(s): one "
            f"pod's restart or eviction is an outage. Fix: set spec.minReplicas to at least "
            f"{show(minimum)} (the service's scaling declaration for this stack).",
            None,
        )


def no_load_balancer_service(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if not _is(args, "core", "Service"):
        return
    if dig(args.props, "spec", "type") != "LoadBalancer":
        return
    allowed = config_names(args.get_config(), "ingressNamespaces")
    if k8s_namespace(args.props) in allowed:
        return
    report(
        f"{about(args)} is of type LoadBalancer: it opens its own load balancer beside the "
        "ingress. Fix: make it a ClusterIP Service and route to it through the Ingress (ALB).",
        None,
    )


def _alb(args: ResourceValidationArgs) -> bool:
    annotations = mapping(dig(args.props, "metadata", "annotations"))
    return (
        dig(args.props, "spec", "ingressClassName") == "alb"
        or annotations.get("kubernetes.io/ingress.class") == "alb"
    )


def ingress_tls(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if not _is(args, "networking.k8s.io", "Ingress"):
        return
    spec = mapping(args.props.get("spec"))
    problems = []
    tls = [mapping(t) for t in items(spec.get("tls"))]
    if not tls:
        problems.append("it declares no spec.tls")
    covered = {h for t in tls for h in strings(t.get("hosts"))}
    hosts = sorted({h for h in (mapping(r).get("host") for r in items(spec.get("rules"))) if h})
    uncovered = [h for h in hosts if h not in covered]
    if tls and uncovered:
        problems.append(f"hosts {', '.join(uncovered)} have no TLS entry")
    if _alb(args):
        annotations = mapping(dig(args.props, "metadata", "annotations"))
        # Without the annotation the controller listens on HTTPS when it has a certificate.
        https = tls or annotations.get("alb.ingress.kubernetes.io/certificate-arn")
        default = '[{"HTTPS": 443}]' if https else '[{"HTTP": 80}]'
        try:
            ports = json.loads(str(annotations.get(ALB_LISTEN_PORTS) or default))
        except json.JSONDecodeError:
            ports = [{"HTTP": 80}]
        plain = [p for p in items(ports) if "HTTP" in mapping(p)]
        if plain and annotations.get(ALB_SSL_REDIRECT) is None:
            problems.append(
                f"its load balancer listens on plain HTTP ({ALB_LISTEN_PORTS}: "
                f"{show(annotations.get(ALB_LISTEN_PORTS))})"
            )
    if problems:
        report(
            f"{about(args)} serves traffic without TLS: {'; '.join(problems)}. Fix: list every "
            f'host under spec.tls and, for the ALB, set {ALB_LISTEN_PORTS}: \'[{{"HTTPS": '
            "443}]' with a certificate.",
            None,
        )


def namespace_pod_security(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if not _is(args, "core", "Namespace"):
        return
    config = args.get_config()
    exempt = (
        config_names(config, "exemptNamespaces")
        if "exemptNamespaces" in list(config)
        else set(PRIVILEGED_NAMESPACES)
    )
    labels = mapping(dig(args.props, "metadata", "labels"))
    name = k8s_name(args.props, args.name)
    if name in exempt:
        off = [k for k in (PSS_AUDIT, PSS_WARN) if labels.get(k) != "restricted"]
        if off:
            report(
                f"{about(args)} is exempt from enforcing restricted, but hides its exceptions: "
                f"{', '.join(off)} not restricted. Fix: label it {PSS_AUDIT}=restricted and "
                f"{PSS_WARN}=restricted.",
                None,
            )
        return
    if labels.get(PSS_ENFORCE) != "restricted":
        report(
            f"{about(args)} does not enforce the restricted Pod Security Standard "
            f"({PSS_ENFORCE}: {show(labels.get(PSS_ENFORCE))}). Fix: label it "
            f"{PSS_ENFORCE}=restricted (or list it, with the reason, in this policy's "
            "exemptNamespaces).",
            None,
        )


POLICIES: Final = [
    resource_policy(
        "kubernetes-hpa-min-replicas",
        "HorizontalPodAutoscalers keep at least two replicas.",
        hpa_min_replicas,
        {"minimumReplicas": {"type": "integer", "minimum": 1, "default": MINIMUM_REPLICAS}},
    ),
    resource_policy(
        "kubernetes-no-load-balancer-service",
        "No Service of type LoadBalancer outside the ingress: traffic enters through the ALB.",
        no_load_balancer_service,
        {
            "ingressNamespaces": {
                "type": "array",
                "items": {"type": "string"},
                "default": [],
                "description": "namespaces of ingress controllers that may own a LoadBalancer",
            }
        },
    ),
    resource_policy(
        "kubernetes-ingress-tls",
        "Ingresses serve HTTPS only.",
        ingress_tls,
    ),
    resource_policy(
        "kubernetes-namespace-pod-security",
        "Namespaces enforce the restricted Pod Security Standard.",
        namespace_pod_security,
        {
            "exemptNamespaces": {
                "type": "object",
                "additionalProperties": {"type": "string"},
                "default": PRIVILEGED_NAMESPACES,
                "description": "namespace -> why it may enforce less than restricted",
            }
        },
    ),
]
