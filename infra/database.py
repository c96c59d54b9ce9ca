"""Database: RDS for PostgreSQL in the isolated subnets, never public.

Storage, Performance Insights and the credentials secret are encrypted with
one customer-managed key. The master password is generated (a Pulumi
secret, never in the stack configuration) and kept with the endpoint in a
Secrets Manager secret, which the services read through IRSA. Connections
must use TLS (rds.force_ssl); pg_stat_statements is loaded and slow
statements, locks, temp files and connections are logged to CloudWatch.
Backups (and so point-in-time recovery), Multi-AZ, deletion protection and
read replicas follow the stack.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from apps.core.database import POSTGRES_MAJOR
from infra.datastore import client_security_group, json_secret
from infra.kms import encryption_key
from infra.outputs import secret


@dataclass(frozen=True, slots=True)
class DatabaseConfig:
    instance_class: str = "db.m7g.large"
    engine_version: str = str(POSTGRES_MAJOR)
    """The major, or major.minor; at least apps.core.database.POSTGRES_MAJOR (checked when the
    stack configuration is read)."""
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


PORT = 5432
DATABASE_NAME = "gamemetrics"
MASTER_USER = "gamemetrics_admin"

PARAMETERS: Mapping[str, tuple[str, str]] = {
    # name: (value, apply method); static parameters need a reboot to apply.
    "shared_preload_libraries": ("pg_stat_statements", "pending-reboot"),
    "pg_stat_statements.track": ("top", "immediate"),
    "pg_stat_statements.max": ("10000", "pending-reboot"),
    "track_io_timing": ("1", "immediate"),
    "rds.force_ssl": ("1", "immediate"),
    "log_min_duration_statement": ("500", "immediate"),
    "log_lock_waits": ("1", "immediate"),
    "log_temp_files": ("0", "immediate"),
    "log_connections": ("1", "immediate"),
    "log_disconnections": ("1", "immediate"),
    "log_autovacuum_min_duration": ("1000", "immediate"),
    "log_statement": ("ddl", "immediate"),
}


@dataclass
class DatabaseArgs:
    name_prefix: str
    settings: DatabaseConfig
    vpc_id: pulumi.Input[str]
    subnet_ids: Sequence[pulumi.Input[str]]
    """The isolated subnets."""
    client_cidrs: Sequence[str]
    """Who may connect (the private subnets, where the pods run)."""
    tags: Mapping[str, str]


class Database(pulumi.ComponentResource):
    address: pulumi.Output[str]
    port: int
    database_name: str
    reader_addresses: list[pulumi.Output[str]]
    secret_arn: pulumi.Output[str]
    """Secrets Manager: {"username", "password", "host", "port", "dbname"}."""
    kms_key_arn: pulumi.Output[str]
    """Decrypting the secret needs kms:Decrypt on this key."""
    password: pulumi.Output[str]

    def __init__(
        self, name: str, args: DatabaseArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("gamemetrics:infra:Database", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        cfg = args.settings
        tags = dict(args.tags)
        prefix = args.name_prefix

        key = encryption_key(
            f"{name}-key",
            alias=f"{prefix}/database",
            description=f"{prefix}: PostgreSQL storage, Performance Insights and credentials",
            tags=tags,
            parent=self,
        )
        subnets = aws.rds.SubnetGroup(
            f"{name}-subnets",
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
            description=f"{prefix}: PostgreSQL from the private subnets only",
            rule="PostgreSQL from the pods",
            tags=tags,
            opts=child,
        )
        parameters = aws.rds.ParameterGroup(
            f"{name}-params",
            family=f"postgres{cfg.major_version}",
            description=f"{prefix}: pg_stat_statements, TLS only, logging",
            parameters=[
                aws.rds.ParameterGroupParameterArgs(name=k, value=v, apply_method=method)
                for k, (v, method) in PARAMETERS.items()
            ],
            tags=tags,
            opts=child,
        )
        password = random.RandomPassword(
            f"{name}-password",
            length=40,
            special=True,
            override_special="-_.~",  # RDS refuses / @ " and spaces
            opts=child,
        )
        self.password = secret(password.result)

        def instance(resource: str, identifier: str, **specific: Any) -> aws.rds.Instance:
            """What the primary and its replicas share: size, encryption, privacy, insight."""
            return aws.rds.Instance(
                resource,
                identifier=identifier,
                instance_class=cfg.instance_class,
                storage_type="gp3",
                storage_encrypted=True,
                kms_key_id=key.arn,
                publicly_accessible=False,
                vpc_security_group_ids=[security_group.id],
                parameter_group_name=parameters.name,
                performance_insights_enabled=True,
                performance_insights_kms_key_id=key.arn,
                performance_insights_retention_period=cfg.performance_insights_retention_days,
                enabled_cloudwatch_logs_exports=["postgresql", "upgrade"],
                auto_minor_version_upgrade=True,
                copy_tags_to_snapshot=True,
                deletion_protection=cfg.deletion_protection,
                tags=tags,
                opts=child,
                **specific,
            )

        primary = instance(
            f"{name}-primary",
            f"{prefix}-postgres",
            engine="postgres",
            engine_version=cfg.engine_version,
            db_name=DATABASE_NAME,
            username=MASTER_USER,
            password=self.password,
            allocated_storage=cfg.allocated_storage_gib,
            max_allocated_storage=cfg.max_allocated_storage_gib,
            db_subnet_group_name=subnets.name,
            multi_az=cfg.multi_az,
            backup_retention_period=cfg.backup_retention_days,
            backup_window="02:00-03:00",
            maintenance_window="sun:03:30-sun:04:30",
            iam_database_authentication_enabled=True,
            skip_final_snapshot=not cfg.final_snapshot,
            final_snapshot_identifier=f"{prefix}-postgres-final" if cfg.final_snapshot else None,
            apply_immediately=False,
        )
        # Replicas live in the primary's subnet group and take no backups of their own.
        replicas = [
            instance(
                f"{name}-replica-{i}",
                f"{prefix}-postgres-replica-{i}",
                replicate_source_db=primary.identifier,
                skip_final_snapshot=True,
            )
            for i in range(cfg.read_replicas)
        ]

        credentials = json_secret(
            f"{name}-credentials",
            name=f"{prefix}/postgres/master",
            description=f"{prefix}: PostgreSQL master credentials and endpoint",
            kms_key_arn=key.arn,
            values=[self.password, primary.address],
            document=lambda v: {
                "username": MASTER_USER,
                "password": v[0],
                "host": v[1],
                "port": PORT,
                "dbname": DATABASE_NAME,
            },
            recovery_window_in_days=7 if cfg.deletion_protection else 0,
            tags=tags,
            opts=child,
        )

        self.address = primary.address
        self.port = PORT
        self.database_name = DATABASE_NAME
        self.reader_addresses = [r.address for r in replicas]
        self.secret_arn = credentials.arn
        self.kms_key_arn = key.arn
        self.register_outputs(
            {
                "address": self.address,
                "reader_addresses": self.reader_addresses,
                "secret_arn": self.secret_arn,
                "kms_key_arn": self.kms_key_arn,
            }
        )
