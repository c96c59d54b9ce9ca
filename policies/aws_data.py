"""Data stores: RDS for PostgreSQL and ElastiCache for Redis.

Encrypted, private, backed up and (where the stack asks for it) spread over
zones. Multi-AZ, deletion protection and the backup window are advisory in
dev (policies/config/dev.json): dev's database is one disposable instance.
"""

from typing import Final

from pulumi_policy import ReportViolation, ResourceValidationArgs, StackValidationArgs

from policies.aws_network import SECURITY_GROUP, ingress_sources, public_subnets
from policies.support import (
    WORLD,
    about,
    about_resource,
    config_number,
    dependencies_of_type,
    has,
    is_true,
    number,
    of_type,
    resource_policy,
    show,
    stack_policy,
    strings,
)

RDS_INSTANCE: Final = "aws:rds/instance:Instance"
RDS_CLUSTER: Final = "aws:rds/cluster:Cluster"
RDS_CLUSTER_INSTANCE: Final = "aws:rds/clusterInstance:ClusterInstance"
CACHE_GROUP: Final = "aws:elasticache/replicationGroup:ReplicationGroup"
CACHE_CLUSTER: Final = "aws:elasticache/cluster:Cluster"
CACHE_SUBNET_GROUP: Final = "aws:elasticache/subnetGroup:SubnetGroup"
SUBNET: Final = "aws:ec2/subnet:Subnet"
MINIMUM_BACKUP_DAYS: Final = 7


def _is_replica(args: ResourceValidationArgs) -> bool:
    return has(args.props, "replicateSourceDb") and bool(args.props["replicateSourceDb"])


def rds_storage_encrypted(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type not in (RDS_INSTANCE, RDS_CLUSTER):
        return
    value = args.props.get("storageEncrypted")
    # A read replica inherits its source's encryption unless told otherwise.
    if is_true(value) or (
        args.resource_type == RDS_INSTANCE and _is_replica(args) and value is None
    ):
        return
    report(
        f"{about(args)} is not encrypted at rest (storageEncrypted: {show(value)}). "
        "Fix: set storageEncrypted: true with kmsKeyId of a customer-managed KMS key; "
        "an existing database is encrypted by restoring an encrypted snapshot copy.",
        None,
    )


def rds_not_publicly_accessible(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type not in (RDS_INSTANCE, RDS_CLUSTER_INSTANCE):
        return
    if is_true(args.props.get("publiclyAccessible")):
        report(
            f"{about(args)} is publicly accessible (publiclyAccessible: true). Fix: set "
            "publiclyAccessible: false and keep it in the isolated subnets; clients reach it "
            "from inside the VPC.",
            None,
        )


def rds_backup_retention(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type not in (RDS_INSTANCE, RDS_CLUSTER) or (
        args.resource_type == RDS_INSTANCE and _is_replica(args)
    ):
        return
    minimum = config_number(args.get_config(), "minimumDays", MINIMUM_BACKUP_DAYS)
    value = args.props.get("backupRetentionPeriod")
    days = number(value)
    if days is None or days < minimum:
        report(
            f"{about(args)} keeps automated backups for {show(value)} day(s) "
            f"(backupRetentionPeriod), less than {show(minimum)}: point-in-time recovery cannot "
            "reach back a week. "
            f"Fix: set backupRetentionPeriod to at least {show(minimum)} "
            "(gamemetrics:database.backupRetentionDays).",
            None,
        )


def rds_multi_az(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != RDS_INSTANCE or _is_replica(args):
        return
    value = args.props.get("multiAz")
    if not is_true(value):
        report(
            f"{about(args)} runs in one availability zone (multiAz: {show(value)}): a zone "
            "outage stops the database. Fix: set multiAz: true (gamemetrics:database.multiAz).",
            None,
        )


def rds_deletion_protection(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type not in (RDS_INSTANCE, RDS_CLUSTER):
        return
    value = args.props.get("deletionProtection")
    if not is_true(value):
        report(
            f"{about(args)} can be deleted by one command (deletionProtection: {show(value)}). "
            "Fix: set deletionProtection: true (gamemetrics:database.deletionProtection).",
            None,
        )


def elasticache_encrypted_at_rest(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type == CACHE_CLUSTER and not args.props.get("replicationGroupId"):
        report(
            f"{about(args)} is a standalone cache node, which cannot encrypt its data at rest. "
            "Fix: declare an aws.elasticache.ReplicationGroup with atRestEncryptionEnabled: true.",
            None,
        )
        return
    if args.resource_type != CACHE_GROUP:
        return
    value = args.props.get("atRestEncryptionEnabled")
    if not is_true(value):
        report(
            f"{about(args)} is not encrypted at rest (atRestEncryptionEnabled: {show(value)}). "
            "Fix: set atRestEncryptionEnabled: true and kmsKeyId to a customer-managed key "
            "(the group is replaced).",
            None,
        )


def elasticache_encrypted_in_transit(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != CACHE_GROUP:
        return
    enabled = args.props.get("transitEncryptionEnabled")
    mode = args.props.get("transitEncryptionMode")
    if not is_true(enabled):
        report(
            f"{about(args)} accepts plaintext connections (transitEncryptionEnabled: "
            f"{show(enabled)}). Fix: set transitEncryptionEnabled: true and "
            "transitEncryptionMode: required, with an authToken; clients connect with rediss://.",
            None,
        )
    elif mode == "preferred":
        report(
            f"{about(args)} still accepts plaintext connections (transitEncryptionMode: "
            "preferred). Fix: set transitEncryptionMode: required once every client uses TLS.",
            None,
        )


def elasticache_multi_az(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != CACHE_GROUP:
        return
    props = args.props
    nodes = number(props.get("numCacheClusters"))
    if nodes is None:
        groups = number(props.get("numNodeGroups")) or 1
        nodes = groups * (1 + (number(props.get("replicasPerNodeGroup")) or 0))
    missing = []
    if not is_true(props.get("automaticFailoverEnabled")):
        missing.append("automaticFailoverEnabled: true")
    if not is_true(props.get("multiAzEnabled")):
        missing.append("multiAzEnabled: true")
    if nodes < 2:
        missing.append("a replica (numCacheClusters >= 2)")
    if missing:
        report(
            f"{about(args)} does not survive the loss of its node or zone: it needs "
            f"{', '.join(missing)}. Fix: set them (gamemetrics:cache.replicas >= 1, "
            "gamemetrics:cache.multiAz: true).",
            None,
        )


def elasticache_not_public(args: StackValidationArgs, report: ReportViolation) -> None:
    resources = args.resources
    exposed = public_subnets(resources)
    for group in of_type(resources, CACHE_GROUP):
        problems = []
        if not group.props.get("subnetGroupName"):
            problems.append("it names no subnet group, so it lands in the default VPC's subnets")
        if not strings(group.props.get("securityGroupIds")) and not group.props.get(
            "securityGroupNames"
        ):
            problems.append("it names no security group, so it gets the VPC's default one")
        for sg in dependencies_of_type(group, SECURITY_GROUP):
            for source, ports in ingress_sources(sg, resources):
                if source in WORLD:
                    problems.append(f"its security group {sg.name} admits {source} on {ports}")
        for subnet_group in dependencies_of_type(group, CACHE_SUBNET_GROUP):
            public = [
                s.name for s in dependencies_of_type(subnet_group, SUBNET) if s.urn in exposed
            ]
            if public:
                problems.append(f"its subnet group {subnet_group.name} has public subnets {public}")
        if problems:
            report(
                f"{about_resource(group)} is reachable from outside the VPC: "
                f"{'; '.join(problems)}. Fix: place it in the isolated subnets with a security "
                "group that admits only the VPC's private ranges.",
                group.urn,
            )


POLICIES: Final = [
    resource_policy(
        "rds-storage-encrypted",
        "RDS databases are encrypted at rest with KMS.",
        rds_storage_encrypted,
    ),
    resource_policy(
        "rds-not-publicly-accessible",
        "RDS databases are never publicly accessible.",
        rds_not_publicly_accessible,
    ),
    resource_policy(
        "rds-backup-retention",
        "RDS databases keep automated backups (point-in-time recovery) for at least a week.",
        rds_backup_retention,
        {"minimumDays": {"type": "integer", "minimum": 1, "default": MINIMUM_BACKUP_DAYS}},
    ),
    resource_policy(
        "rds-multi-az",
        "RDS databases run Multi-AZ (a standby in another zone).",
        rds_multi_az,
    ),
    resource_policy(
        "rds-deletion-protection",
        "RDS databases have deletion protection.",
        rds_deletion_protection,
    ),
    resource_policy(
        "elasticache-encrypted-at-rest",
        "ElastiCache data is encrypted at rest with KMS.",
        elasticache_encrypted_at_rest,
    ),
    resource_policy(
        "elasticache-encrypted-in-transit",
        "ElastiCache accepts TLS connections only.",
        elasticache_encrypted_in_transit,
    ),
    resource_policy(
        "elasticache-multi-az",
        "ElastiCache replication groups fail over automatically to a replica in another zone.",
        elasticache_multi_az,
    ),
    stack_policy(
        "elasticache-not-public",
        "ElastiCache is reachable only from inside the VPC.",
        elasticache_not_public,
    ),
]
