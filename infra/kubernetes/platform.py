"""Everything on the cluster for one stack, in dependency order: the one call the stack makes."""

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from apps.core import services, topics
from infra.kubernetes.backends import Backends, EksCluster, Irsa
from infra.kubernetes.ingress import IngressSettings
from infra.kubernetes.load_balancer import LoadBalancerController, LoadBalancerControllerArgs
from infra.kubernetes.meta import Namespaces
from infra.kubernetes.observability import LogsBucket, Observability, ObservabilityArgs
from infra.kubernetes.placement import NodePlacement
from infra.kubernetes.security import SecurityBaseline, SecurityBaselineArgs
from infra.kubernetes.services import (
    ServiceDeployment,
    ServiceDeploymentArgs,
    ServicePlatform,
)
from infra.kubernetes.storage_class import GP3, gp3_storage_class
from infra.kubernetes.streaming import Streaming, StreamingArgs


@dataclass(frozen=True)
class KubernetesPlatformArgs:
    provider: k8s.Provider
    stack: topics.Stack
    image: pulumi.Input[str]
    """The application image by digest."""
    backends: Backends
    irsa: Irsa
    cluster: EksCluster
    ingress: IngressSettings | None
    """None: public services get no Ingress (a stack without a domain yet)."""
    grafana_admin_password: pulumi.Input[str] | None
    """None: generated (and kept in the stack state as a secret)."""
    kafka_brokers: int
    """1 in dev, 3 in staging and prod."""
    mesh: bool = False
    kafka_storage_gib: int = 100
    kafka_placement: NodePlacement | None = None
    """The node group reserved for the brokers, if the stack has one."""
    monitoring_replicas: int = 1
    metrics_retention_days: int = 15
    logs_retention_days: int = 14
    traces_retention_days: int = 7
    namespaces: Namespaces = field(default_factory=Namespaces)
    declared_services: Sequence[services.Service] = services.ALL
    declared_topics: Sequence[topics.Topic] = topics.ALL


class KubernetesPlatform(pulumi.ComponentResource):
    """SecurityBaseline, the gp3 StorageClass and the AWS Load Balancer Controller, then
    Streaming and Observability, then one ServiceDeployment per declared service (a service
    added to apps.core.services appears here unchanged)."""

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
        self.storage_class = gp3_storage_class(
            f"{name}-{GP3}",
            stack=args.stack,
            kms_key_arn=args.cluster.volumes_kms_key_arn,
            tags=args.backends.tags,
            opts=pulumi.ResourceOptions(parent=self, provider=args.provider),
        )
        self.load_balancer = LoadBalancerController(
            f"{name}-load-balancer",
            LoadBalancerControllerArgs(
                provider=args.provider,
                cluster=args.cluster,
                irsa=args.irsa,
                tags=args.backends.tags,
            ),
            opts=child,
        )
        with_volumes = [*after_baseline, self.storage_class]
        self.streaming = Streaming(
            f"{name}-streaming",
            StreamingArgs(
                provider=args.provider,
                stack=args.stack,
                brokers=args.kafka_brokers,
                storage_gib=args.kafka_storage_gib,
                storage_class=GP3,
                placement=args.kafka_placement,
                namespaces=args.namespaces,
                declared_topics=args.declared_topics,
                declared_services=args.declared_services,
                depends_on=with_volumes,
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
                storage_class=GP3,
                logs_bucket=self._logs_bucket(args),
                namespaces=args.namespaces,
                declared_services=args.declared_services,
                depends_on=with_volumes,
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
            ingress_controller=[self.load_balancer.release],
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
                "storage_class": GP3,
                "kafka_bootstrap": self.streaming.access.bootstrap,
                "services": list(self.services),
                "hosts": {
                    s.name: ServiceDeployment.ingress_host(s, args.ingress)
                    for s in args.declared_services
                    if s.public
                },
            }
        )

    @staticmethod
    def _logs_bucket(args: KubernetesPlatformArgs) -> LogsBucket | None:
        """Loki stores in the stack's logs bucket when there is one."""
        storage = args.backends.storage
        if storage is None or "logs" not in storage.buckets:
            return None
        return LogsBucket(
            bucket=storage.buckets["logs"],
            region=args.cluster.region,
            irsa=args.irsa,
            kms_key_arn=storage.kms_key_arn,
            tags=args.backends.tags,
        )
