"""Ingest keys: generated with enough entropy that a fast hash is the right way to store them.

A key is shown once at creation; only its SHA-256 and a short display
prefix are stored. Lookups hash the presented key and compare in the database.
"""

import hashlib
import secrets
from typing import Final

PREFIX: Final = "gmk_"
_BODY_BYTES: Final = 32
DISPLAY_CHARS: Final = 8


def generate() -> str:
    return PREFIX + secrets.token_urlsafe(_BODY_BYTES)


def digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def display_prefix(key: str) -> str:
    """What listings show so a person can tell keys apart without seeing them."""
    return key[: len(PREFIX) + DISPLAY_CHARS]


def looks_like_key(text: str) -> bool:
    return text.startswith(PREFIX) and len(text) > len(PREFIX) + DISPLAY_CHARS
