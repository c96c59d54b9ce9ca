"""Judging an event's `properties`: a JSON object PostgreSQL's jsonb stores as sent.

Pure. msgspec has already skipped the object as valid JSON (it refuses NaN, Infinity,
lone surrogates and raw control characters); what jsonb or a later sum could still
refuse is judged here: NUL (jsonb has none), nesting, numbers beyond what a double or a
64-bit integer holds (jsonb's numeric overflows at 1e131072, and 1e400 or a 5,000-digit
integer is no number an analyst can sum), the key count and the size. Most objects are
small and plain: those pass on a few C-speed scans; only the others are decoded.
"""

import json
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
# either, every number is at most 33 characters, below 1e16 and never rounds to 0.
_RISKY_NUMBER: Final = re.compile(r"\d[eE][+-]?\d|\d{16}")
_STRING: Final = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKET: Final = re.compile(r"[^\[\]{}]+")
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
    data = memoryview(raw)
    if len(data) == 0 or data[0] != _OPEN_BRACE:
        raise PropertiesError("must be a JSON object")
    try:
        text = str(raw, "utf-8")
    except UnicodeDecodeError:
        raise PropertiesError("must be valid UTF-8") from None
    if nul_possible and _NUL_ESCAPE.search(data):
        raise PropertiesError("must not contain NUL characters (\\u0000)")
    if (
        len(text) < _KEYS_SURELY_WITHIN
        and text.count("{") + text.count("[") <= limits.MAX_PROPERTIES_DEPTH
        and _RISKY_NUMBER.search(text) is None
    ):
        return text
    return _check_slowly(text, len(data))


def _check_slowly(text: str, size: int) -> str:
    depth = nesting_depth(text)
    if depth > limits.MAX_PROPERTIES_DEPTH:
        raise PropertiesError(
            f"nests {depth} levels deep; at most {limits.MAX_PROPERTIES_DEPTH}",
            too_large=True,
        )
    try:
        value = json.loads(text, parse_int=_integer, parse_float=_fraction)
    except RecursionError:  # not after the depth check; a guard all the same
        raise PropertiesError("nests too deeply", too_large=True) from None
    assert isinstance(value, dict)
    if len(value) > limits.MAX_PROPERTIES_KEYS:
        raise PropertiesError(
            f"has {len(value)} keys; at most {limits.MAX_PROPERTIES_KEYS} allowed",
            too_large=True,
        )
    if size <= limits.MAX_PROPERTIES_BYTES:
        return text
    compact = _compact.encode(value)
    if len(compact) > limits.MAX_PROPERTIES_BYTES:
        raise PropertiesError(
            f"is {len(compact)} bytes as compact JSON; at most {limits.MAX_PROPERTIES_BYTES}",
            too_large=True,
        )
    return compact.decode()


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


def _integer(token: str) -> int:
    _too_long(token)
    value = int(token)
    if not limits.MIN_PROPERTY_INT <= value <= limits.MAX_PROPERTY_INT:
        raise PropertiesError(
            f"has the integer {token}; integers must fit 64 bits (-2**63..2**64-1)"
        )
    return value


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
