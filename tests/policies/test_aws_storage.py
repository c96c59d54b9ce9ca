"""S3, EBS and KMS: a compliant and a non-compliant case per policy, exact messages."""

import json

import pytest

from policies.offline import UNKNOWN, EngineResource, OfflineAnalyzer
from tests.policies.harness import Case, check, found, res

BUCKET = "aws:s3/bucket:Bucket"
S3 = "aws:s3/"
LT = "aws:ec2/launchTemplate:LaunchTemplate"
TLS_ONLY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": ["arn:aws:s3:::logs", "arn:aws:s3:::logs/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    ],
}


def safe_bucket(name: str = "logs") -> list[EngineResource]:
    """A bucket with every companion the S3 policies ask for."""
    bucket = res(BUCKET, name, {"bucketPrefix": f"{name}-"})
    return [
        bucket,
        res(
            f"{S3}bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
            name,
            {"rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms"}}]},
            deps=[bucket],
        ),
        res(
            f"{S3}bucketPolicy:BucketPolicy", name, {"policy": json.dumps(TLS_ONLY)}, deps=[bucket]
        ),
        res(
            f"{S3}bucketPublicAccessBlock:BucketPublicAccessBlock",
            name,
            {
                "blockPublicAcls": True,
                "blockPublicPolicy": True,
                "ignorePublicAcls": True,
                "restrictPublicBuckets": True,
            },
            deps=[bucket],
        ),
        res(
            f"{S3}bucketOwnershipControls:BucketOwnershipControls",
            name,
            {"rule": {"objectOwnership": "BucketOwnerEnforced"}},
            deps=[bucket],
        ),
        res(
            f"{S3}bucketVersioning:BucketVersioning",
            name,
            {"versioningConfiguration": {"status": "Enabled"}},
            deps=[bucket],
        ),
    ]


CUSTOMER_KEY = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd"


def keyed(props_key: object) -> dict[str, object]:
    default: dict[str, object] = {"sseAlgorithm": "aws:kms"}
    if props_key is not None:
        default["kmsMasterKeyId"] = props_key
    return {"rules": [{"applyServerSideEncryptionByDefault": default}]}


def without(resources: list[EngineResource], type_fragment: str) -> list[EngineResource]:
    return [r for r in resources if type_fragment not in r.type]


def replaced(
    resources: list[EngineResource], type_fragment: str, props: dict[str, object]
) -> list[EngineResource]:
    bucket = resources[0]
    kept = without(resources, type_fragment)
    original = next(r for r in resources if type_fragment in r.type)
    return [*kept, res(original.type, original.name, props, deps=[bucket])]


ALLOWS_PLAIN_HTTP = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::logs/*",
        }
    ],
}
B = f'{BUCKET} "logs"'
EBS_FIX = (
    "Fix: encrypt every EBS volume (encrypted: true, with a KMS key): through a launch template "
    "for node groups, the StorageClass's parameters for persistent volumes."
)
SC = "kubernetes:storage.k8s.io/v1:StorageClass"


def storage_class(name: str, parameters: dict[str, str]) -> EngineResource:
    props = {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": name},
        "provisioner": "ebs.csi.aws.com",
        "parameters": parameters,
    }
    return res(SC, name, props)


ENCRYPTED_DISK = {"deviceName": "/dev/xvda", "ebs": {"encrypted": "true", "volumeSize": 50}}

CASES = [
    Case(
        "s3-encrypted-at-rest",
        good=safe_bucket(),
        bad=[
            *without(safe_bucket(), "ServerSideEncryption"),
            *replaced(
                safe_bucket("data"),
                "ServerSideEncryption",
                {"rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]},
            ),
        ],
        expected=[
            (
                "logs",
                f"{B} declares no default encryption. Fix: add an "
                "aws.s3.BucketServerSideEncryptionConfiguration for it with sseAlgorithm aws:kms "
                "and a customer-managed kmsMasterKeyId.",
            ),
            (
                "data",
                f'{BUCKET} "data" is encrypted with AES256, not KMS. Fix: set sseAlgorithm to one '
                "of aws:kms, aws:kms:dsse with a customer-managed kmsMasterKeyId (key policy and "
                "rotation under our control).",
            ),
        ],
    ),
    Case(
        "s3-customer-managed-key",
        good=replaced(safe_bucket(), "ServerSideEncryption", keyed(CUSTOMER_KEY)),
        bad=[
            *safe_bucket(),
            *replaced(safe_bucket("data"), "ServerSideEncryption", keyed("alias/aws/s3")),
            *without(safe_bucket("raw"), "ServerSideEncryption"),
        ],
        expected=[
            (
                name,
                f'{BUCKET} "{name}" is not encrypted with a customer-managed KMS key '
                f"(kmsMasterKeyId: {found}). Fix: set kmsMasterKeyId of its "
                "aws.s3.BucketServerSideEncryptionConfiguration to the ARN of an aws.kms.Key "
                "this stack declares (its key policy and rotation are ours; aws/s3's are not).",
            )
            for name, found in (
                ("logs", "not set"),
                ("data", "alias/aws/s3"),
                ("raw", "no default encryption"),
            )
        ],
    ),
    Case(
        "s3-versioned",
        good=safe_bucket(),
        bad=[
            *without(safe_bucket(), "Versioning"),
            *replaced(
                safe_bucket("data"),
                "Versioning",
                {"versioningConfiguration": {"status": "Suspended"}},
            ),
        ],
        expected=[
            (
                name,
                f'{BUCKET} "{name}" is not versioned ({found}): an overwrite or a delete loses the '
                "object at once. Fix: add an aws.s3.BucketVersioning for it with "
                "versioningConfiguration.status Enabled, and a lifecycle rule that expires "
                "noncurrent versions.",
            )
            for name, found in (("logs", "no aws.s3.BucketVersioning"), ("data", "Suspended"))
        ],
    ),
    Case(
        "s3-tls-only",
        good=safe_bucket(),
        bad=replaced(safe_bucket(), "bucketPolicy", {"policy": json.dumps(ALLOWS_PLAIN_HTTP)}),
        expected=[
            (
                "logs",
                f"{B} accepts requests over plain HTTP. Fix: attach an aws.s3.BucketPolicy with a "
                'statement {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": '
                '[<bucket ARN>, <bucket ARN>/*], "Condition": {"Bool": {"aws:SecureTransport": '
                '"false"}}}.',
            )
        ],
    ),
    Case(
        "s3-public-access-blocked",
        good=safe_bucket(),
        bad=[
            *without(safe_bucket(), "PublicAccessBlock"),
            *replaced(
                safe_bucket("data"),
                "PublicAccessBlock",
                {"blockPublicAcls": True, "ignorePublicAcls": True, "restrictPublicBuckets": False},
            ),
        ],
        expected=[
            (
                "logs",
                f"{B} has no public access block. Fix: add an aws.s3.BucketPublicAccessBlock for "
                "it with blockPublicAcls, blockPublicPolicy, ignorePublicAcls and "
                "restrictPublicBuckets all true.",
            ),
            (
                "data",
                f'{BUCKET} "data" leaves public access open: blockPublicPolicy, '
                "restrictPublicBuckets not true. Fix: set all four flags of its "
                "aws.s3.BucketPublicAccessBlock to true.",
            ),
        ],
    ),
    Case(
        "s3-acls-disabled",
        good=safe_bucket(),
        bad=replaced(safe_bucket(), "Ownership", {"rule": {"objectOwnership": "ObjectWriter"}}),
        expected=[
            (
                "logs",
                f"{B} still honours object ACLs (ObjectWriter). Fix: add "
                "aws.s3.BucketOwnershipControls with rule.objectOwnership BucketOwnerEnforced, so "
                "access is decided by policies alone.",
            )
        ],
    ),
    Case(
        "ebs-encrypted",
        good=[
            res(LT, "nodes", {"blockDeviceMappings": [ENCRYPTED_DISK]}),
            res("aws:ebs/volume:Volume", "disk", {"encrypted": True}),
            res("eks:index:ManagedNodeGroup", "group", {"launchTemplate": {"id": "lt-1"}}),
            res("eks:index:Cluster", "eks", {"skipDefaultNodeGroup": True}),
            storage_class("gp3", {"type": "gp3", "encrypted": "true", "kmsKeyId": "arn:key"}),
        ],
        bad=[
            res(
                LT,
                "nodes",
                {
                    "blockDeviceMappings": [
                        {"deviceName": "/dev/xvdb", "ebs": {"encrypted": "false"}}
                    ]
                },
            ),
            res(LT, "bare", {}),
            res("aws:ebs/volume:Volume", "disk", {"size": 10}),
            res(
                "aws:ec2/instance:Instance",
                "vm",
                {
                    "rootBlockDevice": {"encrypted": True},
                    "ebsBlockDevices": [{"deviceName": "/dev/sdf"}],
                },
            ),
            res("eks:index:ManagedNodeGroup", "group", {"diskSize": 50}),
            res("eks:index:Cluster", "eks", {}),
            storage_class("gp2", {"type": "gp2"}),
        ],
        expected=[
            (
                "nodes",
                f'{LT} "nodes" leaves /dev/xvdb unencrypted (ebs.encrypted not true). {EBS_FIX}',
            ),
            (
                "bare",
                f'{LT} "bare" declares no block device, so the image\'s unencrypted default is '
                f"used. {EBS_FIX}",
            ),
            (
                "disk",
                f'aws:ebs/volume:Volume "disk" is not encrypted (encrypted: not set). {EBS_FIX}',
            ),
            ("vm", f'aws:ec2/instance:Instance "vm" leaves /dev/sdf unencrypted. {EBS_FIX}'),
            (
                "group",
                'eks:index:ManagedNodeGroup "group" has no launch template, so its nodes\' disks '
                f"are not encrypted. {EBS_FIX}",
            ),
            (
                "eks",
                'eks:index:Cluster "eks" creates a default node group whose root volumes are not '
                f"encrypted. {EBS_FIX}",
            ),
            (
                "gp2",
                f'{SC} "gp2" (StorageClass gp2) provisions unencrypted EBS volumes '
                f"(parameters.encrypted: not set). {EBS_FIX}",
            ),
        ],
    ),
    Case(
        "kms-key-rotation",
        good=[
            res("aws:kms/key:Key", "key", {"enableKeyRotation": True}),
            res("aws:kms/key:Key", "signing", {"customerMasterKeySpec": "ECC_NIST_P256"}),
        ],
        bad=[res("aws:kms/key:Key", "key", {"description": "data"})],
        expected=[
            (
                "key",
                'aws:kms/key:Key "key" is never rotated (enableKeyRotation: not set). Fix: set '
                "enableKeyRotation: true (yearly, or rotationPeriodInDays).",
            )
        ],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_policy(analyzer: OfflineAnalyzer, case: Case) -> None:
    check(analyzer, case)


def test_a_bucket_policy_inline_counts_and_an_account_block_covers_every_bucket(
    analyzer: OfflineAnalyzer,
) -> None:
    inline = res(BUCKET, "legacy", {"policy": json.dumps(TLS_ONLY)})
    assert found(analyzer, "s3-tls-only", [inline]) == []
    account = res(
        f"{S3}accountPublicAccessBlock:AccountPublicAccessBlock",
        "account",
        dict.fromkeys(
            ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"),
            True,
        ),
    )
    assert found(analyzer, "s3-public-access-blocked", [inline, account]) == []


def test_a_key_created_by_the_same_update_is_a_customer_key(analyzer: OfflineAnalyzer) -> None:
    """A new stack's preview: the key's ARN is not known yet, but it is a key of the stack."""
    bucket = replaced(safe_bucket(), "ServerSideEncryption", keyed(UNKNOWN))
    assert found(analyzer, "s3-customer-managed-key", bucket) == []
