"""Documented limits of the ingestion contract, declared once.

The API, the docs (docs/INGESTION.md) and the tests read these values; change
them here and everywhere follows.
"""

from datetime import timedelta
from typing import Final

MAX_BODY_BYTES: Final = 1024 * 1024
"""Largest accepted request body, measured after decompression."""

MAX_EVENTS_PER_BATCH: Final = 1000
MAX_ID_CHARS: Final = 128
"""player_id, session_id and item_id."""
MAX_SHORT_TEXT_CHARS: Final = 64
"""platform, app_version, level."""
MAX_PROPERTIES_KEYS: Final = 64
MAX_PROPERTIES_BYTES: Final = 8 * 1024
"""Size of the properties object as compact JSON."""

MAX_FUTURE: Final = timedelta(minutes=10)
"""How far past the receive time a corrected event time may lie."""
DEFAULT_LATE_HORIZON: Final = timedelta(days=30)
"""How old a corrected event time may be, unless configured otherwise."""

TYPE_PATTERN: Final = r"^[a-z][a-z0-9_.]{0,63}$"
