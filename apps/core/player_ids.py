"""What a player id may be: the ingestion contract's rule, declared once.

Ingestion refuses an event whose `player_id` breaks it, and every reader that
takes a player id from a caller (the profile's GraphQL field, the users
service's REST paths) refuses the same ids, so that no lookup is made for an
id that cannot have been stored. Pure.
"""

import re
from typing import Final

from apps.core import limits

CONTROL_CHARS: Final = re.compile("[\x00-\x1f\x7f-\x9f]")
"""C0, DEL and C1: PostgreSQL text cannot hold NUL, and the others are no part of a name."""
CONTROL_ERROR: Final = "must not contain control characters (U+0000..U+001F, U+007F..U+009F)"
ALLOWED: Final = (
    f"a string of 1..{limits.MAX_ID_CHARS} characters without control characters"
    " (U+0000..U+001F, U+007F..U+009F)"
)
"""The rule in one phrase, for errors' `allowed`."""


def player_id_problem(value: str) -> str | None:
    """Why `value` cannot be a stored player id (a phrase), or None when it can be."""
    if not 1 <= len(value) <= limits.MAX_ID_CHARS:
        return f"must be a string of 1..{limits.MAX_ID_CHARS} characters"
    if CONTROL_CHARS.search(value):
        return CONTROL_ERROR
    try:
        value.encode()
    except UnicodeEncodeError:
        return "must be valid Unicode (no unpaired surrogate)"
    return None
