"""Storage at rest: S3 buckets, EBS volumes, the KMS keys that encrypt them.

A bucket's settings are separate resources in pulumi-aws 7 (encryption,
public access block, policy, ownership), so the S3 rules look at the whole
stack: each bucket must have each companion, found through its dependencies.
"""

from collections.abc import Mapping, Sequence
from typing import Any, Final

from pulumi_policy import (
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    StackValidationArgs,
)

from policies.support import (
    COMPUTED,
    about,
    about_resource,
    config_list,
    dependents,
    dig,
    has,
    is_false,
    is_true,
    items,
    mapping,
    of_type,
    peek,
    resource_policy,
    show,
    stack_policy,
    strings,
)

BUCKETS: Final = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
BUCKET_ENCRYPTION: Final = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
)
BUCKET_POLICY: Final = "aws:s3/bucketPolicy:BucketPolicy"
BUCKET_PUBLIC_ACCESS_BLOCK: Final = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
ACCOUNT_PUBLIC_ACCESS_BLOCK: Final = "aws:s3/accountPublicAccessBlock:AccountPublicAccessBlock"
BUCKET_OWNERSHIP: Final = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
BUCKET_VERSIONING: Final = (
    "aws:s3/bucketVersioning:BucketVersioning",
    "aws:s3/bucketVersioningV2:BucketVersioningV2",
)
PUBLIC_ACCESS_FLAGS: Final = (
    "blockPublicAcls",
    "blockPublicPolicy",
    "ignorePublicAcls",
    "restrictPublicBuckets",
)
KMS_ALGORITHMS: Final = ("aws:kms", "aws:kms:dsse")

LAUNCH_TEMPLATE: Final = "aws:ec2/launchTemplate:LaunchTemplate"
EBS_VOLUME: Final = "aws:ebs/volume:Volume"
EC2_INSTANCE: Final = "aws:ec2/instance:Instance"
NODE_GROUPS: Final = ("eks:index:ManagedNodeGroup", "aws:eks/nodeGroup:NodeGroup")
EKS_COMPONENT: Final = "eks:index:Cluster"
STORAGE_CLASS: Final = "kubernetes:storage.k8s.io/"
EBS_PROVISIONERS: Final = ("ebs.csi.aws.com", "kubernetes.io/aws-ebs")
KMS_KEY: Final = "aws:kms/key:Key"


# --- S3 ------------------------------------------------------------------------------------


def _encryption_algorithms(bucket: PolicyResource, configs: list[PolicyResource]) -> list[str]:
    found = [
        str(dig(mapping(rule), "applyServerSideEncryptionByDefault", "sseAlgorithm"))
        for config in configs
        for rule in items(config.props.get("rules"))
    ]
    inline = dig(
        bucket.props,
        "serverSideEncryptionConfiguration",
        "rule",
        "applyServerSideEncryptionByDefault",
        "sseAlgorithm",
    )
    if inline:
        found.append(str(inline))
    return found


def s3_encrypted_at_rest(args: StackValidationArgs, report: ReportViolation) -> None:
    allowed = config_list(args.get_config(), "allowedAlgorithms") or list(KMS_ALGORITHMS)
    for bucket in of_type(args.resources, *BUCKETS):
        configs = dependents(args.resources, bucket, *BUCKET_ENCRYPTION)
        algorithms = _encryption_algorithms(bucket, configs)
        if not algorithms:
            report(
                f"{about_resource(bucket)} declares no default encryption. Fix: add an "
                "aws.s3.BucketServerSideEncryptionConfiguration for it with sseAlgorithm "
                "aws:kms and a customer-managed kmsMasterKeyId.",
                bucket.urn,
            )
        elif not all(a in allowed for a in algorithms):
            report(
                f"{about_resource(bucket)} is encrypted with {', '.join(sorted(set(algorithms)))}, "
                f"not KMS. Fix: set sseAlgorithm to one of {', '.join(allowed)} with a "
                "customer-managed kmsMasterKeyId (key policy and rotation under our control).",
                bucket.urn,
            )


def _aws_managed(key: str) -> bool:
    """`alias/aws/s3` (or its ARN): a key AWS owns the policy of, not a customer key."""
    return key.startswith("alias/aws/") or ":alias/aws/" in key


def s3_customer_managed_key(args: StackValidationArgs, report: ReportViolation) -> None:
    for bucket in of_type(args.resources, *BUCKETS):
        configs = dependents(args.resources, bucket, *BUCKET_ENCRYPTION)
        rules = [mapping(rule) for config in configs for rule in items(config.props.get("rules"))]
        if has(bucket.props, "serverSideEncryptionConfiguration"):  # the legacy inline form
            rules.append(mapping(dig(bucket.props, "serverSideEncryptionConfiguration", "rule")))
        keys = [
            peek(rule, "applyServerSideEncryptionByDefault", "kmsMasterKeyId") for rule in rules
        ]
        # A key still to be created (its ARN computed during preview) is one of ours.
        if keys and all(k == COMPUTED or (isinstance(k, str) and k and not _aws_managed(k))
                        for k in keys):  # fmt: skip
            continue
        found = ", ".join(sorted({show(k) for k in keys})) or "no default encryption"
        report(
            f"{about_resource(bucket)} is not encrypted with a customer-managed KMS key "
            f"(kmsMasterKeyId: {found}). Fix: set kmsMasterKeyId of its "
            "aws.s3.BucketServerSideEncryptionConfiguration to the ARN of an aws.kms.Key this "
            "stack declares (its key policy and rotation are ours; aws/s3's are not).",
            bucket.urn,
        )


def s3_versioned(args: StackValidationArgs, report: ReportViolation) -> None:
    for bucket in of_type(args.resources, *BUCKETS):
        statuses = [
            peek(v.props, "versioningConfiguration", "status")
            for v in dependents(args.resources, bucket, *BUCKET_VERSIONING)
        ]
        if is_true(dig(bucket.props, "versioning", "enabled")) or "Enabled" in statuses:
            continue
        found = ", ".join(show(s) for s in statuses) or "no aws.s3.BucketVersioning"
        report(
            f"{about_resource(bucket)} is not versioned ({found}): an overwrite or a delete "
            "loses the object at once. Fix: add an aws.s3.BucketVersioning for it with "
            "versioningConfiguration.status Enabled, and a lifecycle rule that expires "
            "noncurrent versions.",
            bucket.urn,
        )


def _statements(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    statement = document.get("Statement")
    if isinstance(statement, Mapping):
        return [statement]
    return [mapping(s) for s in items(statement)]


def _denies_insecure_transport(statement: Mapping[str, Any]) -> bool:
    if statement.get("Effect") != "Deny":
        return False
    principal = statement.get("Principal")
    if principal != "*" and strings(mapping(principal).get("AWS")) != ["*"]:
        return False
    if not {"s3:*", "*"} & set(strings(statement.get("Action"))):
        return False
    secure = dig(mapping(statement.get("Condition")), "Bool", "aws:SecureTransport")
    if not any(is_false(v) for v in items(secure) or [secure]):
        return False
    resources = strings(statement.get("Resource"))
    return any(r.endswith("/*") for r in resources) and any(not r.endswith("/*") for r in resources)


def s3_tls_only(args: StackValidationArgs, report: ReportViolation) -> None:
    for bucket in of_type(args.resources, *BUCKETS):
        documents = [
            mapping(p.props.get("policy"))
            for p in dependents(args.resources, bucket, BUCKET_POLICY)
        ]
        if has(bucket.props, "policy"):
            documents.append(mapping(bucket.props["policy"]))
        if not any(_denies_insecure_transport(s) for d in documents for s in _statements(d)):
            report(
                f"{about_resource(bucket)} accepts requests over plain HTTP. Fix: attach an "
                'aws.s3.BucketPolicy with a statement {"Effect": "Deny", "Principal": "*", '
                '"Action": "s3:*", "Resource": [<bucket ARN>, <bucket ARN>/*], "Condition": '
                '{"Bool": {"aws:SecureTransport": "false"}}}.',
                bucket.urn,
            )


def s3_public_access_blocked(args: StackValidationArgs, report: ReportViolation) -> None:
    account = [
        b
        for b in of_type(args.resources, ACCOUNT_PUBLIC_ACCESS_BLOCK)
        if all(is_true(b.props.get(f)) for f in PUBLIC_ACCESS_FLAGS)
    ]
    if account:
        return
    for bucket in of_type(args.resources, *BUCKETS):
        blocks = dependents(args.resources, bucket, BUCKET_PUBLIC_ACCESS_BLOCK)
        if not blocks:
            report(
                f"{about_resource(bucket)} has no public access block. Fix: add an "
                "aws.s3.BucketPublicAccessBlock for it with blockPublicAcls, blockPublicPolicy, "
                "ignorePublicAcls and restrictPublicBuckets all true.",
                bucket.urn,
            )
            continue
        off = sorted(
            {f for b in blocks for f in PUBLIC_ACCESS_FLAGS if not is_true(b.props.get(f))}
        )
        if off:
            report(
                f"{about_resource(bucket)} leaves public access open: {', '.join(off)} not true. "
                "Fix: set all four flags of its aws.s3.BucketPublicAccessBlock to true.",
                bucket.urn,
            )


def s3_acls_disabled(args: StackValidationArgs, report: ReportViolation) -> None:
    for bucket in of_type(args.resources, *BUCKETS):
        controls = dependents(args.resources, bucket, BUCKET_OWNERSHIP)
        owners = [dig(c.props, "rule", "objectOwnership") for c in controls]
        if "BucketOwnerEnforced" not in owners:
            found = ", ".join(show(o) for o in owners) or "no ownership controls"
            report(
                f"{about_resource(bucket)} still honours object ACLs ({found}). Fix: add "
                "aws.s3.BucketOwnershipControls with rule.objectOwnership BucketOwnerEnforced, "
                "so access is decided by policies alone.",
                bucket.urn,
            )


# --- EBS -----------------------------------------------------------------------------------


def _unencrypted_devices(mappings: Sequence[Any]) -> list[str]:
    names = []
    for entry in mappings:
        m = mapping(entry)
        ebs = mapping(m.get("ebs"))
        if ebs and not is_true(ebs.get("encrypted")):
            names.append(str(m.get("deviceName") or "?"))
    return names


def ebs_encrypted(args: ResourceValidationArgs, report: ReportViolation) -> None:
    props, kind = args.props, args.resource_type
    problem = ""
    if kind == LAUNCH_TEMPLATE:
        mappings = items(props.get("blockDeviceMappings"))
        if not mappings:
            problem = "declares no block device, so the image's unencrypted default is used"
        elif bad := _unencrypted_devices(mappings):
            problem = f"leaves {', '.join(bad)} unencrypted (ebs.encrypted not true)"
    elif kind == EBS_VOLUME and not is_true(props.get("encrypted")):
        problem = f"is not encrypted (encrypted: {show(props.get('encrypted'))})"
    elif kind == EC2_INSTANCE:
        bad = [] if is_true(dig(props, "rootBlockDevice", "encrypted")) else ["the root volume"]
        bad += [
            str(mapping(d).get("deviceName") or "?")
            for d in items(props.get("ebsBlockDevices"))
            if not is_true(mapping(d).get("encrypted"))
        ]
        if bad:
            problem = f"leaves {', '.join(bad)} unencrypted"
    elif kind.startswith(STORAGE_CLASS) and props.get("provisioner") in EBS_PROVISIONERS:
        encrypted = dig(props, "parameters", "encrypted")
        if not is_true(encrypted):
            problem = (
                f"provisions unencrypted EBS volumes (parameters.encrypted: {show(encrypted)})"
            )
    elif kind in NODE_GROUPS and not props.get("launchTemplate"):
        problem = "has no launch template, so its nodes' disks are not encrypted"
    elif (
        kind == EKS_COMPONENT
        and not is_true(props.get("skipDefaultNodeGroup"))
        and not is_true(props.get("nodeRootVolumeEncrypted"))
    ):
        problem = "creates a default node group whose root volumes are not encrypted"
    if problem:
        report(
            f"{about(args)} {problem}. Fix: encrypt every EBS volume (encrypted: true, with a "
            "KMS key): through a launch template for node groups, the StorageClass's "
            "parameters for persistent volumes.",
            None,
        )


# --- KMS -----------------------------------------------------------------------------------


def kms_key_rotation(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != KMS_KEY:
        return
    spec = args.props.get("keySpec") or args.props.get("customerMasterKeySpec")
    if spec not in (None, "SYMMETRIC_DEFAULT"):
        return  # AWS rotates symmetric encryption keys only
    value = args.props.get("enableKeyRotation")
    if not is_true(value):
        report(
            f"{about(args)} is never rotated (enableKeyRotation: {show(value)}). Fix: set "
            "enableKeyRotation: true (yearly, or rotationPeriodInDays).",
            None,
        )


POLICIES: Final = [
    stack_policy(
        "s3-encrypted-at-rest",
        "S3 buckets encrypt by default with a KMS key.",
        s3_encrypted_at_rest,
        {
            "allowedAlgorithms": {
                "type": "array",
                "items": {"type": "string"},
                "default": list(KMS_ALGORITHMS),
            }
        },
    ),
    stack_policy(
        "s3-customer-managed-key",
        "S3 buckets encrypt with a customer-managed KMS key of the stack, not aws/s3.",
        s3_customer_managed_key,
    ),
    stack_policy(
        "s3-versioned",
        "S3 buckets keep versions, so an overwrite or delete can be undone until they expire.",
        s3_versioned,
    ),
    stack_policy(
        "s3-tls-only",
        "S3 buckets refuse requests that do not use TLS.",
        s3_tls_only,
    ),
    stack_policy(
        "s3-public-access-blocked",
        "S3 buckets block every form of public access.",
        s3_public_access_blocked,
    ),
    stack_policy(
        "s3-acls-disabled",
        "S3 buckets disable ACLs (bucket owner enforced).",
        s3_acls_disabled,
    ),
    resource_policy(
        "ebs-encrypted",
        "EBS volumes (node disks and persistent volumes included) are encrypted.",
        ebs_encrypted,
    ),
    resource_policy(
        "kms-key-rotation",
        "Symmetric KMS keys rotate automatically.",
        kms_key_rotation,
    ),
]
