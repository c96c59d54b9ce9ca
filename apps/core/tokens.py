"""Analyst tokens: the bearer secrets of the analytics API.

Same format and storage rules as ingest keys (see `apps.core.keys`), with
their own prefix so neither kind can be mistaken for the other.
"""

from typing import Final

from apps.core import keys
from apps.core.player_ids import CONTROL_CHARS, CONTROL_ERROR

PREFIX: Final = "gma_"
MAX_NAME_CHARS: Final = 100


def generate() -> str:
    return keys.generate(PREFIX)


def digest(token: str) -> bytes:
    """What is stored and looked up: SHA-256 of the token (call only on `looks_like_token`)."""
    return keys.digest(token)


def display_prefix(token: str) -> str:
    return keys.display_prefix(token, PREFIX)


def looks_like_token(text: str) -> bool:
    return keys.looks_like(text, PREFIX)


def check_name(name: str) -> str:
    """The name to store: stripped, 1 to MAX_NAME_CHARS characters; ValueError otherwise."""
    clean = name.strip()
    if not 1 <= len(clean) <= MAX_NAME_CHARS:
        raise ValueError(
            f"token name: {len(clean)} characters after trimming whitespace;"
            f" allowed 1 to {MAX_NAME_CHARS}"
        )
    if CONTROL_CHARS.search(clean):
        raise ValueError(f"token name: {CONTROL_ERROR}")
    return clean
