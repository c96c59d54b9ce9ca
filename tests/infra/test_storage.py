"""Storage: private, SSE-KMS, versioned, TLS-only buckets with lifecycle rules."""

import json

from stacks.offline.preview import Plan, Resource

PURPOSES = ("archive", "backups", "logs")


def parts(plan: Plan, purpose: str) -> dict[str, Resource]:
    bucket = plan.one("gamemetrics:infra:Bucket", f"storage-{purpose}")
    return {r.type.split(":")[-1]: r for r in plan.children(bucket)}


def test_three_private_encrypted_versioned_buckets(plans: dict[str, Plan]) -> None:
    for plan in plans.values():
        # Storage's three, and Athena's results bucket (tests/infra/test_archive_catalog.py).
        assert len(plan.of_type("aws:s3/bucket:Bucket")) == 4
        key = plan.one("aws:kms/key:Key", "storage-key")
        assert key.plain["enableKeyRotation"] is True
        for purpose in PURPOSES:
            bucket = parts(plan, purpose)
            block = bucket["BucketPublicAccessBlock"].plain
            assert all(
                block[k]
                for k in (
                    "blockPublicAcls",
                    "blockPublicPolicy",
                    "ignorePublicAcls",
                    "restrictPublicBuckets",
                )
            )
            (rule,) = bucket["BucketServerSideEncryptionConfiguration"].plain["rules"]
            default = rule["applyServerSideEncryptionByDefault"]
            assert default["sseAlgorithm"] == "aws:kms"
            assert default["kmsMasterKeyId"].startswith("arn:aws:kms:")
            assert rule["bucketKeyEnabled"] is True
            versioning = bucket["BucketVersioning"].plain["versioningConfiguration"]
            assert versioning["status"] == "Enabled"
            ownership = bucket["BucketOwnershipControls"].plain["rule"]
            assert ownership["objectOwnership"] == "BucketOwnerEnforced"


def test_plain_http_is_denied(prod: Plan) -> None:
    for purpose in PURPOSES:
        policy = json.loads(parts(prod, purpose)["BucketPolicy"].plain["policy"])
        (deny,) = policy["Statement"]
        assert deny["Effect"] == "Deny"
        assert deny["Principal"] == "*"
        assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        assert len(deny["Resource"]) == 2
        assert deny["Resource"][1].endswith("/*")


def test_lifecycle_tiers_the_archive_and_expires_backups_and_logs(plans: dict[str, Plan]) -> None:
    for plan in plans.values():
        cfg = plan.settings.storage
        rules = {
            purpose: {
                r["id"]: r
                for r in parts(plan, purpose)["BucketLifecycleConfiguration"].plain["rules"]
            }
            for purpose in PURPOSES
        }
        transitions = rules["archive"]["tiering"]["transitions"]
        assert [(t["days"], t["storageClass"]) for t in transitions] == [
            (cfg.archive_infrequent_access_days, "STANDARD_IA"),
            (cfg.archive_glacier_ir_days, "GLACIER_IR"),
        ]
        # Nothing the archive holds ever needs a restore before it can be read.
        assert {t["storageClass"] for t in transitions} <= {"STANDARD_IA", "GLACIER_IR"}
        assert rules["archive"]["tiering"]["expiration"] == {"expiredObjectDeleteMarker": True}
        assert rules["backups"]["expiry"]["expiration"]["days"] == cfg.backups_retention_days
        assert rules["logs"]["expiry"]["expiration"]["days"] == cfg.logs_retention_days
        for purpose in PURPOSES:
            housekeeping = rules[purpose]["housekeeping"]
            assert housekeeping["abortIncompleteMultipartUpload"]["daysAfterInitiation"] == 7
            assert (
                housekeeping["noncurrentVersionExpiration"]["noncurrentDays"]
                == cfg.noncurrent_version_days
            )


def test_only_dev_buckets_may_be_destroyed_with_their_objects(plans: dict[str, Plan]) -> None:
    destroyable = {
        stack: {b.plain["forceDestroy"] for b in plan.of_type("aws:s3/bucket:Bucket")}
        for stack, plan in plans.items()
    }
    assert destroyable == {"dev": {True}, "staging": {False}, "prod": {False}}
