"""The public entry of a service: an AWS Load Balancer Controller Ingress with TLS.

Every public service joins one IngressGroup, so the stack has one internet-facing ALB
that terminates TLS with an ACM certificate and forwards to the pods (IP targets).
"""

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from apps.core import services
from infra.kubernetes.meta import HTTP_PORT_NAME

netv1 = k8s.networking.v1


@dataclass(frozen=True)
class IngressSettings:
    """The public entry: one internet-facing ALB (an IngressGroup) terminating TLS."""

    domain: str
    """Public services answer on `<service>.<domain>`."""
    certificate_arn: pulumi.Input[str]
    """ACM certificate covering `*.<domain>`."""
    source_cidrs: Sequence[pulumi.Input[str]]
    """Where the ALB reaches pods from (its subnets; the VPC CIDR will do)."""
    allowed_cidrs: Sequence[str] = ("0.0.0.0/0",)
    """Clients allowed to reach the load balancer."""
    group: str = "gamemetrics"
    ssl_policy: str = "ELBSecurityPolicy-TLS13-1-2-2021-06"
    waf_acl_arn: pulumi.Input[str] | None = None
    deletion_protection: bool = False


def host(service: services.Service, settings: IngressSettings) -> str:
    return f"{service.name}.{settings.domain}"


def annotations(
    service: services.Service, settings: IngressSettings, tags: Mapping[str, str]
) -> dict[str, pulumi.Input[str]]:
    result: dict[str, pulumi.Input[str]] = {
        "alb.ingress.kubernetes.io/scheme": "internet-facing",
        "alb.ingress.kubernetes.io/target-type": "ip",
        "alb.ingress.kubernetes.io/group.name": settings.group,
        "alb.ingress.kubernetes.io/listen-ports": json.dumps([{"HTTPS": 443}]),
        "alb.ingress.kubernetes.io/certificate-arn": settings.certificate_arn,
        "alb.ingress.kubernetes.io/ssl-policy": settings.ssl_policy,
        "alb.ingress.kubernetes.io/backend-protocol": "HTTP",
        "alb.ingress.kubernetes.io/healthcheck-path": service.readiness_path,
        "alb.ingress.kubernetes.io/healthcheck-port": "traffic-port",
        "alb.ingress.kubernetes.io/inbound-cidrs": ",".join(settings.allowed_cidrs),
        "alb.ingress.kubernetes.io/load-balancer-attributes": (
            "routing.http.drop_invalid_header_fields.enabled=true,"
            f"deletion_protection.enabled={str(settings.deletion_protection).lower()}"
        ),
    }
    if tags:
        result["alb.ingress.kubernetes.io/tags"] = ",".join(f"{k}={v}" for k, v in tags.items())
    if settings.waf_acl_arn is not None:
        result["alb.ingress.kubernetes.io/wafv2-acl-arn"] = settings.waf_acl_arn
    return result


def spec(service: services.Service, settings: IngressSettings) -> netv1.IngressSpecArgs:
    name = host(service, settings)
    backend = netv1.IngressBackendArgs(
        service=netv1.IngressServiceBackendArgs(
            name=service.name, port=netv1.ServiceBackendPortArgs(name=HTTP_PORT_NAME)
        )
    )
    return netv1.IngressSpecArgs(
        ingress_class_name="alb",
        tls=[netv1.IngressTLSArgs(hosts=[name])],
        rules=[
            netv1.IngressRuleArgs(
                host=name,
                http=netv1.HTTPIngressRuleValueArgs(
                    paths=[netv1.HTTPIngressPathArgs(path="/", path_type="Prefix", backend=backend)]
                ),
            )
        ],
    )
