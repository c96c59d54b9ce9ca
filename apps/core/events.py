"""The event schema: what clients send, what is stored, and the record between.

`IncomingEvent` is the wire contract of `POST /v1/events` (one event of a
batch). `StoredEvent` is the Kafka record the ingestion API produces and the
processor consumes: the validated event with its skew-corrected time, its
receive time and its game. Both are msgspec structs so that decoding and most
type checks run in C; the rules that span fields live in `validation.py`.
"""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Final, Literal

import msgspec

from apps.core import limits

SESSION_START: Final = "session_start"
SESSION_END: Final = "session_end"
PURCHASE: Final = "purchase"
PROGRESSION: Final = "progression"
RESOURCE: Final = "resource"
DESIGN: Final = "design"
ERROR: Final = "error"
BUILTIN_TYPES: Final = frozenset(
    {SESSION_START, SESSION_END, PURCHASE, PROGRESSION, RESOURCE, DESIGN, ERROR}
)

Id = Annotated[str, msgspec.Meta(min_length=1, max_length=limits.MAX_ID_CHARS)]
ShortText = Annotated[str, msgspec.Meta(min_length=1, max_length=limits.MAX_SHORT_TEXT_CHARS)]
EventType = Annotated[str, msgspec.Meta(pattern=limits.TYPE_PATTERN)]
Country = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z]{2}$")]
Currency = Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{3}$")]
AwareDateTime = Annotated[datetime, msgspec.Meta(tz=True)]
EpochMillis = Annotated[int, msgspec.Meta(ge=0, le=253402300799999)]
ProgressionStatus = Literal["start", "complete", "fail"]
Level = Annotated[int, msgspec.Meta(ge=0, le=limits.MAX_LEVEL)] | ShortText
EMPTY_OBJECT: Final = msgspec.Raw(b"{}")
# Bounded so that every rollup sum of valid values is finite (apps/core/limits.py).
Seconds = Annotated[float, msgspec.Meta(ge=0, le=limits.MAX_DURATION_SECONDS)]
Amount = Annotated[float, msgspec.Meta(gt=0, le=limits.MAX_AMOUNT)]


class IncomingEvent(msgspec.Struct, forbid_unknown_fields=True):
    """One event as a game client sends it."""

    event_id: uuid.UUID
    type: EventType
    player_id: Id
    timestamp: AwareDateTime | EpochMillis
    session_id: Id | None = None
    platform: ShortText | None = None
    country: Country | None = None
    app_version: ShortText | None = None
    properties: msgspec.Raw = EMPTY_OBJECT
    # typed fields, each allowed only on its event type (validation.TYPED_FIELDS)
    duration_seconds: Seconds | None = None
    amount: Amount | None = None
    currency: Currency | None = None
    item_id: Id | None = None
    level: Level | None = None
    status: ProgressionStatus | None = None


class UncheckedEvent(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """`IncomingEvent` less its three patterns (`type`, `country`, `currency`).

    msgspec checks a pattern through Python's `re`, about 0.3 µs each, a third
    of the cost of decoding an event. Validation decodes with this struct,
    checks those fields against sets of values known to match, and decodes
    again with `IncomingEvent` whenever anything is off, so the outcome and
    the error reported are always `IncomingEvent`'s. Otherwise the same
    fields, types and defaults (tests/apps/core/test_events.py).
    """

    event_id: uuid.UUID
    type: str
    player_id: Id
    timestamp: AwareDateTime | EpochMillis
    session_id: Id | None = None
    platform: ShortText | None = None
    country: str | None = None
    app_version: ShortText | None = None
    properties: msgspec.Raw = EMPTY_OBJECT
    duration_seconds: Seconds | None = None
    amount: Amount | None = None
    currency: str | None = None
    item_id: Id | None = None
    level: Level | None = None
    status: ProgressionStatus | None = None


class IncomingBatch(msgspec.Struct, forbid_unknown_fields=True):
    """The request body; events stay raw so each one is judged on its own."""

    events: list[msgspec.Raw]
    sent_at: AwareDateTime | EpochMillis | None = None


class UncheckedBatch(msgspec.Struct, forbid_unknown_fields=True):
    """The request body decoded in one pass, when every event fits `UncheckedEvent`
    (the common case); otherwise validation falls back to `IncomingBatch`."""

    events: list[UncheckedEvent]
    sent_at: AwareDateTime | EpochMillis | None = None


SCHEMA_VERSION: Final = 2
"""Version of the record layout below; the processor dead-letters any other."""


class StoredEvent(msgspec.Struct, array_like=True, gc=False):
    """The record on the events topic: a MessagePack array of these fields, in this order.

    The layout is the processor's row (`apps/processor/records.py`) behind the
    version, so a record decodes straight into a row in C. `event_time` is the
    skew-corrected time (what analytics count by), `client_time` the timestamp
    as the client sent it, `received_at` the server's receive time (all UTC,
    as MessagePack timestamps); `properties` is the client's JSON object as
    compact text (apps/core/properties.py). Keyed on Kafka by `partition_key`.
    Every field is positional and required: building one costs a sixth of
    keyword construction, and ingestion builds one per event. Not tracked by
    the garbage collector: it holds no containers, so it cannot be part of a
    cycle.
    """

    v: int
    game_id: str
    event_id: uuid.UUID
    type: str
    player_id: str
    session_id: str | None
    event_time: AwareDateTime
    client_time: AwareDateTime
    received_at: AwareDateTime
    platform: str | None
    country: str | None
    app_version: str | None
    properties: str
    duration_seconds: float | None
    amount: float | None
    currency: str | None
    item_id: str | None
    level: str | None
    status: str | None

    @property
    def partition_key(self) -> bytes:
        """Game and player: a player's events stay on one partition, in order."""
        return f"{self.game_id}/{self.player_id}".encode()


_encoder = msgspec.msgpack.Encoder(uuid_format="bytes")
_decoder = msgspec.msgpack.Decoder(StoredEvent)


def encode_stored(event: StoredEvent) -> bytes:
    return _encoder.encode(event)


def encode_records(game_id: str, events: Sequence[StoredEvent]) -> list[tuple[bytes, bytes]]:
    """(key, value) on the events topic of each event of `game_id` (`partition_key`, value)."""
    prefix = f"{game_id}/"
    encode = _encoder.encode
    return [((prefix + ev.player_id).encode(), encode(ev)) for ev in events]


def decode_stored(data: bytes) -> StoredEvent:
    """Decode a topic record; raises msgspec.DecodeError/ValidationError if malformed."""
    return _decoder.decode(data)
