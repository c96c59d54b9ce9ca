"""Prometheus metrics of one analytics API instance (own registry, so tests can run several)."""

from prometheus_client import CollectorRegistry, Counter, Histogram

from apps.analytics.errors import CODES

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class AnalyticsMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "gm_analytics_requests_total",
            "Requests to /graphql by HTTP status.",
            ["status"],
            registry=self.registry,
        )
        self.errors = Counter(
            "gm_analytics_errors_total",
            "GraphQL errors sent, by extensions.code.",
            ["code"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "gm_analytics_request_duration_seconds",
            "Time from request start to response, POST /graphql.",
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.field_latency = Histogram(
            "gm_analytics_field_duration_seconds",
            "Time to resolve one metric field (cache lookup included), by field.",
            ["field"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.cache = Counter(
            "gm_analytics_cache_total",
            "Cache lookups of metric fields: hit, miss, or error (Redis failed; computed).",
            ["result"],
            registry=self.registry,
        )
        for code in CODES:
            self.errors.labels(code)
        for result in ("hit", "miss", "error"):
            self.cache.labels(result)
