"""Prometheus metrics of one ingestion API instance (own registry, so tests can run several)."""

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from apps.core.privacy import PLAYER_ERASED_CODE
from apps.core.validation import REASON_CODES


class IngestMetrics:
    def __init__(self, queue_depth: Callable[[], float]) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "gm_ingest_requests_total",
            "Requests to POST /v1/events by HTTP status.",
            ["status"],
            registry=self.registry,
        )
        self.accepted = Counter(
            "gm_ingest_events_accepted_total",
            "Events acknowledged by Kafka and answered 202.",
            registry=self.registry,
        )
        self.rejected = Counter(
            "gm_ingest_events_rejected_total",
            "Events rejected, by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "gm_ingest_request_duration_seconds",
            "Time from request start to response, POST /v1/events.",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.rate_limiter_failures = Counter(
            "gm_ingest_rate_limiter_errors_total",
            "Requests let through because Redis could not be asked.",
            registry=self.registry,
        )
        depth = Gauge(
            "gm_ingest_producer_queue_depth",
            "Records waiting in the Kafka producer for acknowledgement.",
            registry=self.registry,
        )
        depth.set_function(queue_depth)
        for reason in (*REASON_CODES, PLAYER_ERASED_CODE):
            self.rejected.labels(reason)
