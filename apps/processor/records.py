"""Step 1 of the chain (pure): a topic record becomes a row for `events`, or a poison reason."""

import uuid
from dataclasses import dataclass
from typing import Final

import msgspec

from apps.core.events import decode_stored

COLUMNS: Final = (
    "game_id", "event_id", "event_type", "player_id", "session_id", "event_time",
    "client_time", "received_at", "platform", "country", "app_version", "properties",
    "duration_seconds", "amount", "currency", "item_id", "level", "status",
)  # fmt: skip
EVENT_TIME: Final = COLUMNS.index("event_time")
SCHEMA_VERSION: Final = 1

Row = tuple[object, ...]


@dataclass(frozen=True, slots=True)
class Poison:
    """A record that can never be stored: it goes to the dead-letter topic with `reason`."""

    reason: str
    code: str


def to_row(value: bytes | None) -> Row | Poison:
    """Decode a record of the events topic into a row in `COLUMNS` order."""
    if not value:
        return Poison("empty record value", "undecodable")
    try:
        ev = decode_stored(value)
    except (msgspec.DecodeError, msgspec.ValidationError) as e:
        return Poison(f"not a StoredEvent record: {e}", "undecodable")
    if ev.v != SCHEMA_VERSION:
        return Poison(f"unsupported schema version {ev.v}", "undecodable")
    try:
        game_id = uuid.UUID(ev.game_id)
    except ValueError:
        return Poison(f"game_id {ev.game_id[:64]!r} is not a UUID", "invalid")
    if ev.event_time.tzinfo is None:
        return Poison("event_time has no UTC offset", "invalid")
    return (
        game_id, ev.event_id, ev.type, ev.player_id, ev.session_id, ev.event_time,
        ev.client_time, ev.received_at, ev.platform, ev.country, ev.app_version,
        bytes(ev.properties).decode(), ev.duration_seconds, ev.amount, ev.currency,
        ev.item_id, ev.level, ev.status,
    )  # fmt: skip
