"""What the HTTP edge refuses on its own: a body that does not arrive (mapped in `responses.py`)."""

from apps.core.errors import InputError


class BodyTimeout(InputError):
    """The body did not arrive within the read timeout: 408, and the connection is closed."""


class ClientGone(InputError):
    """The client closed the connection mid-body: 400, which nobody will read."""
