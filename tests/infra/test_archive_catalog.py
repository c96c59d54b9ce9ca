"""ArchiveCatalog: a Glue table over the archive's layout, an Athena workgroup to query it."""

import json
import uuid
from datetime import date
from typing import Any

from apps.core import archive
from infra.archive_catalog import location_template
from stacks.offline.preview import Plan, Resource

GIB = 1 << 30


def archive_bucket(plan: Plan) -> str:
    buckets = plan.outputs["buckets"]
    assert isinstance(buckets, dict)
    return str(buckets["archive"])


def storage_key(plan: Plan) -> str:
    """The ARN of the key the archive is encrypted with."""
    config = plan.one(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "storage-archive",
    ).plain
    key = config["rules"][0]["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"]
    assert str(key).startswith("arn:aws:kms:")
    return str(key)


def table(plan: Plan) -> dict[str, Any]:
    return plan.one("aws:glue/catalogTable:CatalogTable", "archive-catalog-events").plain


def test_the_table_is_the_archive_columns_over_its_hive_layout(plans: dict[str, Plan]) -> None:
    for stack, plan in plans.items():
        bucket = archive_bucket(plan)
        events = table(plan)
        database = plan.one("aws:glue/catalogDatabase:CatalogDatabase").plain
        assert database["name"] == f"gamemetrics_{stack}_archive"
        assert events["databaseName"] == database["name"]
        assert events["name"] == "events"
        assert events["tableType"] == "EXTERNAL_TABLE"
        descriptor = events["storageDescriptor"]
        assert descriptor["location"] == f"s3://{bucket}/events/"
        assert descriptor["inputFormat"].endswith("parquet.MapredParquetInputFormat")
        assert descriptor["outputFormat"].endswith("parquet.MapredParquetOutputFormat")
        assert descriptor["serDeInfo"]["serializationLibrary"] == (
            "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
        )
        # The files' columns, in the files' order, with the archive's kinds.
        assert [(c["name"], c["type"]) for c in descriptor["columns"]] == [
            (c.name, c.kind) for c in archive.COLUMNS
        ]
        assert {c["type"] for c in descriptor["columns"]} == {"string", "timestamp", "double"}
        assert [(k["name"], k["type"]) for k in events["partitionKeys"]] == [
            ("game_id", "string"),
            ("event_date", "date"),
        ]
        assert not {k["name"] for k in events["partitionKeys"]} & set(archive.COLUMN_NAMES)


def test_partitions_are_projected_and_the_game_must_be_named(plans: dict[str, Plan]) -> None:
    for plan in plans.values():
        bucket = archive_bucket(plan)
        parameters = table(plan)["parameters"]
        assert parameters == {
            "EXTERNAL": "TRUE",
            "classification": "parquet",
            "projection.enabled": "true",
            "projection.game_id.type": "injected",
            "projection.event_date.type": "date",
            "projection.event_date.format": "yyyy-MM-dd",
            "projection.event_date.range": "2020-01-01,NOW",
            "projection.event_date.interval": "1",
            "projection.event_date.interval.unit": "DAYS",
            "storage.location.template": (
                f"s3://{bucket}/events/game_id=${{game_id}}/event_date=${{event_date}}/"
            ),
        }


def test_the_location_template_names_the_folders_the_archive_writes() -> None:
    """Filled in the way Athena fills it, the template is where a pass writes a game-day."""
    game, day = uuid.uuid4(), date(2026, 2, 28)
    filled = (
        location_template("b")
        .replace("${game_id}", str(game))
        .replace("${event_date}", day.strftime("%Y-%m-%d"))
    )
    assert filled == f"s3://b/{archive.day_prefix(game, day)}"
    assert archive.day_of_key(filled.removeprefix("s3://b/") + archive.MANIFEST) == (game, day)


def _workgroup(plan: Plan) -> Resource:
    return plan.one("aws:athena/workgroup:Workgroup", "archive-catalog-workgroup")


def test_the_workgroup_enforces_encrypted_results_and_a_scan_cutoff(
    plans: dict[str, Plan],
) -> None:
    for stack, plan in plans.items():
        workgroup = _workgroup(plan).plain
        assert workgroup["name"] == f"gamemetrics-{stack}-archive"
        config = workgroup["configuration"]
        assert config["enforceWorkgroupConfiguration"] is True
        assert config["bytesScannedCutoffPerQuery"] == (
            plan.settings.athena.bytes_scanned_cutoff_gib * GIB
        )
        results = config["resultConfiguration"]
        assert results["outputLocation"] == f"s3://{plan.outputs['athenaResultsBucket']}/"
        assert results["encryptionConfiguration"] == {
            "encryptionOption": "SSE_KMS",
            "kmsKeyArn": storage_key(plan),
        }
        assert workgroup["forceDestroy"] is (stack == "dev")
    cutoffs = {s: p.settings.athena.bytes_scanned_cutoff_gib for s, p in plans.items()}
    assert cutoffs == {"dev": 10, "staging": 50, "prod": 1000}


def test_results_have_their_own_private_encrypted_expiring_bucket(plans: dict[str, Plan]) -> None:
    for stack, plan in plans.items():
        component = plan.one("gamemetrics:infra:Bucket", "archive-catalog-results")
        parts = {r.type.split(":")[-1]: r.plain for r in plan.children(component)}
        assert parts["Bucket"]["bucketPrefix"] == f"gamemetrics-{stack}-athena-"
        (rule,) = parts["BucketServerSideEncryptionConfiguration"]["rules"]
        assert rule["applyServerSideEncryptionByDefault"] == {
            "sseAlgorithm": "aws:kms",
            "kmsMasterKeyId": storage_key(plan),
        }
        assert parts["BucketVersioning"]["versioningConfiguration"]["status"] == "Enabled"
        block = parts["BucketPublicAccessBlock"]
        assert all(block[k] for k in ("blockPublicAcls", "blockPublicPolicy",
                                      "ignorePublicAcls", "restrictPublicBuckets"))  # fmt: skip
        (deny,) = json.loads(parts["BucketPolicy"]["policy"])["Statement"]
        assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        rules = {r["id"]: r for r in parts["BucketLifecycleConfiguration"]["rules"]}
        expiry = rules["expiry"]["expiration"]["days"]
        assert expiry == plan.settings.athena.results_retention_days
        assert rules["housekeeping"]["noncurrentVersionExpiration"]["noncurrentDays"] == 1


def test_the_catalog_is_exported(plans: dict[str, Plan]) -> None:
    for stack, plan in plans.items():
        assert plan.outputs["archiveGlueDatabase"] == f"gamemetrics_{stack}_archive"
        assert plan.outputs["archiveGlueTable"] == "events"
        assert plan.outputs["athenaWorkgroup"] == f"gamemetrics-{stack}-archive"
        assert str(plan.outputs["athenaResultsBucket"]).startswith(f"gamemetrics-{stack}-athena-")
