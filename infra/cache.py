"""Cache: an ElastiCache for Redis replication group in the isolated subnets.

Encrypted at rest (customer-managed key) and in transit (TLS required), with
a generated AUTH token kept as a Pulumi secret and in Secrets Manager. With
replicas and Multi-AZ (staging, prod) the primary fails over automatically
to a replica in another zone.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from infra.datastore import client_security_group, json_secret
from infra.kms import encryption_key
from infra.outputs import secret


@dataclass(frozen=True, slots=True)
class CacheConfig:
    node_type: str = "cache.m7g.large"
    engine_version: str = "7.1"
    replicas: int = 1
    """Read replicas beside the primary (the replication group has 1 + replicas nodes)."""
    multi_az: bool = True
    snapshot_retention_days: int = 7


PORT = 6379


@dataclass
class CacheArgs:
    name_prefix: str
    settings: CacheConfig
    vpc_id: pulumi.Input[str]
    subnet_ids: Sequence[pulumi.Input[str]]
    """The isolated subnets."""
    client_cidrs: Sequence[str]
    """Who may connect (the private subnets, where the pods run)."""
    tags: Mapping[str, str]


class Cache(pulumi.ComponentResource):
    primary_address: pulumi.Output[str]
    reader_address: pulumi.Output[str]
    port: int
    auth_token: pulumi.Output[str]
    """The AUTH token (a Pulumi secret)."""
    auth_secret_arn: pulumi.Output[str]
    """Secrets Manager: {"auth_token", "host", "port", "tls": true}."""
    kms_key_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: CacheArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("gamemetrics:infra:Cache", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        cfg = args.settings
        tags = dict(args.tags)
        prefix = args.name_prefix

        key = encryption_key(
            f"{name}-key",
            alias=f"{prefix}/cache",
            description=f"{prefix}: Redis data at rest and its AUTH token",
            tags=tags,
            parent=self,
        )
        subnets = aws.elasticache.SubnetGroup(
            f"{name}-subnets",
            name=f"{prefix}-redis",
            description=f"{prefix}: isolated subnets",
            subnet_ids=list(args.subnet_ids),
            tags=tags,
            opts=child,
        )
        security_group = client_security_group(
            f"{name}-sg",
            vpc_id=args.vpc_id,
            port=PORT,
            client_cidrs=args.client_cidrs,
            description=f"{prefix}: Redis from the private subnets only",
            rule="Redis (TLS) from the pods",
            tags=tags,
            opts=child,
        )
        token = random.RandomPassword(f"{name}-auth-token", length=64, special=False, opts=child)
        auth_token = secret(token.result)

        failover = cfg.replicas > 0 and cfg.multi_az
        group = aws.elasticache.ReplicationGroup(
            f"{name}-redis",
            replication_group_id=f"{prefix}-redis",
            description=f"{prefix}: rate limits, key lookups and the analytics cache",
            engine="redis",
            engine_version=cfg.engine_version,
            node_type=cfg.node_type,
            num_cache_clusters=1 + cfg.replicas,
            port=PORT,
            automatic_failover_enabled=failover,
            multi_az_enabled=failover,
            at_rest_encryption_enabled=True,
            kms_key_id=key.arn,
            transit_encryption_enabled=True,
            transit_encryption_mode="required",
            auth_token=auth_token,
            subnet_group_name=subnets.name,
            security_group_ids=[security_group.id],
            snapshot_retention_limit=cfg.snapshot_retention_days,
            snapshot_window="01:00-02:00",
            maintenance_window="sun:04:30-sun:05:30",
            auto_minor_version_upgrade=True,
            apply_immediately=False,
            tags=tags,
            opts=child,
        )
        credentials = json_secret(
            f"{name}-auth-token",
            name=f"{prefix}/redis/auth",
            description=f"{prefix}: Redis AUTH token and endpoint",
            kms_key_arn=key.arn,
            values=[auth_token, group.primary_endpoint_address],
            document=lambda v: {"auth_token": v[0], "host": v[1], "port": PORT, "tls": True},
            tags=tags,
            opts=child,
        )

        self.primary_address = group.primary_endpoint_address
        self.reader_address = group.reader_endpoint_address
        self.port = PORT
        self.auth_token = auth_token
        self.auth_secret_arn = credentials.arn
        self.kms_key_arn = key.arn
        self.register_outputs(
            {
                "primary_address": self.primary_address,
                "reader_address": self.reader_address,
                "auth_secret_arn": self.auth_secret_arn,
                "kms_key_arn": self.kms_key_arn,
            }
        )
