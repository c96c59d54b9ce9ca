"""The stack configuration: one typed, validated, frozen model, built once at the program's edge.

Read from Pulumi config (`from_pulumi`, in the program) or from a file in the
Pulumi.<stack>.yaml format (`from_file`, for the offline plan). Keys live in
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

import ipaddress
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal, TypeVar, cast

import yaml

from infra.errors import ConfigError

Environment = Literal["dev", "staging", "prod"]
ENVIRONMENTS: Final[tuple[Environment, ...]] = ("dev", "staging", "prod")
NatGateways = Literal["single", "per-az"]
CapacityType = Literal["ON_DEMAND", "SPOT"]
TaintEffect = Literal["NoSchedule", "PreferNoSchedule", "NoExecute"]

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


POOL_LABEL: Final = "gamemetrics.io/pool"
"""A node group labelled `gamemetrics.io/pool: <workload>` is reserved for that workload
(`kafka`): the workload's pods require the label and tolerate the group's taints."""


@dataclass(frozen=True, slots=True)
class NodeTaint:
    key: str
    value: str
    effect: TaintEffect = "NoSchedule"


@dataclass(frozen=True, slots=True)
class NodeGroupConfig:
    name: str
    instance_types: tuple[str, ...] = ("m7i.large",)
    min_size: int = 2
    desired_size: int = 3
    max_size: int = 6
    capacity_type: CapacityType = "ON_DEMAND"
    disk_size_gib: int = 50
    labels: Mapping[str, str] = field(default_factory=dict)
    taints: tuple[NodeTaint, ...] = ()
    """Only pods that tolerate them run there (DaemonSets of the add-ons tolerate all)."""


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


@dataclass(frozen=True, slots=True)
class DatabaseConfig:
    instance_class: str = "db.m7g.large"
    engine_version: str = "17"
    allocated_storage_gib: int = 100
    max_allocated_storage_gib: int = 500
    multi_az: bool = True
    deletion_protection: bool = True
    backup_retention_days: int = 14
    """Automated backups, and so point-in-time recovery, over this many days (1-35)."""
    read_replicas: int = 0
    performance_insights_retention_days: int = 7
    final_snapshot: bool = True

    @property
    def major_version(self) -> str:
        return self.engine_version.split(".")[0]


@dataclass(frozen=True, slots=True)
class CacheConfig:
    node_type: str = "cache.m7g.large"
    engine_version: str = "7.1"
    replicas: int = 1
    """Read replicas beside the primary (the replication group has 1 + replicas nodes)."""
    multi_az: bool = True
    snapshot_retention_days: int = 7


@dataclass(frozen=True, slots=True)
class StorageConfig:
    archive_infrequent_access_days: int = 30
    archive_glacier_days: int = 90
    backups_retention_days: int = 35
    logs_retention_days: int = 90
    noncurrent_version_days: int = 30
    force_destroy: bool = False
    """Let `pulumi destroy` delete non-empty buckets (dev only)."""


@dataclass(frozen=True, slots=True)
class RegistryConfig:
    untagged_image_days: int = 7
    max_images: int = 200
    force_delete: bool = False
    platform: str = "linux/amd64"
    pinned_image: str | None = None
    """`<repository>@sha256:<digest>`: run this image and build none (rollback, promotion)."""


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


@dataclass(frozen=True, slots=True)
class ObservabilityConfig:
    metrics_retention_days: int = 15
    logs_retention_days: int = 14
    traces_retention_days: int = 7


@dataclass(frozen=True, slots=True)
class StackConfig:
    environment: Environment
    region: str
    tags: Tags
    network: NetworkConfig
    cluster: ClusterConfig = ClusterConfig()
    database: DatabaseConfig = DatabaseConfig()
    cache: CacheConfig = CacheConfig()
    storage: StorageConfig = StorageConfig()
    registry: RegistryConfig = RegistryConfig()
    kafka: KafkaConfig = KafkaConfig()
    mesh: MeshConfig = MeshConfig()
    ingress: IngressConfig = IngressConfig()
    observability: ObservabilityConfig = ObservabilityConfig()

    @property
    def name_prefix(self) -> str:
        """Prefix of physical names: `gamemetrics-dev`, `gamemetrics-prod`."""
        return f"{NAMESPACE}-{self.environment}"


# --- reading -------------------------------------------------------------------------------

_T = TypeVar("_T")
LOG_RETENTION_DAYS: Final = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)
"""The retention periods CloudWatch Logs accepts."""
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
_K8S_VERSION = re.compile(r"^1\.\d{2}$")
_TAG_VALUE = re.compile(r"^[\w .:/=+\-@]{1,256}$")
_LABEL_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_LABEL_KEY = rf"([a-z0-9]([-a-z0-9.]{{0,251}}[a-z0-9])?/)?{_LABEL_NAME}"


class _Section:
    """One mapping of settings; records which keys were read so unknown ones are reported."""

    def __init__(self, key: str, raw: object) -> None:
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise ConfigError(f"{key}: expected a mapping of settings, got {_show(raw)}")
        self.key = key
        self._raw: dict[str, object] = raw
        self._read: set[str] = set()

    def _get(self, name: str) -> object | None:
        self._read.add(name)
        return self._raw.get(name)

    def _fail(self, name: str, expected: str, value: object) -> ConfigError:
        return ConfigError(f"{self.key}.{name}: expected {expected}, got {_show(value)}")

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        value = self._get(name)
        if value is None:
            return default
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise self._fail(name, f"an integer from {low} to {high}", value)
        return value

    def boolean(self, name: str, default: bool) -> bool:
        value = self._get(name)
        if value is None:
            return default
        if isinstance(value, str) and value.lower() in {"true", "false"}:
            return value.lower() == "true"
        if not isinstance(value, bool):
            raise self._fail(name, "true or false", value)
        return value

    def string(
        self, name: str, default: str, *, allowed: tuple[str, ...] = (), pattern: str = ""
    ) -> str:
        value = self._get(name)
        if value is None:
            return default
        if isinstance(value, int | float) and not isinstance(value, bool) and pattern:
            value = str(value)  # `version: 1.34` written without quotes
        expected = f"one of {', '.join(allowed)}" if allowed else (pattern or "a string")
        if not isinstance(value, str) or not value:
            raise self._fail(name, expected, value)
        if allowed and value not in allowed:
            raise self._fail(name, expected, value)
        if pattern and not re.fullmatch(pattern, value):
            raise self._fail(name, f"a string matching {pattern}", value)
        return value

    def optional_string(self, name: str, *, pattern: str = "") -> str | None:
        if self._raw.get(name) is None:
            self._read.add(name)
            return None
        return self.string(name, "", pattern=pattern)

    def strings(
        self, name: str, default: tuple[str, ...], *, non_empty: bool = False
    ) -> tuple[str, ...]:
        value = self._get(name)
        if value is None:
            return default
        what = "a non-empty list of strings" if non_empty else "a list of strings"
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self._fail(name, what, value)
        if non_empty and not value:
            raise self._fail(name, what, value)
        return tuple(cast(list[str], value))

    def cidrs(self, name: str, default: tuple[str, ...], *, allow_world: bool) -> tuple[str, ...]:
        values = self.strings(name, default)
        for value in values:
            try:
                network = ipaddress.ip_network(value, strict=True)
            except ValueError:
                raise self._fail(name, "IPv4 CIDR blocks such as 203.0.113.0/24", value) from None
            if not allow_world and network.prefixlen == 0:
                raise self._fail(
                    name, "an allow-list of specific CIDR blocks (not the world)", value
                )
        return values

    def labels(self, name: str) -> dict[str, str]:
        value = self._get(name)
        if value is None:
            return {}
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise self._fail(name, "a mapping of strings to strings", value)
        return dict(value)

    def sections(self, name: str) -> Iterator[_Section] | None:
        value = self._get(name)
        if value is None:
            return None
        if not isinstance(value, list) or not value:
            raise self._fail(name, "a non-empty list of mappings", value)
        return (_Section(f"{self.key}.{name}[{i}]", item) for i, item in enumerate(value))

    def finish(self, result: _T) -> _T:
        unknown = sorted(set(self._raw) - self._read)
        if unknown:
            allowed = ", ".join(sorted(self._read))
            raise ConfigError(
                f"{self.key}: unknown setting {', '.join(unknown)}; allowed: {allowed}"
            )
        return result


def _show(value: object) -> str:
    return "nothing" if value is None else f"{value!r} ({type(value).__name__})"


def _network(s: _Section, region: str) -> NetworkConfig:
    d = NetworkConfig(availability_zones=("", "", ""))
    cidr = s.string("cidr", d.cidr)
    try:
        net = ipaddress.ip_network(cidr, strict=True)
    except ValueError:
        raise ConfigError(f"{s.key}.cidr: expected an IPv4 CIDR block, got {cidr!r}") from None
    if net.version != 4 or not net.is_private or not 16 <= net.prefixlen <= 20:
        raise ConfigError(
            f"{s.key}.cidr: expected a private IPv4 block from /16 to /20, got {cidr!r}"
        )
    default_zones = (f"{region}a", f"{region}b", f"{region}c")
    zones = s.strings("availabilityZones", default_zones)
    if len(zones) != 3 or len(set(zones)) != 3 or not all(z.startswith(region) for z in zones):
        raise ConfigError(
            f"{s.key}.availabilityZones: expected 3 distinct zones of {region}, got {list(zones)}"
        )
    retention = s.integer("flowLogRetentionDays", d.flow_log_retention_days, 1, 3653)
    if retention not in LOG_RETENTION_DAYS:
        allowed = ", ".join(map(str, LOG_RETENTION_DAYS))
        raise ConfigError(
            f"{s.key}.flowLogRetentionDays: expected one of {allowed}, got {retention}"
        )
    nat = s.string("natGateways", d.nat_gateways, allowed=("single", "per-az"))
    return s.finish(
        NetworkConfig(
            availability_zones=(zones[0], zones[1], zones[2]),
            cidr=cidr,
            nat_gateways=cast(NatGateways, nat),
            flow_log_retention_days=retention,
        )
    )


def _node_group(s: _Section) -> NodeGroupConfig:
    d = NodeGroupConfig(name="")
    group = NodeGroupConfig(
        name=s.string("name", "", pattern=r"[a-z][a-z0-9-]{0,30}"),
        instance_types=s.strings("instanceTypes", d.instance_types, non_empty=True),
        min_size=s.integer("minSize", d.min_size, 0, 100),
        desired_size=s.integer("desiredSize", d.desired_size, 0, 100),
        max_size=s.integer("maxSize", d.max_size, 1, 100),
        capacity_type=cast(
            CapacityType, s.string("capacityType", d.capacity_type, allowed=("ON_DEMAND", "SPOT"))
        ),
        disk_size_gib=s.integer("diskSizeGib", d.disk_size_gib, 20, 1000),
        labels=s.labels("labels"),
        taints=tuple(_taint(t) for t in s.sections("taints") or ()),
    )
    if not group.name:
        raise ConfigError(f"{s.key}.name: required, a lowercase name such as general")
    if not group.min_size <= group.desired_size <= group.max_size:
        raise ConfigError(
            f"{s.key}: expected minSize <= desiredSize <= maxSize, got "
            f"{group.min_size} <= {group.desired_size} <= {group.max_size}"
        )
    return s.finish(group)


def _taint(s: _Section) -> NodeTaint:
    effects = ("NoSchedule", "PreferNoSchedule", "NoExecute")
    taint = NodeTaint(
        key=s.string("key", "", pattern=_LABEL_KEY),
        value=s.string("value", "", pattern=_LABEL_NAME),
        effect=cast(TaintEffect, s.string("effect", "NoSchedule", allowed=effects)),
    )
    for name, value in (("key", taint.key), ("value", taint.value)):
        if not value:
            raise ConfigError(f"{s.key}.{name}: required, a label {name} such as {POOL_LABEL}")
    return s.finish(taint)


def _cluster(s: _Section) -> ClusterConfig:
    d = ClusterConfig()
    items = s.sections("nodeGroups")
    groups = d.node_groups if items is None else tuple(_node_group(g) for g in items)
    names = [g.name for g in groups]
    if len(set(names)) != len(names):
        raise ConfigError(f"{s.key}.nodeGroups: names must be unique, got {names}")
    if all(g.taints for g in groups):
        raise ConfigError(
            f"{s.key}.nodeGroups: expected at least one group without taints (CoreDNS, the "
            f"operators and the services run there), got taints on every group: {names}"
        )
    return s.finish(
        ClusterConfig(
            kubernetes_version=s.string(
                "kubernetesVersion", d.kubernetes_version, pattern=_K8S_VERSION.pattern
            ),
            public_access_cidrs=s.cidrs("publicAccessCidrs", (), allow_world=False),
            node_groups=groups,
            deletion_protection=s.boolean("deletionProtection", d.deletion_protection),
        )
    )


def _database(s: _Section) -> DatabaseConfig:
    d = DatabaseConfig()
    db = DatabaseConfig(
        instance_class=s.string(
            "instanceClass", d.instance_class, pattern=r"db\.[a-z0-9]+\.[a-z0-9]+"
        ),
        engine_version=s.string("engineVersion", d.engine_version, pattern=r"1[4-9](\.\d+)?"),
        allocated_storage_gib=s.integer("allocatedStorageGib", d.allocated_storage_gib, 20, 65536),
        max_allocated_storage_gib=s.integer(
            "maxAllocatedStorageGib", d.max_allocated_storage_gib, 20, 65536
        ),
        multi_az=s.boolean("multiAz", d.multi_az),
        deletion_protection=s.boolean("deletionProtection", d.deletion_protection),
        backup_retention_days=s.integer("backupRetentionDays", d.backup_retention_days, 1, 35),
        read_replicas=s.integer("readReplicas", d.read_replicas, 0, 5),
        performance_insights_retention_days=s.integer(
            "performanceInsightsRetentionDays", d.performance_insights_retention_days, 7, 731
        ),
        final_snapshot=s.boolean("finalSnapshot", d.final_snapshot),
    )
    days = db.performance_insights_retention_days
    if days not in (7, 731) and days % 31:
        raise ConfigError(
            f"{s.key}.performanceInsightsRetentionDays: expected 7, a multiple of 31 "
            f"(months) or 731, got {days}"
        )
    if db.max_allocated_storage_gib < db.allocated_storage_gib:
        raise ConfigError(
            f"{s.key}.maxAllocatedStorageGib: expected at least allocatedStorageGib "
            f"({db.allocated_storage_gib}), got {db.max_allocated_storage_gib}"
        )
    return s.finish(db)


def _cache(s: _Section) -> CacheConfig:
    d = CacheConfig()
    cache = CacheConfig(
        node_type=s.string("nodeType", d.node_type, pattern=r"cache\.[a-z0-9]+\.[a-z0-9]+"),
        engine_version=s.string("engineVersion", d.engine_version, pattern=r"[67]\.\d+"),
        replicas=s.integer("replicas", d.replicas, 0, 5),
        multi_az=s.boolean("multiAz", d.multi_az),
        snapshot_retention_days=s.integer(
            "snapshotRetentionDays", d.snapshot_retention_days, 0, 35
        ),
    )
    if cache.multi_az and cache.replicas < 1:
        raise ConfigError(
            f"{s.key}.multiAz: true needs replicas >= 1 (a replica in another zone to fail "
            "over to); set replicas or multiAz: false"
        )
    return s.finish(cache)


def _storage(s: _Section) -> StorageConfig:
    d = StorageConfig()
    storage = StorageConfig(
        archive_infrequent_access_days=s.integer(
            "archiveInfrequentAccessDays", d.archive_infrequent_access_days, 30, 3650
        ),
        archive_glacier_days=s.integer("archiveGlacierDays", d.archive_glacier_days, 31, 3650),
        backups_retention_days=s.integer("backupsRetentionDays", d.backups_retention_days, 1, 3650),
        logs_retention_days=s.integer("logsRetentionDays", d.logs_retention_days, 1, 3650),
        noncurrent_version_days=s.integer(
            "noncurrentVersionDays", d.noncurrent_version_days, 1, 365
        ),
        force_destroy=s.boolean("forceDestroy", d.force_destroy),
    )
    if storage.archive_glacier_days <= storage.archive_infrequent_access_days:
        raise ConfigError(
            f"{s.key}.archiveGlacierDays: expected more than archiveInfrequentAccessDays "
            f"({storage.archive_infrequent_access_days}), got {storage.archive_glacier_days}"
        )
    return s.finish(storage)


def _registry(s: _Section) -> RegistryConfig:
    d = RegistryConfig()
    return s.finish(
        RegistryConfig(
            untagged_image_days=s.integer("untaggedImageDays", d.untagged_image_days, 1, 365),
            max_images=s.integer("maxImages", d.max_images, 1, 10000),
            force_delete=s.boolean("forceDelete", d.force_delete),
            platform=s.string("platform", d.platform, allowed=("linux/amd64", "linux/arm64")),
            pinned_image=s.optional_string(
                "pinnedImage", pattern=r"[a-z0-9./:-]+@sha256:[0-9a-f]{64}"
            ),
        )
    )


def _kafka(s: _Section) -> KafkaConfig:
    d = KafkaConfig()
    brokers = s.integer("brokers", d.brokers, 1, 12)
    if brokers == 2:
        raise ConfigError(f"{s.key}.brokers: expected 1 (dev) or 3 and more, got 2")
    return s.finish(
        KafkaConfig(brokers=brokers, storage_gib=s.integer("storageGib", d.storage_gib, 10, 16384))
    )


def _mesh(s: _Section) -> MeshConfig:
    return s.finish(MeshConfig(enabled=s.boolean("enabled", MeshConfig().enabled)))


def _ingress(s: _Section) -> IngressConfig:
    d = IngressConfig()
    return s.finish(
        IngressConfig(
            domain=s.optional_string("domain", pattern=r"[a-z0-9]([a-z0-9.-]*[a-z0-9])?"),
            certificate_arn=s.optional_string("certificateArn", pattern=r"arn:aws[a-z-]*:acm:.+"),
            allowed_cidrs=s.cidrs("allowedCidrs", d.allowed_cidrs, allow_world=True),
        )
    )


def _observability(s: _Section) -> ObservabilityConfig:
    d = ObservabilityConfig()
    return s.finish(
        ObservabilityConfig(
            metrics_retention_days=s.integer(
                "metricsRetentionDays", d.metrics_retention_days, 1, 400
            ),
            logs_retention_days=s.integer("logsRetentionDays", d.logs_retention_days, 1, 400),
            traces_retention_days=s.integer("tracesRetentionDays", d.traces_retention_days, 1, 400),
        )
    )


_SECTIONS: Final[dict[str, Callable[[_Section], object]]] = {
    "cluster": _cluster,
    "database": _database,
    "cache": _cache,
    "storage": _storage,
    "registry": _registry,
    "kafka": _kafka,
    "mesh": _mesh,
    "ingress": _ingress,
    "observability": _observability,
}
_SCALARS: Final = ("environment", "owner", "costCenter")
KEYS: Final[tuple[str, ...]] = tuple(f"{NAMESPACE}:{k}" for k in (*_SCALARS, "network", *_SECTIONS))
"""Every `gamemetrics:` key the model reads (with `aws:region`)."""


def parse(values: Mapping[str, object]) -> StackConfig:
    """Build the model from `namespace:key` values (structured ones as objects or JSON text).

    Raises ConfigError naming the first missing or invalid key.
    """
    unknown = sorted(k for k in values if k.startswith(f"{NAMESPACE}:") and k not in KEYS)
    if unknown:
        raise ConfigError(f"{unknown[0]}: unknown key; allowed: {', '.join(KEYS)}")

    def required(key: str, what: str, pattern: str) -> str:
        value = values.get(key)
        if value is None or value == "":
            raise ConfigError(f"{key}: required, {what}")
        if not isinstance(value, str) or not re.fullmatch(pattern, value):
            raise ConfigError(f"{key}: expected {what}, got {_show(value)}")
        return value

    def section(name: str) -> _Section:
        key = f"{NAMESPACE}:{name}"
        raw = values.get(key)
        if isinstance(raw, str):
            try:
                raw = json.loads(raw)
            except json.JSONDecodeError:
                raise ConfigError(f"{key}: expected a mapping of settings, got {raw!r}") from None
        return _Section(key, raw)

    environment = required(
        f"{NAMESPACE}:environment", f"one of {', '.join(ENVIRONMENTS)}", "|".join(ENVIRONMENTS)
    )
    region = required("aws:region", "an AWS region such as eu-west-1", _REGION.pattern)
    tags = Tags(
        environment=cast(Environment, environment),
        owner=required(f"{NAMESPACE}:owner", "the owning team (a tag value)", _TAG_VALUE.pattern),
        cost_center=required(
            f"{NAMESPACE}:costCenter", "the cost center (a tag value)", _TAG_VALUE.pattern
        ),
    )
    parsed = {name: build(section(name)) for name, build in _SECTIONS.items()}
    _check_logs_retention(
        cast(ObservabilityConfig, parsed["observability"]), cast(StorageConfig, parsed["storage"])
    )
    return StackConfig(
        environment=tags.environment,
        region=region,
        tags=tags,
        network=_network(section("network"), region),
        cluster=cast(ClusterConfig, parsed["cluster"]),
        database=cast(DatabaseConfig, parsed["database"]),
        cache=cast(CacheConfig, parsed["cache"]),
        storage=cast(StorageConfig, parsed["storage"]),
        registry=cast(RegistryConfig, parsed["registry"]),
        kafka=cast(KafkaConfig, parsed["kafka"]),
        mesh=cast(MeshConfig, parsed["mesh"]),
        ingress=cast(IngressConfig, parsed["ingress"]),
        observability=cast(ObservabilityConfig, parsed["observability"]),
    )


def _check_logs_retention(observability: ObservabilityConfig, storage: StorageConfig) -> None:
    """Loki keeps its chunks and index in the logs bucket: the bucket must not expire them first."""
    if observability.logs_retention_days > storage.logs_retention_days:
        raise ConfigError(
            f"{NAMESPACE}:observability.logsRetentionDays: expected at most "
            f"{NAMESPACE}:storage.logsRetentionDays ({storage.logs_retention_days}: the logs "
            f"bucket, where Loki stores, expires objects then), got "
            f"{observability.logs_retention_days}"
        )


def read_stack_file(path: Path) -> dict[str, object]:
    """The `config:` mapping of a Pulumi.<stack>.yaml file, keys as written (`ns:key`)."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigError(f"{path}: cannot read the stack configuration ({e.strerror})") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML ({e})") from None
    if document is None:
        document = {}
    if not isinstance(document, dict) or not isinstance(document.get("config", {}), dict):
        raise ConfigError(f"{path}: expected a mapping with a `config:` mapping inside")
    config = document.get("config") or {}
    return {str(k): v for k, v in config.items()}


def from_file(path: Path) -> StackConfig:
    """The model of a file in the Pulumi.<stack>.yaml format (the offline plan's input)."""
    try:
        return parse(read_stack_file(path))
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None


def from_pulumi() -> StackConfig:
    """The model of the running stack's Pulumi config (call once, in stacks/__main__.py)."""
    import pulumi.runtime.config as runtime_config

    values: dict[str, object] = {}
    values.update(runtime_config.get_config_env() or {})
    values.update(runtime_config.CONFIG.get())
    for key in ("aws:region", *KEYS):
        value = runtime_config.get_config(key)
        if value is not None:
            values[key] = value
    return parse(values)
