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

# Numbers: every value validation accepts is storable, and so is every rollup sum of them.
# The rollups count rows in bigint, so no rollup row sums more than 2**63 - 1 values; the
# sums are double precision (largest finite 1.8e308). MAX_AMOUNT * (2**63 - 1) is 9.2e30
# and MAX_DURATION_SECONDS * (2**63 - 1) is 2.4e25: no sum of valid values can overflow
# or become infinite, even converted to USD (tests/apps/core/test_limits.py).
MAX_AMOUNT: Final = 1e12
"""Largest purchase `amount`, in major units (a trillion: room for any currency's price)."""
MAX_DURATION_SECONDS: Final = 30 * 86400
"""Longest `duration_seconds` of a session_end: 30 days."""
MAX_LEVEL: Final = 2**31 - 1
"""Largest integer `level` (PostgreSQL integer, so analytics may cast it)."""
ROLLUP_COUNT_MAX: Final = 2**63 - 1
"""The most values a rollup row can sum: its counts are bigint."""

MAX_PROPERTIES_DEPTH: Final = 32
"""How deeply `properties` may nest objects and arrays (the object itself is level 1)."""
MIN_PROPERTY_INT: Final = -(2**63)
MAX_PROPERTY_INT: Final = 2**63 - 1
"""Integers in `properties` fit PostgreSQL's bigint; other numbers are stored as doubles."""

READ_TIMEOUT: Final = timedelta(seconds=10)
"""How long a client may take to send a request body, once its headers are in."""
