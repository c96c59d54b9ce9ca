"""One component for every declared service: the same code deploys ingest, processor, analytics.

Nothing here names a service: what differs between them (command, port, probes, scaling,
needs, topics, public or not) comes from `apps.core.services.Service`.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from apps.core import services, topics
from infra.kubernetes import iam, ingress, kafka, netpol, workload
from infra.kubernetes.backends import Backends, Irsa
from infra.kubernetes.ingress import IngressSettings
from infra.kubernetes.meta import HTTP_PORT_NAME, Namespaces, labels, selector_labels

metav1 = k8s.meta.v1
corev1 = k8s.core.v1


@dataclass(frozen=True)
class ServicePlatform:
    """What every service's deployment shares on one stack."""

    provider: k8s.Provider
    stack: topics.Stack
    image: pulumi.Input[str]
    """The application image by digest (`repository@sha256:...`)."""
    backends: Backends
    irsa: Irsa
    kafka: kafka.KafkaAccess | None
    ingress: IngressSettings | None
    mesh: bool = False
    namespaces: Namespaces = field(default_factory=Namespaces)
    depends_on: Sequence[pulumi.Resource] = ()
    ingress_controller: Sequence[pulumi.Resource] = ()
    """What turns an Ingress into a load balancer (the AWS Load Balancer Controller's
    release): Ingresses are created after it and deleted before it."""


@dataclass(frozen=True)
class ServiceDeploymentArgs:
    service: services.Service
    platform: ServicePlatform


def _require_digest(image: str) -> str:
    if "@sha256:" not in image:
        raise ValueError(
            f"image {image!r} is not pinned by digest; expected repository@sha256:<hex>"
        )
    return image


class ServiceDeployment(pulumi.ComponentResource):
    """Deployment, Service, ServiceAccount + IRSA role, HPA, PDB, NetworkPolicy, ConfigMap,
    Secret and, for a public service, an Ingress: all derived from one declaration."""

    def __init__(
        self, name: str, args: ServiceDeploymentArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("gamemetrics:infra:ServiceDeployment", name, None, opts)
        svc, p = args.service, args.platform
        scaling = svc.scaling.get(p.stack)
        if scaling is None:
            declared = ", ".join(svc.scaling) or "none"
            raise ValueError(
                f"service {svc.name!r} declares no scaling for stack {p.stack!r}; "
                f"declared: {declared}"
            )
        if svc.public and p.ingress is None:
            pulumi.log.warn(
                f"service {svc.name!r} is public but the stack has no ingress (domain and "
                "certificate): it is reachable only inside the cluster",
                resource=self,
            )
        ns = p.namespaces.apps
        meta = labels(svc.name, "service", p.stack)
        image = pulumi.Output.from_input(p.image).apply(_require_digest)
        k8s_opts = pulumi.ResourceOptions(
            parent=self, provider=p.provider, depends_on=list(p.depends_on)
        )

        def metadata(
            obj_name: str, annotations: Mapping[str, pulumi.Input[str]] | None = None
        ) -> metav1.ObjectMetaArgs:
            return metav1.ObjectMetaArgs(
                name=obj_name, namespace=ns, labels=meta, annotations=annotations
            )

        self.role = aws.iam.Role(
            f"{name}-irsa",
            assume_role_policy=iam.trust_policy(p.irsa, ns, svc.name),
            description=f"GameMetrics {svc.name} pods ({p.stack}), via IRSA",
            tags={**p.backends.tags, "service": svc.name},
            opts=pulumi.ResourceOptions(parent=self),
        )
        policy = iam.permissions_policy(svc, p.backends.storage)
        self.role_policy = (
            aws.iam.RolePolicy(
                f"{name}-irsa-policy",
                role=self.role.id,
                policy=policy,
                opts=pulumi.ResourceOptions(parent=self),
            )
            if policy is not None
            else None
        )
        self.service_account = corev1.ServiceAccount(
            f"{name}-sa",
            metadata=metadata(svc.name, annotations={"eks.amazonaws.com/role-arn": self.role.arn}),
            automount_service_account_token=False,
            opts=k8s_opts,
        )

        config = workload.config_data(svc, p.stack, p.backends, p.kafka)
        secrets = workload.secret_data(svc, p.stack, p.backends, p.kafka)
        self.config_map = corev1.ConfigMap(
            f"{name}-config", metadata=metadata(f"{svc.name}-config"), data=config, opts=k8s_opts
        )
        self.secret = (
            corev1.Secret(
                f"{name}-env",
                metadata=metadata(f"{svc.name}-env"),
                type="Opaque",
                string_data=secrets,
                opts=k8s_opts,
            )
            if secrets
            else None
        )

        self.deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata=metadata(svc.name),
            spec=k8s.apps.v1.DeploymentSpecArgs(
                # No replicas: the HPA owns the count (from min_replicas), updates keep it.
                selector=metav1.LabelSelectorArgs(match_labels=selector_labels(svc.name)),
                revision_history_limit=5,
                strategy=k8s.apps.v1.DeploymentStrategyArgs(
                    type="RollingUpdate",
                    rolling_update=k8s.apps.v1.RollingUpdateDeploymentArgs(
                        max_surge=1, max_unavailable=0
                    ),
                ),
                template=workload.pod_template(
                    svc,
                    p.stack,
                    image=image,
                    service_account=svc.name,
                    config_name=f"{svc.name}-config",
                    secret_name=f"{svc.name}-env" if secrets else None,
                    config_checksum=workload.checksum(config, secrets),
                    mesh=p.mesh,
                ),
            ),
            opts=pulumi.ResourceOptions.merge(
                k8s_opts,
                pulumi.ResourceOptions(
                    depends_on=[
                        r
                        for r in (self.service_account, self.config_map, self.secret)
                        if r is not None
                    ]
                ),
            ),
        )
        self.service = corev1.Service(
            f"{name}-service",
            metadata=metadata(svc.name),
            spec=corev1.ServiceSpecArgs(
                type="ClusterIP",
                selector=selector_labels(svc.name),
                ports=[
                    corev1.ServicePortArgs(
                        name=HTTP_PORT_NAME,
                        port=svc.port,
                        target_port=HTTP_PORT_NAME,
                        protocol="TCP",
                        app_protocol="http",
                    )
                ],
            ),
            opts=k8s_opts,
        )
        target = k8s.autoscaling.v2.CrossVersionObjectReferenceArgs(
            api_version="apps/v1", kind="Deployment", name=svc.name
        )
        self.autoscaler = k8s.autoscaling.v2.HorizontalPodAutoscaler(
            f"{name}-hpa",
            metadata=metadata(svc.name),
            spec=k8s.autoscaling.v2.HorizontalPodAutoscalerSpecArgs(
                scale_target_ref=target,
                min_replicas=scaling.min_replicas,
                max_replicas=scaling.max_replicas,
                metrics=[
                    k8s.autoscaling.v2.MetricSpecArgs(
                        type="Resource",
                        resource=k8s.autoscaling.v2.ResourceMetricSourceArgs(
                            name="cpu",
                            target=k8s.autoscaling.v2.MetricTargetArgs(
                                type="Utilization",
                                average_utilization=scaling.target_cpu_percent,
                            ),
                        ),
                    )
                ],
            ),
            opts=k8s_opts,
        )
        self.disruption_budget = k8s.policy.v1.PodDisruptionBudget(
            f"{name}-pdb",
            metadata=metadata(svc.name),
            spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(
                # One pod at a time: drains proceed even at one replica, never take two.
                max_unavailable=1,
                selector=metav1.LabelSelectorArgs(match_labels=selector_labels(svc.name)),
            ),
            opts=k8s_opts,
        )
        flows = netpol.Flows(
            namespaces=p.namespaces,
            backends=p.backends,
            kafka=p.kafka,
            ingress_sources=p.ingress.source_cidrs if p.ingress is not None else (),
            mesh=p.mesh,
        )
        self.network_policy = k8s.networking.v1.NetworkPolicy(
            f"{name}-netpol",
            metadata=metadata(svc.name),
            spec=netpol.service_policy_spec(svc, flows),
            opts=k8s_opts,
        )
        self.ingress = (
            k8s.networking.v1.Ingress(
                f"{name}-ingress",
                metadata=metadata(
                    svc.name,
                    ingress.annotations(svc, p.ingress, {**p.backends.tags, "service": svc.name}),
                ),
                spec=ingress.spec(svc, p.ingress),
                opts=pulumi.ResourceOptions.merge(
                    k8s_opts, pulumi.ResourceOptions(depends_on=list(p.ingress_controller))
                ),
            )
            if svc.public and p.ingress is not None
            else None
        )
        self.peer_authentication = (
            self._alb_port_exception(name, svc, p, metadata(f"{svc.name}-from-alb"), k8s_opts)
            if svc.public and p.mesh
            else None
        )
        self.register_outputs(
            {
                "deployment": self.deployment.metadata["name"],
                "service_account_role_arn": self.role.arn,
                "host": self.ingress_host(svc, p.ingress),
            }
        )

    @staticmethod
    def ingress_host(svc: services.Service, settings: IngressSettings | None) -> str | None:
        return ingress.host(svc, settings) if svc.public and settings is not None else None

    def _alb_port_exception(
        self,
        name: str,
        svc: services.Service,
        p: ServicePlatform,
        meta: metav1.ObjectMetaArgs,
        opts: pulumi.ResourceOptions,
    ) -> k8s.apiextensions.CustomResource:
        """The ALB is outside the mesh: plain HTTP to a public service's port is allowed."""
        return k8s.apiextensions.CustomResource(
            f"{name}-peer-authentication",
            api_version="security.istio.io/v1",
            kind="PeerAuthentication",
            metadata=meta,
            spec={
                "selector": {"matchLabels": selector_labels(svc.name)},
                "mtls": {"mode": "STRICT"},
                "portLevelMtls": {str(svc.port): {"mode": "PERMISSIVE"}},
            },
            opts=opts,
        )
