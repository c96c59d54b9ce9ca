"""Judging an event's `properties`: a JSON object PostgreSQL's jsonb stores as sent.

Pure. msgspec has already skipped the object as valid JSON (it refuses NaN, Infinity,
lone surrogates and raw control characters); what jsonb or a later sum could still
refuse is judged here: NUL (jsonb has none), nesting, numbers beyond what a double or a
64-bit integer holds (jsonb's numeric overflows at 1e131072, and 1e400 or a 5,000-digit
integer is no number an analyst can sum), the key count and the size. Most objects are
small and plain: those pass on a few C-speed scans; only the others are decoded.
"""

import math
import re
from typing import Final

import msgspec

from apps.core import limits

_OPEN_BRACE: Final = ord("{")
# A \u0000 escape not itself escaped (preceded by an even number of backslashes).
_NUL_ESCAPE: Final = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
# Each key takes at least 5 characters ("":0,): fewer cannot hold too many keys.
_KEYS_SURELY_WITHIN: Final = (limits.MAX_PROPERTIES_KEYS + 1) * 5
# A number with an exponent (always after a digit in JSON) or a run of 16 digits: without
# either, every number is at most 33 characters, below 1e16 and never rounds to 0. (On the
# bytes, ASCII digits: `\d` on text tries every Unicode digit, 3 times slower.)
_RISKY_NUMBER: Final = re.compile(rb"[0-9](?:[eE]|[0-9]{15})")
# Nesting N levels takes at least 2N characters: shorter text needs no bracket count.
_SURELY_SHALLOW: Final = 2 * (limits.MAX_PROPERTIES_DEPTH + 1)
_STRING: Final = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKET: Final = re.compile(r"[^\[\]{}]+")
_LONG_DIGITS: Final = re.compile(rb"[0-9]{16}")
"""Without a run of 16 digits, no integer can leave 64 bits."""
_compact = msgspec.json.Encoder()


class PropertiesError(Exception):
    """Why `properties` cannot be stored; `too_large` when a size limit was passed."""

    def __init__(self, reason: str, *, too_large: bool = False) -> None:
        super().__init__(reason)
        self.reason, self.too_large = reason, too_large


def check(raw: bytes | msgspec.Raw, nul_possible: bool) -> str:
    """The properties object as the JSON text to store, or `PropertiesError`.

    `raw` is what msgspec skipped as the value (valid JSON); `nul_possible` says whether
    the body holds a `\\u0000` escape at all (if not, this one cannot).
    """
    try:
        text = str(raw, "utf-8")
    except UnicodeDecodeError:
        text = ""
    if not text or text[0] != "{" or nul_possible:
        data = memoryview(raw)
        if len(data) == 0 or data[0] != _OPEN_BRACE:
            raise PropertiesError("must be a JSON object")
        if nul_possible and _NUL_ESCAPE.search(data):
            raise PropertiesError("must not contain NUL characters (\\u0000)")
        if not text:
            raise PropertiesError("must be valid UTF-8")
    size = len(text)
    if (
        size < _KEYS_SURELY_WITHIN
        and (
            size < _SURELY_SHALLOW
            or text.count("{") + text.count("[") <= limits.MAX_PROPERTIES_DEPTH
        )
        and _RISKY_NUMBER.search(raw) is None
    ):
        return text
    return _check_slowly(raw, text)


def _check_slowly(raw: bytes | msgspec.Raw, text: str) -> str:
    if text.count("{") + text.count("[") > limits.MAX_PROPERTIES_DEPTH:
        depth = nesting_depth(text)
        if depth > limits.MAX_PROPERTIES_DEPTH:
            raise PropertiesError(
                f"nests {depth} levels deep; at most {limits.MAX_PROPERTIES_DEPTH}",
                too_large=True,
            )
    try:
        value = _decoder.decode(raw)  # every non-integer number through `_fraction`
    except msgspec.ValidationError:  # an integer of thousands of digits
        raise PropertiesError(
            "has an integer beyond 64 bits; integers must fit -2**63..2**64-1"
        ) from None
    except RecursionError:  # not after the depth check; a guard all the same
        raise PropertiesError("nests too deeply", too_large=True) from None
    assert isinstance(value, dict)
    if _LONG_DIGITS.search(raw) is not None:
        _check_integers(value)
    if len(value) > limits.MAX_PROPERTIES_KEYS:
        raise PropertiesError(
            f"has {len(value)} keys; at most {limits.MAX_PROPERTIES_KEYS} allowed",
            too_large=True,
        )
    if len(memoryview(raw)) <= limits.MAX_PROPERTIES_BYTES:
        return text
    compact = _compact.encode(value)
    if len(compact) > limits.MAX_PROPERTIES_BYTES:
        raise PropertiesError(
            f"is {len(compact)} bytes as compact JSON; at most {limits.MAX_PROPERTIES_BYTES}",
            too_large=True,
        )
    return compact.decode()


def _check_integers(value: object) -> None:
    """Every integer in `value` fits 64 bits (a longer one would not: no length check)."""
    if isinstance(value, dict):
        for item in value.values():
            _check_integers(item)
    elif isinstance(value, list):
        for item in value:
            _check_integers(item)
    elif type(value) is int and not (limits.MIN_PROPERTY_INT <= value <= limits.MAX_PROPERTY_INT):
        raise PropertiesError(
            f"has the integer {value}; integers must fit 64 bits (-2**63..2**64-1)"
        )


def nesting_depth(text: str, stop_after: int = limits.MAX_PROPERTIES_DEPTH) -> int:
    """How deeply the JSON `text` nests arrays and objects (counting stops past `stop_after`)."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    depth = deepest = 0
    for ch in brackets:
        if ch in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > stop_after:
                    break
        else:
            depth -= 1
    return deepest


def _too_long(token: str) -> None:
    if len(token) > limits.MAX_NUMBER_CHARS:
        raise PropertiesError(
            f"has a number of {len(token)} characters ({token[:12]}...); "
            f"at most {limits.MAX_NUMBER_CHARS}"
        )


def _fraction(token: str) -> float:
    _too_long(token)
    value = float(token)
    if math.isinf(value):
        raise PropertiesError(
            f"has the number {token}, beyond a 64-bit float (magnitude at most 1.8e308)"
        )
    if value == 0.0 and any(c in "123456789" for c in re.split("[eE]", token, maxsplit=1)[0]):
        raise PropertiesError(
            f"has the number {token}, too close to 0 for a 64-bit float "
            "(a magnitude of at least 5e-324, or 0)"
        )
    return value


_decoder: Final = msgspec.json.Decoder(float_hook=_fraction)
