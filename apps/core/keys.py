"""Ingest keys, and the bearer-secret format they share with analyst tokens.

A secret is a short kind prefix (`gmk_` for ingest keys) and 32 random bytes
in URL-safe base64: enough entropy that a fast hash is the right way to store
it. It is shown once at creation; only its SHA-256 and a short display prefix
are stored. Lookups hash the presented secret and compare in the database.
"""

import hashlib
import secrets
import string
from typing import Final

PREFIX: Final = "gmk_"
_BODY_BYTES: Final = 32
_BODY_CHARS: Final = -(-_BODY_BYTES * 4 // 3)  # unpadded base64 of the body: 43
_BODY_ALPHABET: Final = frozenset(string.ascii_letters + string.digits + "-_")
DISPLAY_CHARS: Final = 8


def generate(prefix: str = PREFIX) -> str:
    return prefix + secrets.token_urlsafe(_BODY_BYTES)


def digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def display_prefix(secret: str, prefix: str = PREFIX) -> str:
    """What listings show so a person can tell secrets apart without seeing them."""
    return secret[: len(prefix) + DISPLAY_CHARS]


def looks_like(text: str, prefix: str) -> bool:
    """Whether `text` has the shape of a secret generated with `prefix` (no lookup needed to
    refuse anything else)."""
    return (
        len(text) == len(prefix) + _BODY_CHARS
        and text.startswith(prefix)
        and _BODY_ALPHABET.issuperset(text[len(prefix) :])
    )


def looks_like_key(text: str) -> bool:
    return looks_like(text, PREFIX)
