"""Prometheus metrics of the retention service (own registry)."""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from apps.retention.passes import PassReport


class RetentionMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.passes = Counter(
            "gm_retention_passes_total",
            "Passes by outcome: done, or the fault that stopped one (s3, postgres, kafka,"
            " processor_behind, busy, error).",
            ["outcome"], registry=r,
        )  # fmt: skip
        self.pass_seconds = Histogram(
            "gm_retention_pass_seconds", "Duration of completed passes.",
            buckets=(1, 5, 15, 60, 300, 900, 3600, 4 * 3600), registry=r,
        )  # fmt: skip
        self.last_success = Gauge(
            "gm_retention_last_success_timestamp_seconds",
            "When the last pass completed (alert when older than a few intervals).",
            registry=r,
        )
        self.days_archived = Counter(
            "gm_retention_days_archived_total", "Game-days moved to the archive.", registry=r
        )
        self.rows_archived = Counter(
            "gm_retention_rows_archived_total", "Raw events written to the archive.", registry=r
        )
        self.bytes_written = Counter(
            "gm_retention_bytes_written_total", "Parquet bytes written to S3.", registry=r
        )
        self.rows_deleted = Counter(
            "gm_retention_rows_deleted_total",
            "Raw events deleted from PostgreSQL (archived, or past every window).",
            registry=r,
        )
        self.partitions_dropped = Counter(
            "gm_retention_partitions_dropped_total",
            "Daily partitions dropped whole (every game of the day had left).",
            registry=r,
        )
        self.days_expired = Counter(
            "gm_retention_days_expired_total",
            "Archived game-days deleted past their archive window.",
            registry=r,
        )
        self.problems = Counter(
            "gm_retention_day_problems_total",
            "Game-days whose files did not match their catalog or what was written.",
            registry=r,
        )
        self.problem_days = Gauge(
            "gm_retention_problem_days",
            "Game-days with a problem reported and not yet repaired (archived_days.problem).",
            registry=r,
        )

    def passed(self, report: PassReport, problem_days: int) -> None:
        self.passes.labels("done").inc()
        self.pass_seconds.observe(report.seconds)
        self.last_success.set_to_current_time()
        self.days_archived.inc(report.days_archived)
        self.rows_archived.inc(report.rows_archived)
        self.bytes_written.inc(report.bytes_written)
        self.rows_deleted.inc(report.rows_deleted)
        self.partitions_dropped.inc(report.partitions_dropped)
        self.days_expired.inc(report.days_expired)
        self.problems.inc(len(report.problems))
        self.problem_days.set(problem_days)
