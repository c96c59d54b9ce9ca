"""Prometheus metrics of the processor (own registry)."""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class ProcessorMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.batches = Counter("gm_processor_batches_total", "Batches committed.", registry=r)
        self.rows = Counter(
            "gm_processor_rows_total",
            "Records written, by outcome (stored for the first time, or duplicate).",
            ["outcome"],
            registry=r,
        )
        self.suppressed = Counter(
            "gm_processor_suppressed_events",
            "Records of suppressed (erased) players dropped unstored; their offsets commit.",
            registry=r,
        )
        self.dead_letters = Counter(
            "gm_processor_dead_letters_total",
            "Records sent to the dead-letter topic, by reason code.",
            ["code"],
            registry=r,
        )
        self.dead_letter_failures = Counter(
            "gm_processor_dead_letter_failures_total",
            "Sends to the dead-letter topic that were not acknowledged and were retried.",
            registry=r,
        )
        self.db_errors = Counter(
            "gm_processor_database_errors_total",
            "Batch writes that failed on a database error and were retried.",
            registry=r,
        )
        self.offset_gaps = Counter(
            "gm_processor_offset_gaps_total",
            "Fetches that skipped offsets of a partition: read again, or accepted after retries.",
            ["outcome"],
            registry=r,
        )
        self.batch_seconds = Histogram(
            "gm_processor_batch_seconds",
            "Time to write and commit one batch.",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )
        self.lag = Gauge(
            "gm_processor_lag_records",
            "Records on the topic not yet processed, summed over assigned partitions.",
            registry=r,
        )
        self.caught_up = Gauge(
            "gm_processor_caught_up",
            "1 when every assigned partition is read to its end and committed.",
            registry=r,
        )
        for code in ("undecodable", "invalid", "rejected_by_database"):
            self.dead_letters.labels(code)
        for outcome in ("stored", "duplicate"):
            self.rows.labels(outcome)
        for outcome in ("refetched", "accepted"):
            self.offset_gaps.labels(outcome)
