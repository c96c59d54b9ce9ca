"""What the ingestion API refuses, each mapped to one HTTP status in `responses.py`."""

from apps.core.errors import GameMetricsError


class Unauthorized(GameMetricsError):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RateLimited(GameMetricsError):
    def __init__(self, retry_after_s: int, rate_eps: int) -> None:
        super().__init__(f"rate limit of {rate_eps} events/s exceeded")
        self.retry_after_s, self.rate_eps = retry_after_s, rate_eps


class DependencyDown(GameMetricsError):
    """A backend needed to answer is unreachable: 503 with Retry-After."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} unavailable")
        self.what = what
