"""The live tables' window, read by the processor (what it writes and prunes) and by erasure."""

from datetime import timedelta
from typing import Final

LIVE_KEPT: Final = timedelta(minutes=10)
"""How long live rows are kept: liveStats reads the last 5 minutes. The processor adds to
live_seconds and live_players only events received within this window of now."""
