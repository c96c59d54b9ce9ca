"""The stack configuration: one typed, validated, frozen model, built once at the program's edge.

Read (stacks/load.py) from Pulumi config (`from_pulumi`, in the program) or from
a file in the Pulumi.<stack>.yaml format (`from_file`, for the offline plan). Keys live in
the `gamemetrics:` namespace, plus `aws:region`; sections are YAML mappings
with camelCase keys, as Pulumi structured config is written:

    config:
      aws:region: eu-west-1
      gamemetrics:environment: dev
      gamemetrics:owner: platform-team
      gamemetrics:costCenter: cc-4711
      gamemetrics:database:
        instanceClass: db.t4g.medium
        multiAz: false

Every setting not written takes the safe default below (encryption is not a
setting: it is always on). A missing or malformed key raises `ConfigError`
naming the key and what is allowed, before any resource is declared.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Literal

from infra.archive_catalog import AthenaConfig
from infra.cache import CacheConfig
from infra.cluster import POOL_LABEL, NodeGroupConfig
from infra.database import DatabaseConfig
from infra.kubernetes.ingress import IngressSettings
from infra.kubernetes.placement import NodePlacement
from infra.network import NatGateways
from infra.registry import RegistryConfig
from infra.storage import StorageConfig

Environment = Literal["dev", "staging", "prod"]
ENVIRONMENTS: Final[tuple[Environment, ...]] = ("dev", "staging", "prod")

NAMESPACE: Final = "gamemetrics"
TAG_KEYS: Final[tuple[str, ...]] = ("environment", "service", "owner", "cost-center")
"""Every taggable AWS resource carries these four tags (see `Tags.for_service`)."""


@dataclass(frozen=True, slots=True)
class Tags:
    environment: Environment
    owner: str
    cost_center: str

    def for_service(self, service: str) -> dict[str, str]:
        """The tags of a resource that belongs to `service` (a component: "database", ...)."""
        return {
            "environment": self.environment,
            "service": service,
            "owner": self.owner,
            "cost-center": self.cost_center,
        }

    def defaults(self) -> dict[str, str]:
        """Provider-level default tags (a safety net for resources created inside pulumi-eks)."""
        return {
            "environment": self.environment,
            "owner": self.owner,
            "cost-center": self.cost_center,
        }


@dataclass(frozen=True, slots=True)
class NetworkConfig:
    availability_zones: tuple[str, str, str]
    cidr: str = "10.0.0.0/16"
    nat_gateways: NatGateways = "per-az"
    flow_log_retention_days: int = 90


@dataclass(frozen=True, slots=True)
class ClusterConfig:
    kubernetes_version: str = "1.34"
    public_access_cidrs: tuple[str, ...] = ()
    """Empty: the API endpoint is private only (reached from inside the VPC)."""
    node_groups: tuple[NodeGroupConfig, ...] = (NodeGroupConfig(name="general"),)
    deletion_protection: bool = True

    def pool(self, workload: str) -> tuple[NodeGroupConfig, ...]:
        """The node groups reserved for `workload` (labelled `gamemetrics.io/pool: <workload>`)."""
        return tuple(g for g in self.node_groups if g.labels.get(POOL_LABEL) == workload)

    def placement(self, workload: str) -> NodePlacement | None:
        """Where `workload`'s pods go: onto its pool's nodes, tolerating their taints (None: no
        pool is reserved for it, so anywhere)."""
        groups = self.pool(workload)
        if not groups:
            return None
        unique = tuple(dict.fromkeys(t for g in groups for t in g.taints))
        return NodePlacement(node_labels={POOL_LABEL: workload}, taints=unique)


@dataclass(frozen=True, slots=True)
class KafkaConfig:
    brokers: int = 3
    storage_gib: int = 100

    @property
    def replication_factor(self) -> int:
        return min(self.brokers, 3)

    @property
    def min_insync_replicas(self) -> int:
        return max(1, self.replication_factor - 1)


@dataclass(frozen=True, slots=True)
class MeshConfig:
    enabled: bool = False
    """Istio with STRICT mTLS between the pods."""


@dataclass(frozen=True, slots=True)
class IngressConfig:
    domain: str | None = None
    """Public services answer on `<service>.<domain>`."""
    certificate_arn: str | None = None
    """ACM certificate covering `*.<domain>`, for the ALB's TLS listener."""
    allowed_cidrs: tuple[str, ...] = ("0.0.0.0/0",)
    """Who may reach the public APIs (game clients: the world, by default)."""

    def settings(self, source_cidrs: list[str]) -> IngressSettings | None:
        """The ALB's settings; None (no ingress) until both domain and certificate are set."""
        if not (self.domain and self.certificate_arn):
            return None
        return IngressSettings(
            domain=self.domain,
            certificate_arn=self.certificate_arn,
            source_cidrs=source_cidrs,
            allowed_cidrs=self.allowed_cidrs,
        )


@dataclass(frozen=True, slots=True)
class ObservabilityConfig:
    metrics_retention_days: int = 15
    logs_retention_days: int = 14
    traces_retention_days: int = 7
    monitoring_replicas: int = 1
    """Prometheus and Alertmanager replicas (2 where an alert must survive a node's loss)."""


@dataclass(frozen=True, slots=True)
class StackConfig:
    environment: Environment
    region: str
    tags: Tags
    network: NetworkConfig
    cluster: ClusterConfig = field(default_factory=ClusterConfig)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    cache: CacheConfig = field(default_factory=CacheConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    registry: RegistryConfig = field(default_factory=RegistryConfig)
    kafka: KafkaConfig = field(default_factory=KafkaConfig)
    mesh: MeshConfig = field(default_factory=MeshConfig)
    ingress: IngressConfig = field(default_factory=IngressConfig)
    observability: ObservabilityConfig = field(default_factory=ObservabilityConfig)
    athena: AthenaConfig = field(default_factory=AthenaConfig)
    """SQL over the archive: the Athena workgroup's per-query scan cutoff, its results' life."""

    @property
    def name_prefix(self) -> str:
        """Prefix of physical names: `gamemetrics-dev`, `gamemetrics-prod`."""
        return f"{NAMESPACE}-{self.environment}"
