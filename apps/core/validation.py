"""Judging a batch: every event accepted or rejected with its field and reason.

Pure: no I/O, no clock (the caller passes the receive time). The only
exceptions that leave `parse_batch` are `BatchError` (the request as a whole
is unusable) and `TooLarge` (more events than allowed); anything wrong with
one event becomes a `Rejection` and the rest of the batch goes on.
"""

import re
import string
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final, get_args

import msgspec

from apps.core import countries, currency, limits
from apps.core import properties as properties_
from apps.core.errors import BatchError, TooLarge
from apps.core.events import (
    BUILTIN_TYPES,
    EMPTY_OBJECT,
    PROGRESSION,
    PURCHASE,
    SCHEMA_VERSION,
    SESSION_END,
    SESSION_START,
    Country,
    Currency,
    EventType,
    IncomingBatch,
    IncomingEvent,
    StoredEvent,
    UncheckedBatch,
    UncheckedEvent,
)
from apps.core.player_ids import CONTROL_CHARS, CONTROL_ERROR

EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND: Final = timedelta(milliseconds=1)

# Which event types a typed field may appear on, and which it requires there.
TYPED_FIELDS: Final[dict[str, frozenset[str]]] = {
    "duration_seconds": frozenset({SESSION_END}),
    "amount": frozenset({PURCHASE}),
    "currency": frozenset({PURCHASE}),
    "item_id": frozenset({PURCHASE}),
    "level": frozenset({PROGRESSION}),
    "status": frozenset({PROGRESSION}),
}
REQUIRED_FIELDS: Final[dict[str, tuple[str, ...]]] = {
    SESSION_START: ("session_id",),
    SESSION_END: ("session_id", "duration_seconds"),
    PURCHASE: ("amount", "currency"),
    PROGRESSION: ("level", "status"),
}
# The typed fields each type may not carry, in TYPED_FIELDS order (a custom type: none).
_ALL_TYPED: Final = tuple(TYPED_FIELDS)
_NOT_ALLOWED: Final = {
    etype: tuple(name for name, types in TYPED_FIELDS.items() if etype not in types)
    for etype in BUILTIN_TYPES
}

# Reason codes: a closed set, used as a metrics label.
MISSING_FIELD: Final = "missing_field"
UNKNOWN_FIELD: Final = "unknown_field"
INVALID_FIELD: Final = "invalid_field"
FIELD_NOT_ALLOWED: Final = "field_not_allowed"
UNSUPPORTED_CURRENCY: Final = "unsupported_currency"
PROPERTIES_TOO_LARGE: Final = "properties_too_large"
TIMESTAMP_IN_FUTURE: Final = "timestamp_in_future"
TIMESTAMP_TOO_OLD: Final = "timestamp_too_old"
REASON_CODES: Final = (
    MISSING_FIELD,
    UNKNOWN_FIELD,
    INVALID_FIELD,
    FIELD_NOT_ALLOWED,
    UNSUPPORTED_CURRENCY,
    PROPERTIES_TOO_LARGE,
    TIMESTAMP_IN_FUTURE,
    TIMESTAMP_TOO_OLD,
)

_FRIENDLY: Final[dict[str, str]] = {
    "event_id": "must be a UUID string",
    "timestamp": "must be an RFC 3339 date-time with a UTC offset, or epoch milliseconds (integer)",
    "type": f"must be a built-in type or a custom type matching {limits.TYPE_PATTERN}",
    "country": "must be an assigned ISO 3166-1 alpha-2 country code",
    "currency": "must be an ISO 4217 currency code (three upper-case letters)",
    "status": "must be one of start, complete, fail",
    "level": (
        f"must be an integer of 0..{limits.MAX_LEVEL} or a string of "
        f"1..{limits.MAX_SHORT_TEXT_CHARS} chars"
    ),
    "amount": f"must be a number greater than 0 and at most {limits.MAX_AMOUNT:g} (major units)",
    "duration_seconds": (
        f"must be a number of seconds from 0 to {limits.MAX_DURATION_SECONDS} (30 days)"
    ),
    "player_id": f"must be a string of 1..{limits.MAX_ID_CHARS} characters",
    "session_id": f"must be a string of 1..{limits.MAX_ID_CHARS} characters",
    "item_id": f"must be a string of 1..{limits.MAX_ID_CHARS} characters",
    "platform": f"must be a string of 1..{limits.MAX_SHORT_TEXT_CHARS} characters",
    "app_version": f"must be a string of 1..{limits.MAX_SHORT_TEXT_CHARS} characters",
}
_AT_PATH = re.compile(r"^(?P<msg>.*?) - at `\$(?:\.(?P<field>[A-Za-z_0-9]+))?[^`]*`$", re.DOTALL)
_NAMED = re.compile(r"`(?P<field>[^`]+)`")
# Identifiers and labels hold no control character (C0, DEL, C1): PostgreSQL text cannot
# hold NUL, and the others are no part of a name an analyst reads or filters by.
_TEXT_FIELDS: Final = ("player_id", "session_id", "platform", "app_version", "item_id", "level")
_CONTROL: Final = CONTROL_CHARS
_CONTROL_ERROR: Final = CONTROL_ERROR
_event_decoder = msgspec.json.Decoder(IncomingEvent)
_unchecked_decoder = msgspec.json.Decoder(UncheckedEvent)
_unchecked_batch_decoder = msgspec.json.Decoder(UncheckedBatch)
_NUL_TEXT: Final = b"\\u0000"
"""JSON can carry NUL only escaped (the decoder refuses a raw one): a body without this
text holds no NUL anywhere, and its properties skip the NUL scan."""
_EMPTY_PROPERTIES: Final = "{}"
_NESTED: Final = (
    "is nested too deeply for the decoder "
    f"(properties may nest {limits.MAX_PROPERTIES_DEPTH} levels)"
)


def _pattern(annotated: object) -> re.Pattern[str]:
    """The `msgspec.Meta(pattern=...)` of an Annotated type (msgspec applies it with search)."""
    [meta] = get_args(annotated)[1:]
    assert isinstance(meta, msgspec.Meta)
    assert meta.pattern is not None
    return re.compile(meta.pattern)


# What `UncheckedEvent` leaves out, checked by lookup; anything not found here is decoded
# again by `IncomingEvent`, which then decides. Grown at run time, so bounded.
_TYPE: Final = _pattern(EventType)
_KNOWN_TYPES: Final = {t for t in BUILTIN_TYPES if _TYPE.search(t)}
_MAX_KNOWN_TYPES: Final = 10_000
_COUNTRY_UPPER: Final = {
    code: code.upper()
    for a in string.ascii_letters
    for b in string.ascii_letters
    if _pattern(Country).search(code := a + b) and code.upper() in countries.ASSIGNED
}
_CURRENCIES: Final = frozenset(
    code for code in currency.USD_PER_UNIT if _pattern(Currency).search(code)
)
_batch_decoder = msgspec.json.Decoder(IncomingBatch)


@dataclass(frozen=True, slots=True)
class TimePolicy:
    """How far event times may stray from the receive time."""

    late_horizon: timedelta = limits.DEFAULT_LATE_HORIZON
    max_future: timedelta = limits.MAX_FUTURE


@dataclass(frozen=True, slots=True)
class Rejection:
    index: int
    field: str
    error: str
    code: str

    def as_json(self) -> dict[str, object]:
        return {"index": self.index, "field": self.field, "error": self.error}


@dataclass(slots=True)
class BatchResult:
    accepted: list[StoredEvent] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)


class _Reject(Exception):
    def __init__(self, field: str, error: str, code: str) -> None:
        self.field, self.error, self.code = field, error, code


def parse_batch(
    body: bytes, *, game_id: str, received_at: datetime, policy: TimePolicy
) -> BatchResult:
    """Decode and judge a request body (already decompressed and size-checked).

    `received_at` must be timezone-aware. Raises `BatchError` for malformed
    JSON or envelope and `TooLarge` for too many events.
    """
    try:
        batch: UncheckedBatch | IncomingBatch = _unchecked_batch_decoder.decode(body)
    except (msgspec.DecodeError, UnicodeDecodeError):
        # Something is wrong somewhere: judge the envelope, then each event on its own.
        batch = _decode_envelope(body)
    except RecursionError:
        raise BatchError("body", _NESTED) from None
    n = len(batch.events)
    if n > limits.MAX_EVENTS_PER_BATCH:
        raise TooLarge("events", f"{n} events; at most {limits.MAX_EVENTS_PER_BATCH} per request")
    if n == 0:
        raise BatchError("events", f"must hold 1 to {limits.MAX_EVENTS_PER_BATCH} events")
    skew = timedelta(0)
    if batch.sent_at is not None:
        try:
            skew = received_at - _as_utc(batch.sent_at)
        except OverflowError:
            raise BatchError(
                "sent_at", "is out of range once converted to UTC (before 0001 or after 9999)"
            ) from None
    window = _Window(
        game_id,
        received_at,
        skew,
        received_at - policy.late_horizon,
        received_at + policy.max_future,
        policy,
        b"\\" in body and _NUL_TEXT in body,  # memchr first: most bodies have no escapes
        # A control character arrives escaped (\n, \u0001), as DEL or as a C1 (UTF-8 C2 ..).
        b"\\" in body or b"\x7f" in body or b"\xc2" in body,
    )
    result = BatchResult()
    accept, reject = result.accepted.append, result.rejected.append
    if isinstance(batch, IncomingBatch):
        for index, raw in enumerate(batch.events):
            try:
                accept(_judge(_decode(raw), window))
            except _Reject as r:
                reject(Rejection(index, r.field, r.error, r.code))
        return result
    raws: list[msgspec.Raw] | None = None
    for index, unchecked in enumerate(batch.events):
        try:
            ev: IncomingEvent | UncheckedEvent = unchecked
            if not _passes_patterns(unchecked):
                if raws is None:
                    raws = _decode_envelope(body).events
                ev = _decode_checked(raws[index])
            accept(_judge(ev, window))
        except _Reject as r:
            reject(Rejection(index, r.field, r.error, r.code))
    return result


@dataclass(frozen=True, slots=True)
class _Window:
    """Per-batch constants, computed once rather than per event."""

    game_id: str
    received_at: datetime
    skew: timedelta
    earliest: datetime
    latest: datetime
    policy: TimePolicy
    nul_possible: bool
    """The body has an escaped NUL somewhere: check the properties for one."""
    controls_possible: bool
    """The body may hold a control character: check each text field for one."""


def _decode_envelope(body: bytes) -> IncomingBatch:
    try:
        return _batch_decoder.decode(body)
    except RecursionError:
        raise BatchError("body", _NESTED) from None
    except msgspec.ValidationError as e:
        fld, msg, _ = _explain(str(e))
        raise BatchError("body" if fld == "event" else fld, msg) from None
    except msgspec.DecodeError as e:
        raise BatchError("body", f"malformed JSON: {e}") from None
    except UnicodeDecodeError:
        raise BatchError("body", "malformed JSON: not valid UTF-8") from None


def _judge(ev: IncomingEvent | UncheckedEvent, window: _Window) -> StoredEvent:
    etype = ev.type
    if etype in REQUIRED_FIELDS or _has_typed_fields(ev):
        _check_typed_fields(ev)
    code = ev.currency
    if code is not None and not currency.is_supported(code):
        raise _Reject(
            "currency",
            f"{code} is not in the shipped rate table (rates of {currency.RATES_DATE})",
            UNSUPPORTED_CURRENCY,
        )
    if window.controls_possible:
        for name in _TEXT_FIELDS:
            value = getattr(ev, name)
            if isinstance(value, str) and _CONTROL.search(value):
                raise _Reject(name, _CONTROL_ERROR, INVALID_FIELD)
    raw_properties = ev.properties
    properties = _EMPTY_PROPERTIES
    if raw_properties is not EMPTY_OBJECT:
        try:
            properties = properties_.check(raw_properties, window.nul_possible)
        except properties_.PropertiesError as e:
            code = PROPERTIES_TOO_LARGE if e.too_large else INVALID_FIELD
            raise _Reject("properties", e.reason, code) from None

    timestamp = ev.timestamp
    try:
        client_time = (
            EPOCH + _MILLISECOND * timestamp
            if isinstance(timestamp, int)
            else timestamp.astimezone(UTC)
        )
    except OverflowError:
        raise _Reject(
            "timestamp",
            "is out of range once converted to UTC (before 0001 or after 9999)",
            INVALID_FIELD,
        ) from None
    try:
        event_time = client_time + window.skew
    except OverflowError:
        raise _Reject(
            "timestamp", "out of range after clock-skew correction", INVALID_FIELD
        ) from None
    if event_time > window.latest or event_time < window.earliest:
        _reject_time(event_time, window)
    country = ev.country
    if country is not None:
        assigned = _COUNTRY_UPPER.get(country)
        if assigned is None:
            raise _Reject(
                "country",
                f"{country} is not an assigned ISO 3166-1 alpha-2 country code",
                INVALID_FIELD,
            )
        country = assigned
    level = ev.level
    return StoredEvent(
        SCHEMA_VERSION, window.game_id, ev.event_id, etype, ev.player_id, ev.session_id,
        event_time, client_time, window.received_at, ev.platform, country, ev.app_version,
        properties, ev.duration_seconds, ev.amount, code, ev.item_id,
        str(level) if level is not None else None, ev.status,
    )  # fmt: skip


def _decode(raw: msgspec.Raw) -> IncomingEvent | UncheckedEvent:
    """`IncomingEvent`'s verdict, mostly without its patterns (see `UncheckedEvent`)."""
    try:
        ev = _unchecked_decoder.decode(raw)
    except msgspec.ValidationError:
        return _decode_checked(raw)
    except UnicodeDecodeError:
        raise _Reject("event", "must be valid UTF-8", INVALID_FIELD) from None
    except RecursionError:
        raise _Reject("event", _NESTED, INVALID_FIELD) from None
    return ev if _passes_patterns(ev) else _decode_checked(raw)


def _passes_patterns(ev: UncheckedEvent) -> bool:
    """Whether `IncomingEvent`'s patterns surely accept `ev` (False: let it decide)."""
    etype, country, code = ev.type, ev.country, ev.currency
    return (
        (etype in _KNOWN_TYPES or _new_type(etype))
        and (country is None or country in _COUNTRY_UPPER)
        and (code is None or code in _CURRENCIES)
    )


def _decode_checked(raw: msgspec.Raw) -> IncomingEvent:
    try:
        return _event_decoder.decode(raw)
    except msgspec.ValidationError as e:
        raise _Reject(*_explain(str(e))) from None
    except UnicodeDecodeError:
        raise _Reject("event", "must be valid UTF-8", INVALID_FIELD) from None
    except RecursionError:
        raise _Reject("event", _NESTED, INVALID_FIELD) from None


def _new_type(etype: str) -> bool:
    if _TYPE.search(etype) is None:
        return False
    if len(_KNOWN_TYPES) < _MAX_KNOWN_TYPES:
        _KNOWN_TYPES.add(etype)
    return True


def _has_typed_fields(ev: IncomingEvent | UncheckedEvent) -> bool:
    return not (
        ev.duration_seconds is None
        and ev.amount is None
        and ev.currency is None
        and ev.item_id is None
        and ev.level is None
        and ev.status is None
    )


def _check_typed_fields(ev: IncomingEvent | UncheckedEvent) -> None:
    etype = ev.type
    for name in _NOT_ALLOWED.get(etype, _ALL_TYPED):
        if getattr(ev, name) is not None:
            allowed = ", ".join(sorted(TYPED_FIELDS[name]))
            raise _Reject(
                name,
                f"applies only to {allowed} events; put other data in properties",
                FIELD_NOT_ALLOWED,
            )
    for name in REQUIRED_FIELDS.get(etype, ()):
        if getattr(ev, name) is None:
            raise _Reject(name, f"is required for {etype} events", MISSING_FIELD)


def _reject_time(event_time: datetime, window: _Window) -> None:
    policy = window.policy
    if event_time > window.latest:
        raise _Reject(
            "timestamp",
            f"{event_time.isoformat()} after clock-skew correction is more than "
            f"{_human(policy.max_future)} in the future",
            TIMESTAMP_IN_FUTURE,
        )
    raise _Reject(
        "timestamp",
        f"{event_time.isoformat()} after clock-skew correction is older than the "
        f"late-event horizon of {_human(policy.late_horizon)}",
        TIMESTAMP_TOO_OLD,
    )


def _as_utc(value: datetime | int) -> datetime:
    if isinstance(value, int):
        return EPOCH + _MILLISECOND * value
    return value.astimezone(UTC)


def _explain(message: str) -> tuple[str, str, str]:
    """Turn a msgspec validation message into (field, reason, code)."""
    if message.startswith("Object missing required field"):
        m = _NAMED.search(message)
        return (m["field"] if m else "event"), "is required", MISSING_FIELD
    if message.startswith("Object contains unknown field"):
        m = _NAMED.search(message)
        return (
            (m["field"] if m else "event"),
            "is not a field of the event schema; put custom data in properties",
            UNKNOWN_FIELD,
        )
    m = _AT_PATH.match(message)
    if m and m["field"]:
        name = m["field"]
        return name, _FRIENDLY.get(name, m["msg"]), INVALID_FIELD
    if message.startswith("Expected `object`"):
        return "event", "must be a JSON object", INVALID_FIELD
    return "event", message, INVALID_FIELD


def _human(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds % 86400 == 0:
        return f"{seconds // 86400} days"
    if seconds % 60 == 0:
        return f"{seconds // 60} minutes"
    return f"{seconds} seconds"
