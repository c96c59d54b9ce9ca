"""Reading what a request sent: a small JSON object body, path ids, query parameters.

Pure: each reader returns the value or raises the core's `BatchError` (400)
naming the field and saying what is allowed; unknown body fields are refused
by name, so a typo never passes silently.
"""

import uuid
from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Final

import msgspec

from apps.core.errors import BatchError

Body = dict[str, object]
MAX_STRING_CHARS: Final = 1000


def json_object(raw: bytes, allowed: Collection[str]) -> Body:
    """The body as a JSON object with only `allowed` keys; an empty body is `{}`."""
    if not raw.strip():
        return {}
    try:
        value = msgspec.json.decode(raw)
    except UnicodeDecodeError:
        raise BatchError("body", "not UTF-8; send a UTF-8 JSON object") from None
    except (msgspec.DecodeError, RecursionError):
        raise BatchError("body", "not JSON; send a JSON object") from None
    if not isinstance(value, dict):
        raise BatchError("body", "must be a JSON object")
    for key in value:
        if key not in allowed:
            shown = ", ".join(sorted(allowed)) or "none"
            named = key.isprintable() and 0 < len(key) <= 100
            raise BatchError(
                key if named else "body",
                f"unknown field{'' if named else f' {key[:40]!r}'}; allowed: {shown}",
            )
    return value


def string(body: Body, name: str, *, required: bool = True) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise BatchError(name, "required: a string")
        return None
    if not isinstance(value, str):
        raise BatchError(name, f"must be a string, not {type(value).__name__}")
    if len(value) > MAX_STRING_CHARS:
        raise BatchError(name, f"{len(value)} characters; at most {MAX_STRING_CHARS}")
    if "\x00" in value:
        raise BatchError(name, "holds a NUL character")
    try:
        value.encode()
    except UnicodeEncodeError:
        raise BatchError(
            name, "holds a lone surrogate (\\ud800-\\udfff); send valid Unicode"
        ) from None
    return value


def required_string(body: Body, name: str) -> str:
    value = string(body, name)
    assert value is not None
    return value


def integer(body: Body, name: str, minimum: int, maximum: int) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise BatchError(name, f"must be an integer {minimum} to {maximum}")
    if not minimum <= value <= maximum:
        raise BatchError(name, f"{value}; allowed {minimum} to {maximum}")
    return value


def identifier(value: str, name: str) -> uuid.UUID:
    """A UUID from the path or the query; 400 naming `name` when it is not one."""
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        raise BatchError(name, f"{value[:64]!r} is not a UUID") from None
    return parsed


def query_value(query: Mapping[str, str], name: str) -> str | None:
    value = query.get(name)
    return None if value is None or value == "" else value


def timestamp(query: Mapping[str, str], name: str) -> datetime | None:
    value = query_value(query, name)
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise BatchError(name, f"{value[:64]!r} is not an ISO 8601 date-time") from None
    if moment.tzinfo is None:
        raise BatchError(name, "needs a UTC offset (Z or +hh:mm)")
    if not 1900 <= moment.year <= 9000:
        raise BatchError(name, "the year must be 1900 to 9000")
    return moment


def query_integer(query: Mapping[str, str], name: str, minimum: int, maximum: int) -> int | None:
    value = query_value(query, name)
    if value is None:
        return None
    if not value.isascii() or not value.isdigit() or len(value) > 19:
        raise BatchError(name, f"{value[:64]!r} is not an integer {minimum} to {maximum}")
    number = int(value)
    if not minimum <= number <= maximum:
        raise BatchError(name, f"{number}; allowed {minimum} to {maximum}")
    return number
