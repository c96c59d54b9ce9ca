"""What the services need from the AWS side, as plain values and Outputs.

The AWS components (database, cache, storage, cluster) produce these; the Kubernetes
components only read them. Connection URLs are built here, once, as Pulumi secrets.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import quote

import pulumi


@dataclass(frozen=True)
class PostgresEndpoint:
    host: pulumi.Input[str]
    password: pulumi.Input[str]
    """The generated master (or application) password: a Pulumi secret."""
    port: int = 5432
    database: str = "gamemetrics"
    username: str = "gamemetrics"
    secret_arn: pulumi.Input[str] | None = None
    """Secrets Manager secret holding the same password (for rotation tooling, not the pods)."""

    def dsn(self) -> pulumi.Output[str]:
        """libpq URL with TLS required (RDS enforces it with rds.force_ssl)."""
        url = pulumi.Output.all(self.host, self.password).apply(
            lambda v: (
                f"postgresql://{quote(self.username, safe='')}:{quote(str(v[1]), safe='')}"
                f"@{v[0]}:{self.port}/{self.database}?sslmode=require"
            )
        )
        return pulumi.Output.secret(url)


@dataclass(frozen=True)
class RedisEndpoint:
    host: pulumi.Input[str]
    auth_token: pulumi.Input[str]
    """ElastiCache AUTH token: a Pulumi secret."""
    port: int = 6379

    def url(self) -> pulumi.Output[str]:
        """`rediss://` because ElastiCache runs with in-transit encryption."""
        url = pulumi.Output.all(self.host, self.auth_token).apply(
            lambda v: f"rediss://:{quote(str(v[1]), safe='')}@{v[0]}:{self.port}/0"
        )
        return pulumi.Output.secret(url)


@dataclass(frozen=True)
class ObjectStorage:
    buckets: Mapping[str, pulumi.Input[str]]
    """Bucket names by role (archive, backups, logs)."""
    kms_key_arn: pulumi.Input[str] | None = None
    """The key the buckets are encrypted with (SSE-KMS): readers and writers need it.
    Which service reaches which bucket is its declaration's `s3_access`."""


@dataclass(frozen=True)
class Irsa:
    """The cluster's OIDC provider, for IAM roles assumed by service accounts."""

    oidc_provider_arn: pulumi.Input[str]
    oidc_provider_url: pulumi.Input[str]
    """The issuer URL, with or without `https://`."""


@dataclass(frozen=True)
class EksCluster:
    """The cluster itself, for the add-ons that manage AWS resources on its behalf."""

    name: pulumi.Input[str]
    region: str
    vpc_id: pulumi.Input[str]
    """Given explicitly: pods cannot read it from the instance metadata (hop limit 1)."""
    volumes_kms_key_arn: pulumi.Input[str] | None = None
    """The key of the EBS volumes the gp3 StorageClass creates; None: the EBS default key."""


@dataclass(frozen=True)
class Backends:
    """Everything outside the cluster that services connect to."""

    vpc_cidr: pulumi.Input[str]
    """Where RDS and ElastiCache live: the egress NetworkPolicies allow only their ports there."""
    postgres: PostgresEndpoint | None = None
    redis: RedisEndpoint | None = None
    storage: ObjectStorage | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags for AWS resources created on the Kubernetes side (the IRSA roles)."""
