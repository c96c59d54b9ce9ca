"""The security baseline every stack starts from: namespaces, quotas, default deny, mesh."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

import pulumi
import pulumi_kubernetes as k8s

from apps.core import services, topics
from infra.kubernetes import netpol
from infra.kubernetes.meta import PART_OF, Namespaces
from infra.kubernetes.workload import CPU_LIMIT_FACTOR

metav1 = k8s.meta.v1
corev1 = k8s.core.v1

PodSecurityLevel = Literal["restricted", "baseline", "privileged"]
DefaultDeny = Literal["all", "ingress", "none"]
SIDECAR_RESOURCES: Final = {
    "requests": {"cpu": "100m", "memory": "128Mi"},
    "limits": {"cpu": "500m", "memory": "256Mi"},
}
"""The Istio proxy beside each meshed pod (set in istiod's values, counted in the quota)."""
_SIDECAR_MILLIS: Final = (100, 128, 500, 256)
ISTIO_REPOSITORY = "https://istio-release.storage.googleapis.com/charts"


@dataclass(frozen=True, slots=True)
class Quota:
    cpu_requests: str
    memory_requests: str
    cpu_limits: str
    memory_limits: str
    pods: int

    @classmethod
    def for_services(
        cls,
        declared: Sequence[services.Service],
        stack: topics.Stack,
        *,
        sidecars: bool = False,
        headroom: float = 1.25,
    ) -> "Quota":
        """Enough for every service at its maximum replicas plus a rolling-update surge
        (and their Istio proxies when the mesh is on)."""
        cpu_req = mem_req = cpu_lim = mem_lim = pods = 0
        extra = _SIDECAR_MILLIS if sidecars else (0, 0, 0, 0)
        for s in declared:
            scaling = s.scaling.get(stack)
            if scaling is None:
                raise ValueError(f"service {s.name!r} declares no scaling for stack {stack!r}")
            n = scaling.max_replicas + 1
            pods += n
            cpu_req += n * (s.cpu_request_millis + extra[0])
            mem_req += n * (s.memory_request_mib + extra[1])
            cpu_lim += n * (s.cpu_request_millis * CPU_LIMIT_FACTOR + extra[2])
            mem_lim += n * (s.memory_limit_mib + extra[3])

        def up(v: int) -> int:
            return int(v * headroom) + 1

        return cls(
            cpu_requests=f"{up(cpu_req)}m",
            memory_requests=f"{up(mem_req)}Mi",
            cpu_limits=f"{up(cpu_lim)}m",
            memory_limits=f"{up(mem_lim)}Mi",
            pods=up(pods),
        )


@dataclass(frozen=True, slots=True)
class NamespacePolicy:
    name: str
    pod_security: PodSecurityLevel
    """Enforced level; audit and warn are always `restricted`, so exceptions stay visible."""
    default_deny: DefaultDeny
    quota: Quota | None = None
    why: str = ""
    """Why the namespace enforces less than restricted or denies less than all (if it does)."""


@dataclass(frozen=True)
class SecurityBaselineArgs:
    provider: k8s.Provider
    stack: topics.Stack
    mesh: bool
    """Istio with STRICT mutual TLS (istio-base, istio-cni, istiod, PeerAuthentication)."""
    namespaces: Namespaces = field(default_factory=Namespaces)
    declared_services: Sequence[services.Service] = services.ALL
    kafka_quota: Quota = Quota("8", "32Gi", "16", "32Gi", 40)
    monitoring_quota: Quota = Quota("4", "16Gi", "8", "24Gi", 60)
    istio_version: str = "1.28.0"
    extra_labels: Mapping[str, str] = field(default_factory=dict)


class SecurityBaseline(pulumi.ComponentResource):
    """Namespaces with Pod Security Standards labels, ResourceQuota and LimitRange each,
    default-deny NetworkPolicies, and the mesh when the stack asks for it."""

    namespaces: dict[str, corev1.Namespace]

    def __init__(
        self, name: str, args: SecurityBaselineArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("gamemetrics:infra:SecurityBaseline", name, None, opts)
        k8s_opts = pulumi.ResourceOptions(parent=self, provider=args.provider)
        self.policies = self.namespace_policies(args)
        self.namespaces = {}
        for policy in self.policies:
            ns_labels = {
                "app.kubernetes.io/part-of": PART_OF,
                "gamemetrics.io/stack": args.stack,
                "pod-security.kubernetes.io/enforce": policy.pod_security,
                "pod-security.kubernetes.io/enforce-version": "latest",
                "pod-security.kubernetes.io/audit": "restricted",
                "pod-security.kubernetes.io/audit-version": "latest",
                "pod-security.kubernetes.io/warn": "restricted",
                "pod-security.kubernetes.io/warn-version": "latest",
                **args.extra_labels,
            }
            if args.mesh and policy.name == args.namespaces.apps:
                ns_labels["istio-injection"] = "enabled"
            annotations = {"gamemetrics.io/why": policy.why} if policy.why else None
            namespace = corev1.Namespace(
                f"{name}-{policy.name}",
                metadata=metav1.ObjectMetaArgs(
                    name=policy.name, labels=ns_labels, annotations=annotations
                ),
                opts=k8s_opts,
            )
            self.namespaces[policy.name] = namespace
            in_ns = pulumi.ResourceOptions.merge(
                k8s_opts, pulumi.ResourceOptions(depends_on=[namespace])
            )
            self._limit_range(name, policy, in_ns)
            if policy.quota is not None:
                self._quota(name, policy, policy.quota, in_ns)
            if policy.default_deny != "none":
                spec = (
                    netpol.default_deny_spec()
                    if policy.default_deny == "all"
                    else netpol.default_deny_ingress_spec()
                )
                k8s.networking.v1.NetworkPolicy(
                    f"{name}-{policy.name}-default-deny",
                    metadata=metav1.ObjectMetaArgs(name="default-deny", namespace=policy.name),
                    spec=spec,
                    opts=in_ns,
                )
        self.mesh_resources: list[pulumi.Resource] = (
            self._mesh(name, args, k8s_opts) if args.mesh else []
        )
        self.register_outputs(
            {
                "namespaces": {n: ns.metadata["name"] for n, ns in self.namespaces.items()},
                "mesh": args.mesh,
            }
        )

    @staticmethod
    def namespace_policies(args: SecurityBaselineArgs) -> list[NamespacePolicy]:
        ns = args.namespaces
        policies = [
            NamespacePolicy(
                ns.apps,
                "restricted",
                "all",
                Quota.for_services(args.declared_services, args.stack, sidecars=args.mesh),
            ),
            NamespacePolicy(
                ns.kafka,
                "restricted",
                "ingress",
                args.kafka_quota,
                why="Strimzi generates the ingress policies of its listeners; the operator "
                "and brokers need egress to the API server and between themselves",
            ),
            NamespacePolicy(
                ns.monitoring,
                "privileged",
                "none",
                args.monitoring_quota,
                why="node-exporter needs the host's network and PID namespaces; Prometheus "
                "scrapes every namespace and the API server calls the operator's webhook",
            ),
        ]
        if args.mesh:
            policies.append(
                NamespacePolicy(
                    ns.mesh,
                    "privileged",
                    "none",
                    None,
                    why="istio-cni configures pod networking on each node (privileged); it "
                    "is what lets meshed pods stay restricted",
                )
            )
        return policies

    def _limit_range(
        self, name: str, policy: NamespacePolicy, opts: pulumi.ResourceOptions
    ) -> corev1.LimitRange:
        """Defaults for containers that declare nothing (sidecars, operator-made pods)."""
        return corev1.LimitRange(
            f"{name}-{policy.name}-limits",
            metadata=metav1.ObjectMetaArgs(name="defaults", namespace=policy.name),
            spec=corev1.LimitRangeSpecArgs(
                limits=[
                    corev1.LimitRangeItemArgs(
                        type="Container",
                        default_request={"cpu": "100m", "memory": "128Mi"},
                        default={"cpu": "500m", "memory": "256Mi"},
                        max={"cpu": "8", "memory": "32Gi"},
                    )
                ]
            ),
            opts=opts,
        )

    def _quota(
        self, name: str, policy: NamespacePolicy, quota: Quota, opts: pulumi.ResourceOptions
    ) -> corev1.ResourceQuota:
        return corev1.ResourceQuota(
            f"{name}-{policy.name}-quota",
            metadata=metav1.ObjectMetaArgs(name="quota", namespace=policy.name),
            spec=corev1.ResourceQuotaSpecArgs(
                hard={
                    "requests.cpu": quota.cpu_requests,
                    "requests.memory": quota.memory_requests,
                    "limits.cpu": quota.cpu_limits,
                    "limits.memory": quota.memory_limits,
                    "pods": str(quota.pods),
                    # Traffic enters through the ALB ingress only.
                    "services.loadbalancers": "0",
                    "services.nodeports": "0",
                }
            ),
            opts=opts,
        )

    def _mesh(
        self, name: str, args: SecurityBaselineArgs, opts: pulumi.ResourceOptions
    ) -> list[pulumi.Resource]:
        mesh_ns = args.namespaces.mesh
        in_mesh_ns = pulumi.ResourceOptions.merge(
            opts, pulumi.ResourceOptions(depends_on=[self.namespaces[mesh_ns]])
        )

        def release(
            chart: str, values: dict[str, object], after: list[pulumi.Resource]
        ) -> k8s.helm.v3.Release:
            return k8s.helm.v3.Release(
                f"{name}-{chart}",
                k8s.helm.v3.ReleaseArgs(
                    name=chart,
                    chart=chart,
                    version=args.istio_version,
                    repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=ISTIO_REPOSITORY),
                    namespace=mesh_ns,
                    values=values,
                    atomic=True,
                ),
                opts=pulumi.ResourceOptions.merge(
                    in_mesh_ns, pulumi.ResourceOptions(depends_on=after)
                ),
            )

        base = release("base", {"defaultRevision": "default"}, [])
        cni = release("cni", {"profile": "default"}, [base])
        istiod = release(
            "istiod",
            {
                # Sidecars without the privileged istio-init container: PSS restricted holds.
                "pilot": {"cni": {"enabled": True}},
                "global": {"proxy": {"resources": SIDECAR_RESOURCES}},
            },
            [base, cni],
        )
        strict = k8s.apiextensions.CustomResource(
            f"{name}-mesh-mtls",
            api_version="security.istio.io/v1",
            kind="PeerAuthentication",
            metadata=metav1.ObjectMetaArgs(name="default", namespace=mesh_ns),
            spec={"mtls": {"mode": "STRICT"}},
            opts=pulumi.ResourceOptions.merge(
                in_mesh_ns, pulumi.ResourceOptions(depends_on=[istiod])
            ),
        )
        return [base, cni, istiod, strict]
