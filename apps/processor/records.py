"""Step 1 of the chain (pure): a topic record becomes a row for `events`, or a poison reason.

A record (`apps.core.events.StoredEvent`) is a MessagePack array whose fields
after the version are the row's columns in order, so msgspec decodes it
straight into a typed tuple in C: UUIDs, UTC datetimes, text. Only what
fails that decoding is looked at again, to say why, or read as a record of
version 1 (a JSON object), which an API of the previous release may still
write while a deploy rolls.
"""

import re
import uuid
from dataclasses import dataclass
from typing import Annotated, Any, Final

import msgspec

from apps.core.events import EMPTY_OBJECT, SCHEMA_VERSION, AwareDateTime, StoredEvent

COLUMNS: Final = (
    "game_id", "event_id", "event_type", "player_id", "session_id", "event_time",
    "client_time", "received_at", "platform", "country", "app_version", "properties",
    "duration_seconds", "amount", "currency", "item_id", "level", "status",
)  # fmt: skip
EVENT_TIME: Final = COLUMNS.index("event_time")

Row = tuple[object, ...]

FIELDS: Final = msgspec.structs.fields(StoredEvent)
"""The record's fields: the version, then one per column of `COLUMNS` (`type` is `event_type`)."""
_AS: Final[dict[str, Any]] = {"game_id": uuid.UUID}
"""Where the row needs more than the record's type: the game's id travels as text."""
_VERSION: Final = Annotated[int, msgspec.Meta(ge=SCHEMA_VERSION, le=SCHEMA_VERSION)]
_RECORD: Final[Any] = tuple.__class_getitem__(
    (_VERSION, *(_AS.get(f.name, f.type) for f in FIELDS[1:]))
)
_decode: Final = msgspec.msgpack.Decoder(_RECORD).decode
_AT_FIELD: Final = re.compile(r"^(?P<msg>.*?) - at `\$\[(?P<index>\d+)\]")


class _StoredEventV1(msgspec.Struct, kw_only=True):
    """Version 1 of the record, a JSON object: read, never written."""

    v: Annotated[int, msgspec.Meta(ge=1, le=1)]
    game_id: uuid.UUID
    event_id: uuid.UUID
    type: str
    player_id: str
    event_time: AwareDateTime
    client_time: AwareDateTime
    received_at: AwareDateTime
    session_id: str | None = None
    platform: str | None = None
    country: str | None = None
    app_version: str | None = None
    properties: msgspec.Raw = EMPTY_OBJECT
    duration_seconds: float | None = None
    amount: float | None = None
    currency: str | None = None
    item_id: str | None = None
    level: str | None = None
    status: str | None = None


_decode_v1: Final = msgspec.json.Decoder(_StoredEventV1).decode


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
        row: Row = _decode(value)[1:]
    except (msgspec.DecodeError, UnicodeDecodeError) as e:
        if value[:1] == b"{":
            return _v1_row(value)
        return _poison(value, e)
    return row


def _v1_row(value: bytes) -> Row | Poison:
    try:
        ev = _decode_v1(value)
    except (msgspec.DecodeError, UnicodeDecodeError) as e:
        return Poison(f"not a StoredEvent record (version 1, a JSON object): {e}", "undecodable")
    return (
        ev.game_id, ev.event_id, ev.type, ev.player_id, ev.session_id, ev.event_time,
        ev.client_time, ev.received_at, ev.platform, ev.country, ev.app_version,
        bytes(ev.properties).decode(), ev.duration_seconds, ev.amount, ev.currency,
        ev.item_id, ev.level, ev.status,
    )  # fmt: skip


def _poison(value: bytes, error: Exception) -> Poison:
    """Why `value` is not a record of this version: `undecodable` when it is not one
    at all (or of another version), `invalid` when one of its fields is wrong."""
    try:
        record = msgspec.msgpack.decode(value)
    except (msgspec.DecodeError, UnicodeDecodeError) as e:
        return Poison(f"not a StoredEvent record (a MessagePack array): {e}", "undecodable")
    if not isinstance(record, list) or not record:
        kind = "an empty array" if isinstance(record, list) else type(record).__name__
        return Poison(f"not a StoredEvent record (a MessagePack array): {kind}", "undecodable")
    version = record[0]
    if type(version) is not int or version != SCHEMA_VERSION:
        return Poison(f"unsupported schema version {version!r}", "undecodable")
    if len(record) != len(FIELDS):
        return Poison(
            f"not a StoredEvent record: {len(record)} fields, version {SCHEMA_VERSION} "
            f"has {len(FIELDS)}",
            "undecodable",
        )
    m = _AT_FIELD.match(str(error))
    if m is None:
        return Poison(f"invalid record: {error}", "invalid")
    return Poison(f"invalid {FIELDS[int(m['index'])].name}: {m['msg']}", "invalid")
