"""Errors of the domain core."""


class GameMetricsError(Exception):
    """Base of every error the project raises on purpose."""


class ConfigError(GameMetricsError):
    """A configuration value is missing or malformed; the message names the key."""


class InputError(GameMetricsError):
    """What a client sent cannot be taken; `field` names where, `reason` says why.

    The HTTP edge (apps/edge/responses.py) gives each kind its status."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class BatchError(InputError):
    """The request as a whole is unusable (malformed JSON, bad envelope field): HTTP 400."""


class TooLarge(InputError):
    """A documented limit (body size, events per batch) was exceeded: HTTP 413."""


class UnsupportedMedia(InputError):
    """A Content-Type or Content-Encoding the endpoint does not take: HTTP 415."""
