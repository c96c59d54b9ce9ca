"""The archive as SQL: a Glue table over its Hive layout and an Athena workgroup to query it.

The table's columns are the archive's own (`apps.core.archive.COLUMNS`), never typed
again here; `game_id` and `event_date` are partition columns found in the path.
Partitions are projected, not registered: Athena computes a day's location from the
query (`storage.location.template`), so no crawler or `MSCK REPAIR` runs after a pass.
`game_id` is injected, so every query must name the game(s) with `=` or `IN`: a query
reads one game's folders, never the whole bucket. The workgroup enforces its settings
(clients cannot override them): results go to its own bucket, encrypted with the storage
key, and expire; a query that would scan more than the cutoff is cancelled.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import pulumi
import pulumi_aws as aws

from apps.core import archive
from infra.storage import Bucket, BucketArgs, expiring_rules


@dataclass(frozen=True, slots=True)
class AthenaConfig:
    bytes_scanned_cutoff_gib: int = 100
    """A query that would scan more is cancelled (Athena bills per byte scanned)."""
    results_retention_days: int = 30
    """Query results (which may hold raw events) expire this many days after the query."""


GLUE_TYPES: Final[Mapping[archive.ColumnKind, str]] = {
    "string": "string",
    "timestamp": "timestamp",
    "double": "double",
}
"""The Hive type of each archive column kind."""
PARTITION_TYPES: Final[Mapping[str, str]] = dict(
    zip(archive.PARTITION_COLUMNS, ("string", "date"), strict=True)
)
PARQUET_SERDE: Final = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
PARQUET_INPUT: Final = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT: Final = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
PROJECTION_START: Final = "2020-01-01"
"""The earliest event_date a query can reach (no game sent events before it)."""
_RESULTS_NONCURRENT_DAYS: Final = 1
_GIB: Final = 1 << 30


def location_template(bucket: str) -> str:
    """Where a (game_id, event_date) partition lives: the archive's day prefix, with the
    partition columns as Athena's `${column}` placeholders."""
    path = "/".join(f"{column}=${{{column}}}" for column in archive.PARTITION_COLUMNS)
    return f"s3://{bucket}/{archive.PREFIX}/{path}/"


def table_parameters(bucket: str) -> dict[str, str]:
    """The table's parameters: Parquet, and partition projection over the layout."""
    game, day = archive.PARTITION_COLUMNS
    return {
        "EXTERNAL": "TRUE",
        "classification": "parquet",
        "projection.enabled": "true",
        f"projection.{game}.type": "injected",
        f"projection.{day}.type": "date",
        f"projection.{day}.format": "yyyy-MM-dd",
        f"projection.{day}.range": f"{PROJECTION_START},NOW",
        f"projection.{day}.interval": "1",
        f"projection.{day}.interval.unit": "DAYS",
        "storage.location.template": location_template(bucket),
    }


@dataclass
class ArchiveCatalogArgs:
    name_prefix: str
    archive_bucket: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]
    """The storage key: the archive is encrypted with it, and so are the query results."""
    settings: AthenaConfig
    force_destroy: bool
    """Let `pulumi destroy` delete the results bucket with its objects and the workgroup
    with its saved queries (dev only)."""
    tags: Mapping[str, str]


class ArchiveCatalog(pulumi.ComponentResource):
    database_name: pulumi.Output[str]
    table_name: pulumi.Output[str]
    workgroup_name: pulumi.Output[str]
    results_bucket: pulumi.Output[str]

    def __init__(
        self, name: str, args: ArchiveCatalogArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("gamemetrics:infra:ArchiveCatalog", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(args.tags)
        bucket = pulumi.Output.from_input(args.archive_bucket)

        # Glue and Athena names: lower-case letters, digits and underscores.
        database = aws.glue.CatalogDatabase(
            f"{name}-database",
            name=f"{args.name_prefix.replace('-', '_')}_archive",
            description=f"{args.name_prefix}: the raw-event archive (docs/RETENTION.md)",
            tags=tags,
            opts=child,
        )
        table = aws.glue.CatalogTable(
            f"{name}-events",
            name=archive.PREFIX,
            database_name=database.name,
            description="Raw events past their hot window, one Parquet folder per game-day",
            table_type="EXTERNAL_TABLE",
            parameters=bucket.apply(table_parameters),
            partition_keys=[
                aws.glue.CatalogTablePartitionKeyArgs(name=column, type=type_)
                for column, type_ in PARTITION_TYPES.items()
            ],
            storage_descriptor=aws.glue.CatalogTableStorageDescriptorArgs(
                location=bucket.apply(lambda b: f"s3://{b}/{archive.PREFIX}/"),
                input_format=PARQUET_INPUT,
                output_format=PARQUET_OUTPUT,
                compressed=True,
                ser_de_info=aws.glue.CatalogTableStorageDescriptorSerDeInfoArgs(
                    name="parquet",
                    serialization_library=PARQUET_SERDE,
                    parameters={"serialization.format": "1"},
                ),
                columns=[
                    aws.glue.CatalogTableStorageDescriptorColumnArgs(
                        name=c.name, type=GLUE_TYPES[c.kind], comment=c.doc
                    )
                    for c in archive.COLUMNS
                ],
            ),
            opts=child,
        )
        results = Bucket(
            f"{name}-results",
            BucketArgs(
                bucket_prefix=f"{args.name_prefix}-athena-",
                kms_key_arn=args.kms_key_arn,
                force_destroy=args.force_destroy,
                lifecycle=expiring_rules(
                    args.settings.results_retention_days, _RESULTS_NONCURRENT_DAYS
                ),
                tags=tags,
            ),
            child,
        )
        workgroup = aws.athena.Workgroup(
            f"{name}-workgroup",
            name=f"{args.name_prefix}-archive",
            description=f"{args.name_prefix}: SQL over the raw-event archive",
            force_destroy=args.force_destroy,
            configuration=aws.athena.WorkgroupConfigurationArgs(
                enforce_workgroup_configuration=True,
                publish_cloudwatch_metrics_enabled=True,
                bytes_scanned_cutoff_per_query=args.settings.bytes_scanned_cutoff_gib * _GIB,
                engine_version=aws.athena.WorkgroupConfigurationEngineVersionArgs(
                    selected_engine_version="Athena engine version 3"
                ),
                result_configuration=aws.athena.WorkgroupConfigurationResultConfigurationArgs(
                    output_location=results.bucket_name.apply(lambda b: f"s3://{b}/"),
                    encryption_configuration=aws.athena.WorkgroupConfigurationResultConfigurationEncryptionConfigurationArgs(
                        encryption_option="SSE_KMS", kms_key_arn=args.kms_key_arn
                    ),
                ),
            ),
            tags=tags,
            opts=child,
        )
        self.database_name = database.name
        self.table_name = table.name
        self.workgroup_name = workgroup.name
        self.results_bucket = results.bucket_name
        self.register_outputs(
            {
                "database_name": self.database_name,
                "table_name": self.table_name,
                "workgroup_name": self.workgroup_name,
                "results_bucket": self.results_bucket,
            }
        )
