"""Session tokens: the bearer secrets `POST /v1/sessions` issues to an account.

Same format and storage rules as ingest keys and analyst tokens (`apps.core.keys`),
with their own prefix, so a service tells the three kinds apart before any lookup.
"""

from typing import Final

from apps.core import keys

PREFIX: Final = "gms_"


def generate() -> str:
    return keys.generate(PREFIX)


def digest(token: str) -> bytes:
    """What is stored and looked up: SHA-256 of the token."""
    return keys.digest(token)


def looks_like_session(text: str) -> bool:
    return keys.looks_like(text, PREFIX)
