"""Storage: the S3 buckets for the event archive, database backups and logs.

Every bucket is private (all four public-access blocks, owner-enforced
objects: no ACLs), encrypted with the storage key (SSE-KMS with bucket keys),
versioned, reachable over TLS only (a bucket policy denies plain HTTP) and
has lifecycle rules: the archive moves to cheaper storage classes that stay
instantly readable, backups and logs expire, old versions expire, unfinished
uploads are removed.
"""

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.kms import encryption_key


@dataclass(frozen=True, slots=True)
class StorageConfig:
    archive_infrequent_access_days: int = 30
    """Archive objects move to STANDARD_IA this many days after they are written."""
    archive_glacier_ir_days: int = 90
    """...and to GLACIER_IR (Glacier Instant Retrieval) this many days after."""
    backups_retention_days: int = 35
    logs_retention_days: int = 90
    noncurrent_version_days: int = 30
    """A replaced or deleted object's old version is kept this long, then expires: an
    erased player's rewritten parts and an expired day are truly gone after it."""
    force_destroy: bool = False
    """Let `pulumi destroy` delete non-empty buckets (dev only)."""


_ABORT_UPLOADS_DAYS = 7


@dataclass
class BucketArgs:
    bucket_prefix: str
    kms_key_arn: pulumi.Input[str]
    force_destroy: bool
    lifecycle: Sequence[aws.s3.BucketLifecycleConfigurationRuleArgs]
    tags: Mapping[str, str]


class Bucket(pulumi.ComponentResource):
    """One private, encrypted, versioned, TLS-only bucket with its lifecycle rules."""

    bucket_name: pulumi.Output[str]
    bucket_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: BucketArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("gamemetrics:infra:Bucket", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        bucket = aws.s3.Bucket(
            name,
            bucket_prefix=args.bucket_prefix,
            force_destroy=args.force_destroy,
            tags=dict(args.tags),
            opts=child,
        )
        aws.s3.BucketOwnershipControls(
            name,
            bucket=bucket.id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=child,
        )
        block = aws.s3.BucketPublicAccessBlock(
            name,
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            name,
            bucket=bucket.id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm="aws:kms", kms_master_key_id=args.kms_key_arn
                    ),
                    bucket_key_enabled=True,
                )
            ],
            opts=child,
        )
        versioning = aws.s3.BucketVersioning(
            name,
            bucket=bucket.id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(
                status="Enabled"
            ),
            opts=child,
        )
        aws.s3.BucketPolicy(
            name,
            bucket=bucket.id,
            policy=bucket.arn.apply(_tls_only_policy),
            # S3 refuses a bucket policy while the public-access block is being put in place.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[block]),
        )
        aws.s3.BucketLifecycleConfiguration(
            name,
            bucket=bucket.id,
            rules=list(args.lifecycle),
            # Rules on noncurrent versions need versioning on first.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[versioning]),
        )
        self.bucket_name = bucket.bucket
        self.bucket_arn = bucket.arn
        self.register_outputs({"bucket_name": self.bucket_name, "bucket_arn": self.bucket_arn})


def _tls_only_policy(arn: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [arn, f"{arn}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ],
        }
    )


_RULE = aws.s3.BucketLifecycleConfigurationRuleArgs
_EVERY_OBJECT = aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix="")


def housekeeping_rule(noncurrent_version_days: int) -> aws.s3.BucketLifecycleConfigurationRuleArgs:
    """Old versions expire and unfinished multipart uploads are removed (every bucket)."""
    return _RULE(
        id="housekeeping",
        status="Enabled",
        filter=_EVERY_OBJECT,
        abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
            days_after_initiation=_ABORT_UPLOADS_DAYS
        ),
        noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
            noncurrent_days=noncurrent_version_days
        ),
    )


def expiring_rules(
    days: int, noncurrent_version_days: int
) -> list[aws.s3.BucketLifecycleConfigurationRuleArgs]:
    """The lifecycle of a bucket whose objects expire `days` after they are written."""
    expiry = _RULE(
        id="expiry",
        status="Enabled",
        filter=_EVERY_OBJECT,
        expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=days),
    )
    return [expiry, housekeeping_rule(noncurrent_version_days)]


def lifecycle_rules(
    purpose: str, cfg: StorageConfig
) -> list[aws.s3.BucketLifecycleConfigurationRuleArgs]:
    """The lifecycle of one bucket: `archive`, `backups` or `logs`."""
    transition = aws.s3.BucketLifecycleConfigurationRuleTransitionArgs
    if purpose != "archive":
        days = cfg.backups_retention_days if purpose == "backups" else cfg.logs_retention_days
        return expiring_rules(days, cfg.noncurrent_version_days)
    # Every class here answers GetObject at once: funnels over archived days, erasure
    # rewrites, `archive restore` and Athena read any day, never waiting for a restore
    # (which GLACIER, Flexible Retrieval, would require). STANDARD_IA first halves the
    # price while recent days are still read now and then; GLACIER_IR stores for about a
    # third of that but charges three times as much per GB read, so it comes later.
    # Manifests (under 128 KiB) stay in STANDARD: S3 does not transition small objects.
    tiering = _RULE(
        id="tiering",
        status="Enabled",
        filter=_EVERY_OBJECT,
        transitions=[
            transition(days=cfg.archive_infrequent_access_days, storage_class="STANDARD_IA"),
            transition(days=cfg.archive_glacier_ir_days, storage_class="GLACIER_IR"),
        ],
        # Deleted parts leave delete markers; once their old versions have expired, the
        # markers go too, so listings of a day stay short.
        expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(
            expired_object_delete_marker=True
        ),
    )
    return [tiering, housekeeping_rule(cfg.noncurrent_version_days)]


@dataclass
class StorageArgs:
    name_prefix: str
    settings: StorageConfig
    tags: Mapping[str, str]


class Storage(pulumi.ComponentResource):
    archive: Bucket
    backups: Bucket
    logs: Bucket
    kms_key_arn: pulumi.Output[str]
    """Readers and writers of the buckets need kms:Decrypt / kms:GenerateDataKey on it."""

    def __init__(
        self, name: str, args: StorageArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("gamemetrics:infra:Storage", name, None, opts)
        tags = dict(args.tags)
        key = encryption_key(
            f"{name}-key",
            alias=f"{args.name_prefix}/storage",
            description=f"{args.name_prefix}: S3 archive, backups and logs",
            tags=tags,
            parent=self,
        )

        def bucket(purpose: str) -> Bucket:
            return Bucket(
                f"{name}-{purpose}",
                BucketArgs(
                    bucket_prefix=f"{args.name_prefix}-{purpose}-",
                    kms_key_arn=key.arn,
                    force_destroy=args.settings.force_destroy,
                    lifecycle=lifecycle_rules(purpose, args.settings),
                    tags=tags,
                ),
                pulumi.ResourceOptions(parent=self),
            )

        self.archive = bucket("archive")
        self.backups = bucket("backups")
        self.logs = bucket("logs")
        self.kms_key_arn = key.arn
        self.register_outputs(
            {
                "archive_bucket": self.archive.bucket_name,
                "backups_bucket": self.backups.bucket_name,
                "logs_bucket": self.logs.bucket_name,
                "kms_key_arn": self.kms_key_arn,
            }
        )
