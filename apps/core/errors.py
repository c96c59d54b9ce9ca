"""Errors of the domain core."""


class GameMetricsError(Exception):
    """Base of every error the project raises on purpose."""


class ConfigError(GameMetricsError):
    """A configuration value is missing or malformed; the message names the key."""


class BatchError(GameMetricsError):
    """The request as a whole is unusable (malformed JSON, bad envelope field).

    `field` names where the problem is; the HTTP layer turns it into a 400.
    """

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class TooLarge(GameMetricsError):
    """A documented limit (body size, events per batch) was exceeded: HTTP 413."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason
