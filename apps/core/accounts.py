"""What an account's fields may hold, checked before anything is stored.

An email is kept as typed (its case is shown back) but compared case-insensitively.
"""

import re
from typing import Final

MAX_EMAIL_CHARS: Final = 254
MAX_DISPLAY_NAME_CHARS: Final = 100
# Deliberately loose: one @, something on each side, a dot in the domain, no spaces.
_EMAIL: Final = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def check_email(email: str) -> str:
    """The email to store (trimmed); ValueError saying what is wrong."""
    clean = email.strip()
    if not 3 <= len(clean) <= MAX_EMAIL_CHARS:
        raise ValueError(f"{len(clean)} characters; allowed 3 to {MAX_EMAIL_CHARS}")
    if not _EMAIL.fullmatch(clean) or not clean.isprintable():
        raise ValueError("not an email address (name@domain.tld)")
    return clean


def check_display_name(name: str) -> str:
    clean = name.strip()
    if not 1 <= len(clean) <= MAX_DISPLAY_NAME_CHARS:
        raise ValueError(
            f"{len(clean)} characters after trimming whitespace;"
            f" allowed 1 to {MAX_DISPLAY_NAME_CHARS}"
        )
    if not clean.isprintable():
        raise ValueError("holds control characters")
    return clean
