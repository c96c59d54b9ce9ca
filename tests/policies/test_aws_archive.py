"""Glue and Athena over the archive: a compliant and a non-compliant case per policy."""

from typing import Any

import pytest

from policies.offline import UNKNOWN, EngineResource, OfflineAnalyzer, Report
from stacks.offline.preview import Plan
from tests.policies.harness import Case, check, found, res

BUCKET = "aws:s3/bucket:Bucket"
TABLE = "aws:glue/catalogTable:CatalogTable"
WORKGROUP = "aws:athena/workgroup:Workgroup"
KEY = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd"
GIB = 1 << 30

ARCHIVE = res(BUCKET, "storage-archive", {"bucketPrefix": "gamemetrics-prod-archive-"})
LOGS = res(BUCKET, "storage-logs", {"bucketPrefix": "gamemetrics-prod-logs-"})


def table(location: str, *, deps: list[EngineResource] | None = None) -> EngineResource:
    return res(
        TABLE,
        "archive-catalog-events",
        {"name": "events", "storageDescriptor": {"location": location}},
        deps=deps or [],
    )


def workgroup(**changes: Any) -> EngineResource:
    configuration: dict[str, Any] = {
        "enforceWorkgroupConfiguration": True,
        "bytesScannedCutoffPerQuery": 100 * GIB,
        "resultConfiguration": {
            "outputLocation": "s3://gamemetrics-prod-athena-1/",
            "encryptionConfiguration": {"encryptionOption": "SSE_KMS", "kmsKeyArn": KEY},
        },
    }
    configuration.update(changes)
    return res(WORKGROUP, "archive-catalog-workgroup", {"configuration": configuration})


T = f'{TABLE} "archive-catalog-events"'
TABLE_FIX = (
    "not the stack's archive bucket (a bucket whose name holds 'archive'). Fix: point "
    "storageDescriptor.location at s3://<archive bucket>/events/, from the Storage "
    "component's archive bucket, so the data it exposes is the encrypted, versioned, "
    "private archive."
)
W = f'{WORKGROUP} "archive-catalog-workgroup"'
WORKGROUP_FIX = (
    "Fix: set configuration.enforceWorkgroupConfiguration true, resultConfiguration."
    "encryptionConfiguration {encryptionOption: SSE_KMS, kmsKeyArn: <a key of this stack>} "
    "and bytesScannedCutoffPerQuery (gamemetrics:athena.bytesScannedCutoffGib)."
)

CASES = [
    Case(
        "glue-table-in-archive-bucket",
        good=[
            ARCHIVE,
            LOGS,
            table("s3://gamemetrics-prod-archive-1a2b3c4d/events/", deps=[ARCHIVE]),
        ],
        bad=[ARCHIVE, LOGS, table("s3://gamemetrics-prod-logs-9f8e7d6c/loki/", deps=[LOGS])],
        expected=[
            (
                "archive-catalog-events",
                f"{T} reads s3://gamemetrics-prod-logs-9f8e7d6c/loki/: {BUCKET} "
                f'"storage-logs", {TABLE_FIX}',
            )
        ],
        id="another-bucket",
    ),
    Case(
        "glue-table-in-archive-bucket",
        good=[ARCHIVE, table("s3://gamemetrics-prod-archive-1a2b3c4d/events/")],
        bad=[ARCHIVE, table("s3://somebody-elses-archive-data/events/")],
        expected=[
            (
                "archive-catalog-events",
                f"{T} reads s3://somebody-elses-archive-data/events/: no bucket this stack "
                f"declares, {TABLE_FIX}",
            )
        ],
        id="outside-the-stack",
    ),
    Case(
        "athena-workgroup-enforced",
        good=[workgroup()],
        bad=[
            workgroup(
                enforceWorkgroupConfiguration=False,
                bytesScannedCutoffPerQuery=None,
                resultConfiguration={
                    "outputLocation": "s3://results/",
                    "encryptionConfiguration": {"encryptionOption": "SSE_S3"},
                },
            )
        ],
        expected=[
            (
                "archive-catalog-workgroup",
                f"{W}: clients may override its settings (enforceWorkgroupConfiguration false); "
                "its results are not encrypted with KMS (encryptionOption: SSE_S3); a query may "
                f"scan without limit (bytesScannedCutoffPerQuery not set). {WORKGROUP_FIX}",
            )
        ],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_policy(analyzer: OfflineAnalyzer, case: Case) -> None:
    check(analyzer, case)


def test_a_workgroup_without_configuration_or_key_is_stopped(analyzer: OfflineAnalyzer) -> None:
    bare = res(WORKGROUP, "bare", {"name": "adhoc"})
    keyless = workgroup(
        resultConfiguration={"encryptionConfiguration": {"encryptionOption": "SSE_KMS"}}
    )
    assert found(analyzer, "athena-workgroup-enforced", [bare, keyless]) == [
        (
            "bare",
            f'{WORKGROUP} "bare": its results are not encrypted with KMS (encryptionOption: not '
            "set); a query may scan without limit (bytesScannedCutoffPerQuery not set). "
            f"{WORKGROUP_FIX}",
        ),
        (
            "archive-catalog-workgroup",
            f"{W}: its results name no KMS key (kmsKeyArn not set). {WORKGROUP_FIX}",
        ),
    ]


def test_a_table_not_over_s3_is_not_this_rules_business(analyzer: OfflineAnalyzer) -> None:
    view = res(TABLE, "view", {"name": "v", "tableType": "VIRTUAL_VIEW"})
    assert found(analyzer, "glue-table-in-archive-bucket", [view]) == []


def test_each_stack_archive_catalog_complies(
    plans: dict[str, Plan], reports: dict[str, Report]
) -> None:
    """The program's own table, workgroup and buckets pass the rules above."""
    rules = {c.policy for c in CASES} | {"s3-customer-managed-key", "s3-versioned"}
    for stack, report in reports.items():
        assert [v for v in report.violations if v.policy in rules] == [], stack
        assert len(plans[stack].of_type(TABLE)) == 1
        assert len(plans[stack].of_type(WORKGROUP)) == 1


def test_a_location_unknown_at_preview_is_judged_by_the_bucket_it_comes_from(
    analyzer: OfflineAnalyzer,
) -> None:
    """A new stack's preview: the bucket's name, so the table's location, is not known yet."""
    from_archive = table(UNKNOWN, deps=[ARCHIVE])
    from_logs = res(TABLE, "logs-table", {"storageDescriptor": {"location": UNKNOWN}}, deps=[LOGS])
    assert found(analyzer, "glue-table-in-archive-bucket", [ARCHIVE, LOGS, from_archive]) == []
    assert found(analyzer, "glue-table-in-archive-bucket", [ARCHIVE, LOGS, from_logs]) == [
        (
            "logs-table",
            f'{TABLE} "logs-table" reads a computed location: {BUCKET} "storage-logs", {TABLE_FIX}',
        )
    ]
    new_key = workgroup(
        resultConfiguration={
            "encryptionConfiguration": {"encryptionOption": "SSE_KMS", "kmsKeyArn": UNKNOWN}
        }
    )
    assert found(analyzer, "athena-workgroup-enforced", [new_key]) == []
