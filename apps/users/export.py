"""An export's NDJSON, gzip-compressed into parts as it is written (never all in memory).

The first line is the player's profile (`"record": "profile"`), then one line per stored
event (`"record": "event"`, the columns of `events` by name), oldest first.
"""

import zlib
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Final

import msgspec

from apps.store.profiles import PlayerProfile

PART_BYTES: Final = 256 * 1024
"""Compressed bytes per stored part: one row of privacy_export_parts, one chunk sent."""

EVENT_COLUMNS: Final = (
    "event_id", "event_type", "player_id", "session_id", "event_time", "client_time",
    "received_at", "platform", "country", "app_version", "properties", "duration_seconds",
    "amount", "currency", "item_id", "level", "status",
)  # fmt: skip

_encode: Final = msgspec.json.Encoder().encode


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def profile_line(profile: PlayerProfile | None, player_id: str) -> dict[str, Any]:
    if profile is None:
        return {"record": "profile", "player_id": player_id, "found": False}
    return {
        "record": "profile",
        "player_id": profile.player_id,
        "found": True,
        "first_seen": _iso(profile.first_seen),
        "last_seen": _iso(profile.last_seen),
        "first_platform": profile.first_platform,
        "first_country": profile.first_country,
        "first_app_version": profile.first_app_version,
        "days_active": profile.days_active,
        "sessions": profile.sessions,
        "session_seconds": profile.session_seconds,
        "revenue_usd": profile.revenue_usd,
        "purchases": profile.purchases,
    }


def event_line(row: Mapping[str, Any]) -> dict[str, Any]:
    """One `events` row (selected as EVENT_COLUMNS, properties as text) as an export line."""
    line: dict[str, Any] = {"record": "event"}
    for column in EVENT_COLUMNS:
        value = row[column]
        if column == "properties":
            value = msgspec.json.decode(value)
        elif isinstance(value, datetime):
            value = value.isoformat()
        elif column == "event_id":
            value = str(value)
        line["type" if column == "event_type" else column] = value
    return line


class PartWriter:
    """Gzip NDJSON whose compressed bytes go to `put(seq, data)` in parts of PART_BYTES."""

    def __init__(self, put: Callable[[int, bytes], None]) -> None:
        self._put = put
        self._zip = zlib.compressobj(6, zlib.DEFLATED, 31)  # wbits 31: the gzip format
        self._pending = bytearray()
        self.parts = 0
        self.bytes = 0
        self.lines = 0

    def line(self, value: Mapping[str, Any]) -> None:
        self._pending += self._zip.compress(_encode(value) + b"\n")
        self.lines += 1
        if len(self._pending) >= PART_BYTES:
            self._flush()

    def close(self) -> None:
        self._pending += self._zip.flush()
        self._flush()

    def _flush(self) -> None:
        self._put(self.parts, bytes(self._pending))
        self.parts += 1
        self.bytes += len(self._pending)
        self._pending.clear()


def decompress(parts: list[bytes]) -> bytes:
    """The NDJSON of an export's parts (tests, the CLI)."""
    return zlib.decompress(b"".join(parts), wbits=31)
