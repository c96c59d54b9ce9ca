"""RDS and ElastiCache: a compliant and a non-compliant case per policy, exact messages."""

import pytest

from policies.offline import EngineResource, OfflineAnalyzer
from tests.policies.harness import Case, check, res

RDS = "aws:rds/instance:Instance"
AURORA = "aws:rds/cluster:Cluster"
REDIS = "aws:elasticache/replicationGroup:ReplicationGroup"
SAFE_DB = {
    "storageEncrypted": True,
    "publiclyAccessible": False,
    "backupRetentionPeriod": 14,
    "multiAz": True,
    "deletionProtection": True,
}
REPLICA = {"replicateSourceDb": "primary", "deletionProtection": True}
SAFE_REDIS = {
    "atRestEncryptionEnabled": True,
    "transitEncryptionEnabled": True,
    "transitEncryptionMode": "required",
    "automaticFailoverEnabled": True,
    "multiAzEnabled": True,
    "numCacheClusters": 2,
    "subnetGroupName": "redis",
    "securityGroupIds": ["sg-1"],
}
DB = f'{RDS} "db"'
GROUP = f'{REDIS} "redis"'


def _private_network() -> dict[str, EngineResource]:
    subnet = res("aws:ec2/subnet:Subnet", "private-a", {"availabilityZone": "eu-west-1a"})
    sg = res(
        "aws:ec2/securityGroup:SecurityGroup",
        "redis-sg",
        {
            "ingress": [
                {"protocol": "tcp", "fromPort": 6379, "toPort": 6379, "cidrBlocks": ["10.0.0.0/16"]}
            ]
        },
    )
    group = res("aws:elasticache/subnetGroup:SubnetGroup", "redis-subnets", deps=[subnet])
    return {"subnet": subnet, "sg": sg, "group": group}


def _not_public_case() -> Case:
    good = _private_network()
    public_subnet = res(
        "aws:ec2/subnet:Subnet",
        "public-a",
        {"availabilityZone": "eu-west-1a", "mapPublicIpOnLaunch": True},
    )
    open_sg = res(
        "aws:ec2/securityGroup:SecurityGroup",
        "open-sg",
        {
            "ingress": [
                {"protocol": "tcp", "fromPort": 6379, "toPort": 6379, "cidrBlocks": ["0.0.0.0/0"]}
            ]
        },
    )
    public_group = res(
        "aws:elasticache/subnetGroup:SubnetGroup", "public-subnets", deps=[public_subnet]
    )
    exposed = res(REDIS, "exposed", SAFE_REDIS, deps=[open_sg, public_group])
    bare = res(
        REDIS,
        "bare",
        {k: v for k, v in SAFE_REDIS.items() if k not in ("subnetGroupName", "securityGroupIds")},
    )
    fix = (
        "Fix: place it in the isolated subnets with a security group that admits only the VPC's "
        "private ranges."
    )
    return Case(
        "elasticache-not-public",
        good=[*good.values(), res(REDIS, "redis", SAFE_REDIS, deps=[good["sg"], good["group"]])],
        bad=[public_subnet, open_sg, public_group, exposed, bare],
        expected=[
            (
                "exposed",
                f'{REDIS} "exposed" is reachable from outside the VPC: its security group open-sg '
                "admits 0.0.0.0/0 on tcp 6379; its subnet group public-subnets has public subnets "
                f"['public-a']. {fix}",
            ),
            (
                "bare",
                f'{REDIS} "bare" is reachable from outside the VPC: it names no subnet group, so '
                "it "
                "lands in the default VPC's subnets; it names no security group, so it gets the "
                f"VPC's default one. {fix}",
            ),
        ],
    )


CASES = [
    Case(
        "rds-storage-encrypted",
        good=[res(RDS, "db", SAFE_DB), res(RDS, "replica", REPLICA)],
        bad=[
            res(RDS, "db", {**SAFE_DB, "storageEncrypted": False}),
            res(AURORA, "aurora", {"deletionProtection": True}),
        ],
        expected=[
            (
                "db",
                f"{DB} is not encrypted at rest (storageEncrypted: false). Fix: set "
                "storageEncrypted: true with kmsKeyId of a customer-managed KMS key; an existing "
                "database is encrypted by restoring an encrypted snapshot copy.",
            ),
            (
                "aurora",
                f'{AURORA} "aurora" is not encrypted at rest (storageEncrypted: not set). Fix: set '
                "storageEncrypted: true with kmsKeyId of a customer-managed KMS key; an existing "
                "database is encrypted by restoring an encrypted snapshot copy.",
            ),
        ],
    ),
    Case(
        "rds-not-publicly-accessible",
        good=[res(RDS, "db", SAFE_DB)],
        bad=[res(RDS, "db", {**SAFE_DB, "publiclyAccessible": True})],
        expected=[
            (
                "db",
                f"{DB} is publicly accessible (publiclyAccessible: true). Fix: set "
                "publiclyAccessible: false and keep it in the isolated subnets; clients reach it "
                "from inside the VPC.",
            )
        ],
    ),
    Case(
        "rds-backup-retention",
        good=[
            res(RDS, "db", {**SAFE_DB, "backupRetentionPeriod": 7}),
            res(RDS, "replica", REPLICA),
        ],
        bad=[res(RDS, "db", {**SAFE_DB, "backupRetentionPeriod": 1})],
        expected=[
            (
                "db",
                f"{DB} keeps automated backups for 1 day(s) (backupRetentionPeriod), less than 7: "
                "point-in-time recovery cannot reach back a week. Fix: set backupRetentionPeriod "
                "to at least 7 (gamemetrics:database.backupRetentionDays).",
            )
        ],
    ),
    Case(
        "rds-backup-retention",
        id="configured",
        config={"minimumDays": 14},
        good=[res(RDS, "db", SAFE_DB)],
        bad=[res(RDS, "db", {**SAFE_DB, "backupRetentionPeriod": 7})],
        expected=[
            (
                "db",
                f"{DB} keeps automated backups for 7 day(s) (backupRetentionPeriod), less than 14: "
                "point-in-time recovery cannot reach back a week. Fix: set backupRetentionPeriod "
                "to at least 14 (gamemetrics:database.backupRetentionDays).",
            )
        ],
    ),
    Case(
        "rds-multi-az",
        good=[res(RDS, "db", SAFE_DB), res(RDS, "replica", REPLICA)],
        bad=[res(RDS, "db", {**SAFE_DB, "multiAz": False})],
        expected=[
            (
                "db",
                f"{DB} runs in one availability zone (multiAz: false): a zone outage stops the "
                "database. Fix: set multiAz: true (gamemetrics:database.multiAz).",
            )
        ],
    ),
    Case(
        "rds-deletion-protection",
        good=[res(RDS, "db", SAFE_DB)],
        bad=[res(RDS, "db", {k: v for k, v in SAFE_DB.items() if k != "deletionProtection"})],
        expected=[
            (
                "db",
                f"{DB} can be deleted by one command (deletionProtection: not set). Fix: set "
                "deletionProtection: true (gamemetrics:database.deletionProtection).",
            )
        ],
    ),
    Case(
        "elasticache-encrypted-at-rest",
        good=[
            res(REDIS, "redis", SAFE_REDIS),
            res("aws:elasticache/cluster:Cluster", "member", {"replicationGroupId": "redis"}),
        ],
        bad=[
            res(REDIS, "redis", {**SAFE_REDIS, "atRestEncryptionEnabled": False}),
            res("aws:elasticache/cluster:Cluster", "node", {"engine": "redis"}),
        ],
        expected=[
            (
                "redis",
                f"{GROUP} is not encrypted at rest (atRestEncryptionEnabled: false). Fix: set "
                "atRestEncryptionEnabled: true and kmsKeyId to a customer-managed key (the group "
                "is replaced).",
            ),
            (
                "node",
                'aws:elasticache/cluster:Cluster "node" is a standalone cache node, which cannot '
                "encrypt its data at rest. Fix: declare an aws.elasticache.ReplicationGroup with "
                "atRestEncryptionEnabled: true.",
            ),
        ],
    ),
    Case(
        "elasticache-encrypted-in-transit",
        good=[res(REDIS, "redis", SAFE_REDIS)],
        bad=[
            res(REDIS, "plain", {**SAFE_REDIS, "transitEncryptionEnabled": False}),
            res(REDIS, "mixed", {**SAFE_REDIS, "transitEncryptionMode": "preferred"}),
        ],
        expected=[
            (
                "plain",
                f'{REDIS} "plain" accepts plaintext connections (transitEncryptionEnabled: false). '
                "Fix: set transitEncryptionEnabled: true and transitEncryptionMode: required, with "
                "an authToken; clients connect with rediss://.",
            ),
            (
                "mixed",
                f'{REDIS} "mixed" still accepts plaintext connections (transitEncryptionMode: '
                "preferred). Fix: set transitEncryptionMode: required once every client uses TLS.",
            ),
        ],
    ),
    Case(
        "elasticache-multi-az",
        good=[
            res(REDIS, "redis", SAFE_REDIS),
            res(
                REDIS,
                "sharded",
                {
                    **{k: v for k, v in SAFE_REDIS.items() if k != "numCacheClusters"},
                    "numNodeGroups": 3,
                    "replicasPerNodeGroup": 1,
                },
            ),
        ],
        bad=[
            res(
                REDIS,
                "redis",
                {**SAFE_REDIS, "numCacheClusters": 1, "automaticFailoverEnabled": False},
            )
        ],
        expected=[
            (
                "redis",
                f"{GROUP} does not survive the loss of its node or zone: it needs "
                "automaticFailoverEnabled: true, a replica (numCacheClusters >= 2). Fix: set them "
                "(gamemetrics:cache.replicas >= 1, gamemetrics:cache.multiAz: true).",
            )
        ],
    ),
    _not_public_case(),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_policy(analyzer: OfflineAnalyzer, case: Case) -> None:
    check(analyzer, case)
