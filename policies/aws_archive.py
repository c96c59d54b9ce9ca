"""SQL over the raw-event archive: the Glue tables that describe it, the Athena workgroups
that query it.

A Glue table must read the stack's archive bucket (whose protections the S3 rules check),
never a bucket the stack does not control; a workgroup must impose its settings on every
query, encrypt the results (raw events, player ids) with a KMS key and cap what one
query scans.
"""

from typing import Final

from pulumi_policy import ReportViolation, ResourceValidationArgs, StackValidationArgs

from policies.aws_storage import BUCKETS
from policies.support import (
    COMPUTED,
    Props,
    about,
    about_resource,
    depends_on,
    dig,
    is_false,
    of_type,
    peek,
    resource_policy,
    show,
    stack_policy,
)

GLUE_TABLE: Final = "aws:glue/catalogTable:CatalogTable"
ATHENA_WORKGROUP: Final = "aws:athena/workgroup:Workgroup"
KMS_RESULTS: Final = ("SSE_KMS", "CSE_KMS")
ARCHIVE_MARKER: Final = "archive"
"""What the archive bucket's name holds (`gamemetrics-<stack>-archive-...`)."""


def _bucket_names(props: Props) -> list[str]:
    """The names a bucket is known by in a plan: its name, or the prefix of a generated one."""
    values = (peek(props, key) for key in ("bucket", "bucketPrefix"))
    return [v for v in values if isinstance(v, str) and v and v != COMPUTED]


def glue_table_in_archive_bucket(args: StackValidationArgs, report: ReportViolation) -> None:
    marker = str(args.get_config().get("archiveMarker") or ARCHIVE_MARKER)
    buckets = list(of_type(args.resources, *BUCKETS))
    for table in of_type(args.resources, GLUE_TABLE):
        location = peek(table.props, "storageDescriptor", "location")
        if location == COMPUTED:
            # Unknown until the update: it comes from one of the stack's buckets, or none.
            read = [b for b in buckets if depends_on(table, b)]
        elif not isinstance(location, str) or not location.startswith("s3://"):
            continue  # not over S3 (a view, a federated table)
        else:
            name = location.removeprefix("s3://").split("/", 1)[0]
            read = [
                b
                for b in buckets
                if any(n == name or name.startswith(n) for n in _bucket_names(b.props))
            ]
        archives = [
            b for b in read if marker in b.name or any(marker in n for n in _bucket_names(b.props))
        ]
        if archives:
            continue
        where = show(location) if location != COMPUTED else "a computed location"
        reads = ", ".join(about_resource(b) for b in read) or "no bucket this stack declares"
        report(
            f"{about_resource(table)} reads {where}: {reads}, not the stack's archive bucket "
            f"(a bucket whose name holds {marker!r}). Fix: point storageDescriptor.location "
            "at s3://<archive bucket>/events/, from the Storage component's archive bucket, "
            "so the data it exposes is the encrypted, versioned, private archive.",
            table.urn,
        )


def athena_workgroup_enforced(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != ATHENA_WORKGROUP:
        return
    config = args.props.get("configuration")
    problems = []
    enforce = dig(config, "enforceWorkgroupConfiguration") if config else None
    if is_false(enforce):
        problems.append("clients may override its settings (enforceWorkgroupConfiguration false)")
    encryption = dig(config, "resultConfiguration", "encryptionConfiguration") if config else None
    option = dig(encryption, "encryptionOption") if encryption else None
    if option not in KMS_RESULTS:
        problems.append(
            f"its results are not encrypted with KMS (encryptionOption: {show(option)})"
        )
    elif not (peek(encryption, "kmsKeyArn") if encryption else None):  # computed: a new key
        problems.append("its results name no KMS key (kmsKeyArn not set)")
    cutoff = dig(config, "bytesScannedCutoffPerQuery") if config else None
    if not cutoff:
        problems.append("a query may scan without limit (bytesScannedCutoffPerQuery not set)")
    if problems:
        report(
            f"{about(args)}: {'; '.join(problems)}. Fix: set configuration."
            "enforceWorkgroupConfiguration true, resultConfiguration.encryptionConfiguration "
            "{encryptionOption: SSE_KMS, kmsKeyArn: <a key of this stack>} and "
            "bytesScannedCutoffPerQuery (gamemetrics:athena.bytesScannedCutoffGib).",
            None,
        )


POLICIES: Final = [
    stack_policy(
        "glue-table-in-archive-bucket",
        "Glue tables over S3 read the stack's own archive bucket.",
        glue_table_in_archive_bucket,
        {"archiveMarker": {"type": "string", "default": ARCHIVE_MARKER}},
    ),
    resource_policy(
        "athena-workgroup-enforced",
        "Athena workgroups enforce their settings, encrypt results with KMS, cap bytes scanned.",
        athena_workgroup_enforced,
    ),
]
