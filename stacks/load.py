"""Building the stack configuration (stacks/config.py) from Pulumi config or a stack file.

Each section has its reader below; `parse` checks the keys and what spans
sections, and names the first missing or invalid key in a ConfigError.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Final, cast

import yaml

from apps.core.database import POSTGRES_MAJOR
from infra.archive_catalog import AthenaConfig
from infra.cache import CacheConfig
from infra.cluster import POOL_LABEL, CapacityType, NodeGroupConfig
from infra.database import DatabaseConfig
from infra.kubernetes.placement import Taint, TaintEffect
from infra.network import NatGateways
from infra.registry import RegistryConfig
from infra.storage import StorageConfig
from stacks.config import (
    ENVIRONMENTS,
    NAMESPACE,
    ClusterConfig,
    Environment,
    IngressConfig,
    KafkaConfig,
    MeshConfig,
    NetworkConfig,
    ObservabilityConfig,
    StackConfig,
    Tags,
)
from stacks.errors import ConfigError
from stacks.reader import Section, show

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


def _network(s: Section, region: str) -> NetworkConfig:
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


def _node_group(s: Section) -> NodeGroupConfig:
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


def _taint(s: Section) -> Taint:
    effects = ("NoSchedule", "PreferNoSchedule", "NoExecute")
    taint = Taint(
        key=s.string("key", "", pattern=_LABEL_KEY),
        value=s.string("value", "", pattern=_LABEL_NAME),
        effect=cast(TaintEffect, s.string("effect", "NoSchedule", allowed=effects)),
    )
    for name, value in (("key", taint.key), ("value", taint.value)):
        if not value:
            raise ConfigError(f"{s.key}.{name}: required, a label {name} such as {POOL_LABEL}")
    return s.finish(taint)


def _cluster(s: Section) -> ClusterConfig:
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


def _database(s: Section) -> DatabaseConfig:
    d = DatabaseConfig()
    db = DatabaseConfig(
        instance_class=s.string(
            "instanceClass", d.instance_class, pattern=r"db\.[a-z0-9]+\.[a-z0-9]+"
        ),
        engine_version=s.string("engineVersion", d.engine_version, pattern=r"[1-9]\d(\.\d+)?"),
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
    if int(db.major_version) < POSTGRES_MAJOR:
        raise ConfigError(
            f"{s.key}.engineVersion: expected PostgreSQL {POSTGRES_MAJOR} or newer (the "
            f"processor's SQL returns old and new rows of an upsert), got {db.engine_version!r}"
        )
    if db.max_allocated_storage_gib < db.allocated_storage_gib:
        raise ConfigError(
            f"{s.key}.maxAllocatedStorageGib: expected at least allocatedStorageGib "
            f"({db.allocated_storage_gib}), got {db.max_allocated_storage_gib}"
        )
    return s.finish(db)


def _cache(s: Section) -> CacheConfig:
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


def _storage(s: Section) -> StorageConfig:
    d = StorageConfig()
    storage = StorageConfig(
        archive_infrequent_access_days=s.integer(
            "archiveInfrequentAccessDays", d.archive_infrequent_access_days, 30, 3650
        ),
        archive_glacier_ir_days=s.integer(
            "archiveGlacierIrDays", d.archive_glacier_ir_days, 60, 3650
        ),
        backups_retention_days=s.integer("backupsRetentionDays", d.backups_retention_days, 1, 3650),
        logs_retention_days=s.integer("logsRetentionDays", d.logs_retention_days, 1, 3650),
        noncurrent_version_days=s.integer(
            "noncurrentVersionDays", d.noncurrent_version_days, 1, 365
        ),
        force_destroy=s.boolean("forceDestroy", d.force_destroy),
    )
    # S3 refuses a transition out of STANDARD_IA sooner than 30 days after the one into it.
    earliest = storage.archive_infrequent_access_days + 30
    if storage.archive_glacier_ir_days < earliest:
        raise ConfigError(
            f"{s.key}.archiveGlacierIrDays: expected at least archiveInfrequentAccessDays + 30 "
            f"({earliest}), got {storage.archive_glacier_ir_days}"
        )
    return s.finish(storage)


def _registry(s: Section) -> RegistryConfig:
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


def _kafka(s: Section) -> KafkaConfig:
    d = KafkaConfig()
    brokers = s.integer("brokers", d.brokers, 1, 12)
    if brokers == 2:
        raise ConfigError(f"{s.key}.brokers: expected 1 (dev) or 3 and more, got 2")
    return s.finish(
        KafkaConfig(brokers=brokers, storage_gib=s.integer("storageGib", d.storage_gib, 10, 16384))
    )


def _mesh(s: Section) -> MeshConfig:
    return s.finish(MeshConfig(enabled=s.boolean("enabled", MeshConfig().enabled)))


def _ingress(s: Section) -> IngressConfig:
    d = IngressConfig()
    return s.finish(
        IngressConfig(
            domain=s.optional_string("domain", pattern=r"[a-z0-9]([a-z0-9.-]*[a-z0-9])?"),
            certificate_arn=s.optional_string("certificateArn", pattern=r"arn:aws[a-z-]*:acm:.+"),
            allowed_cidrs=s.cidrs("allowedCidrs", d.allowed_cidrs, allow_world=True),
        )
    )


def _observability(s: Section) -> ObservabilityConfig:
    d = ObservabilityConfig()
    return s.finish(
        ObservabilityConfig(
            metrics_retention_days=s.integer(
                "metricsRetentionDays", d.metrics_retention_days, 1, 400
            ),
            logs_retention_days=s.integer("logsRetentionDays", d.logs_retention_days, 1, 400),
            traces_retention_days=s.integer("tracesRetentionDays", d.traces_retention_days, 1, 400),
            monitoring_replicas=s.integer("monitoringReplicas", d.monitoring_replicas, 1, 5),
        )
    )


def _athena(s: Section) -> AthenaConfig:
    d = AthenaConfig()
    return s.finish(
        AthenaConfig(
            # Athena's floor is 10 MiB; a petabyte-scale scan is never one analyst's question.
            bytes_scanned_cutoff_gib=s.integer(
                "bytesScannedCutoffGib", d.bytes_scanned_cutoff_gib, 1, 1_048_576
            ),
            results_retention_days=s.integer(
                "resultsRetentionDays", d.results_retention_days, 1, 365
            ),
        )
    )


_SECTIONS: Final[dict[str, Callable[[Section], object]]] = {
    "cluster": _cluster,
    "database": _database,
    "cache": _cache,
    "storage": _storage,
    "registry": _registry,
    "kafka": _kafka,
    "mesh": _mesh,
    "ingress": _ingress,
    "observability": _observability,
    "athena": _athena,
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
            raise ConfigError(f"{key}: expected {what}, got {show(value)}")
        return value

    def section(name: str) -> Section:
        key = f"{NAMESPACE}:{name}"
        raw = values.get(key)
        if isinstance(raw, str):
            try:
                raw = json.loads(raw)
            except json.JSONDecodeError:
                raise ConfigError(f"{key}: expected a mapping of settings, got {raw!r}") from None
        return Section(key, raw)

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
        athena=cast(AthenaConfig, parsed["athena"]),
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
