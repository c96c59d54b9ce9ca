"""Everything on the cluster for one stack, in dependency order: the one call the stack makes."""

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from apps.core import services, topics
from infra.kubernetes.backends import Backends, Irsa
from infra.kubernetes.ingress import IngressSettings
from infra.kubernetes.meta import Namespaces
from infra.kubernetes.observability import Observability, ObservabilityArgs
from infra.kubernetes.security import SecurityBaseline, SecurityBaselineArgs
from infra.kubernetes.services import (
    ServiceDeployment,
    ServiceDeploymentArgs,
    ServicePlatform,
)
from infra.kubernetes.streaming import Streaming, StreamingArgs


@dataclass(frozen=True)
class KubernetesPlatformArgs:
    provider: k8s.Provider
    stack: topics.Stack
    image: pulumi.Input[str]
    """The application image by digest."""
    backends: Backends
    irsa: Irsa
    ingress: IngressSettings | None
    """None: public services get no Ingress (a stack without a domain yet)."""
    grafana_admin_password: pulumi.Input[str] | None
    """None: generated (and kept in the stack state as a secret)."""
    kafka_brokers: int
    """1 in dev, 3 in staging and prod."""
    mesh: bool = False
    kafka_storage_gib: int = 100
    monitoring_replicas: int = 1
    metrics_retention_days: int = 15
    logs_retention_days: int = 14
    traces_retention_days: int = 7
    namespaces: Namespaces = field(default_factory=Namespaces)
    declared_services: Sequence[services.Service] = services.ALL
    declared_topics: Sequence[topics.Topic] = topics.ALL


class KubernetesPlatform(pulumi.ComponentResource):
    """SecurityBaseline, then Streaming and Observability, then one ServiceDeployment per
    declared service (a service added to apps.core.services appears here unchanged)."""

    def __init__(
        self, name: str, args: KubernetesPlatformArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("gamemetrics:infra:KubernetesPlatform", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.security = SecurityBaseline(
            f"{name}-security",
            SecurityBaselineArgs(
                provider=args.provider,
                stack=args.stack,
                mesh=args.mesh,
                namespaces=args.namespaces,
                declared_services=args.declared_services,
            ),
            opts=child,
        )
        after_baseline: list[pulumi.Resource] = [
            *self.security.namespaces.values(),
            *self.security.mesh_resources,
        ]
        self.streaming = Streaming(
            f"{name}-streaming",
            StreamingArgs(
                provider=args.provider,
                stack=args.stack,
                brokers=args.kafka_brokers,
                storage_gib=args.kafka_storage_gib,
                namespaces=args.namespaces,
                declared_topics=args.declared_topics,
                declared_services=args.declared_services,
                depends_on=after_baseline,
            ),
            opts=child,
        )
        self.observability = Observability(
            f"{name}-observability",
            ObservabilityArgs(
                provider=args.provider,
                stack=args.stack,
                grafana_admin_password=args.grafana_admin_password,
                mesh=args.mesh,
                replicas=args.monitoring_replicas,
                metrics_retention_days=args.metrics_retention_days,
                logs_retention_days=args.logs_retention_days,
                traces_retention_days=args.traces_retention_days,
                namespaces=args.namespaces,
                declared_services=args.declared_services,
                depends_on=after_baseline,
            ),
            opts=child,
        )
        platform = ServicePlatform(
            provider=args.provider,
            stack=args.stack,
            image=args.image,
            backends=args.backends,
            irsa=args.irsa,
            kafka=self.streaming.access,
            ingress=args.ingress,
            mesh=args.mesh,
            namespaces=args.namespaces,
            depends_on=[
                *after_baseline,
                *self.streaming.users.values(),
                self.streaming.apps_ca_secret,
            ],
        )
        self.services = {
            s.name: ServiceDeployment(
                f"{name}-{s.name}", ServiceDeploymentArgs(service=s, platform=platform), opts=child
            )
            for s in args.declared_services
        }
        self.register_outputs(
            {
                "namespaces": list(self.security.namespaces),
                "kafka_bootstrap": self.streaming.access.bootstrap,
                "services": list(self.services),
                "hosts": {
                    s.name: ServiceDeployment.ingress_host(s, args.ingress)
                    for s in args.declared_services
                    if s.public
                },
            }
        )
