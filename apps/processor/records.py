"""Step 1 of the chain (pure): a topic record becomes a row for `events`, or a poison reason.

A record (`apps.core.events.StoredEvent`) is a MessagePack array whose fields
after the version are the row's columns in order, so msgspec decodes it
straight into a typed tuple in C: UUIDs, UTC datetimes, text. The columns'
names and PostgreSQL types are derived from those fields here, once
(tests/apps/processor/test_records.py holds them to the migrations). Only what
fails that decoding is looked at again, to say why, or read as a record of
version 1 (a JSON object), which an API of the previous release may still
write while a deploy rolls.
"""

import re
import uuid
from dataclasses import dataclass
from typing import Annotated, Any, Final

import msgspec
import msgspec.inspect as mi

from apps.core.events import EMPTY_OBJECT, SCHEMA_VERSION, AwareDateTime, StoredEvent

FIELDS: Final = msgspec.structs.fields(StoredEvent)
"""The record's fields: the version, then one per column of `events`, in its order."""
_COLUMN_NAMES: Final = {"type": "event_type"}
"""Where a column is not named as its field."""
_AS: Final[dict[str, Any]] = {"game_id": uuid.UUID}
"""Where the row needs more than the record's type: the game's id travels as text."""
_COLUMN_TYPES: Final = {"properties": "jsonb"}
"""Where the column's type is not the row value's: `properties` is the JSON object's text."""
_PG_TYPES: Final[dict[type[mi.Type], str]] = {
    mi.StrType: "text", mi.UUIDType: "uuid", mi.FloatType: "float8",
    mi.DateTimeType: "timestamptz",  # aware: the record's times are AwareDateTime
}  # fmt: skip
"""PostgreSQL type of each value type a row holds (a nullable field: of what it holds)."""


def _column_type(field: msgspec.structs.FieldInfo) -> str:
    """The PostgreSQL type of `field`'s column (at import: a new field's type is caught)."""
    if field.name in _COLUMN_TYPES:
        return _COLUMN_TYPES[field.name]
    info = mi.type_info(_AS.get(field.name, field.type))
    held = info.types if isinstance(info, mi.UnionType) else (info,)
    [value, *others] = [t for t in held if not isinstance(t, mi.NoneType)]
    pg_type = None if others else _PG_TYPES.get(type(value))
    if pg_type is None or (isinstance(value, mi.DateTimeType) and not value.tz):
        known = ", ".join(t.__name__ for t in _PG_TYPES)
        raise TypeError(
            f"StoredEvent.{field.name}: no PostgreSQL type for {field.type!r}; a column holds "
            f"one of {known} (aware datetimes), or None: map the type in records._PG_TYPES"
        )
    return pg_type


COLUMNS: Final = tuple(_COLUMN_NAMES.get(f.name, f.name) for f in FIELDS[1:])
"""The columns of `events` in their order: a row's values, and COPY's column list."""
COPY_TYPES: Final = tuple(_column_type(f) for f in FIELDS[1:])
"""PostgreSQL types of `COLUMNS`, for binary COPY (the text format cost 6 µs/row in Python)."""
EVENT_TIME: Final = COLUMNS.index("event_time")

Row = tuple[object, ...]

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
