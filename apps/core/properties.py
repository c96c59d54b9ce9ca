"""Judging an event's `properties`: a JSON object that jsonb stores and analysts can sum.

Pure. msgspec has already skipped the object as valid JSON (it refuses NaN, Infinity,
lone surrogates and raw control characters). Here it is decoded with its numbers bounded
and stored as msgspec writes it back (compact, every number a 64-bit integer or a finite
double), so nothing stored can overflow jsonb's numeric (1e131072) or a cast to double
(1e400, 1e-400, a 5,000-digit integer). Refused: NUL (jsonb has none), nesting past the
limit, integers beyond 64 bits, numbers beyond a double, too many keys, too many bytes.

A flat object (the usual) is decoded in one typed pass in C; decoding and re-encoding it
cost about half of what scanning its text for risky numbers with `re` did (callgrind, a
68-byte object: 6.7k against 15k instructions), and the text is as small as it can be.
Only objects with nested values or a refused number take the slower, precise path.
"""

import re
from collections.abc import Mapping
from typing import Annotated, Final

import msgspec

from apps.core import limits

_OPEN_BRACE: Final = ord("{")
# A \u0000 escape not itself escaped (preceded by an even number of backslashes).
_NUL_ESCAPE: Final = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
_STRING: Final = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKET: Final = re.compile(r"[^\[\]{}]+")

_Int64 = Annotated[int, msgspec.Meta(ge=limits.MIN_PROPERTY_INT, le=limits.MAX_PROPERTY_INT)]
_flat = msgspec.json.Decoder(dict[str, bool | _Int64 | float | str | None])
_any = msgspec.json.Decoder()
_encode = msgspec.json.Encoder().encode


class PropertiesError(Exception):
    """Why `properties` cannot be stored; `too_large` when a size limit was passed."""

    def __init__(self, reason: str, *, too_large: bool = False) -> None:
        super().__init__(reason)
        self.reason, self.too_large = reason, too_large


def check(raw: bytes | msgspec.Raw, nul_possible: bool) -> str:
    """The properties object as the compact JSON text to store, or `PropertiesError`.

    `raw` is what msgspec skipped as the value (valid JSON); `nul_possible` says whether
    the body holds a `\\u0000` escape at all (if not, this one cannot).
    """
    if nul_possible and _NUL_ESCAPE.search(memoryview(raw)):
        raise PropertiesError("must not contain NUL characters (\\u0000)")
    try:
        value: Mapping[str, object] = _flat.decode(raw)
    except msgspec.ValidationError:  # not an object, nested values, or a number refused
        value = _decoded_precisely(raw)
    except UnicodeDecodeError:
        raise PropertiesError("must be valid UTF-8") from None
    if len(value) > limits.MAX_PROPERTIES_KEYS:
        raise PropertiesError(
            f"has {len(value)} keys; at most {limits.MAX_PROPERTIES_KEYS} allowed",
            too_large=True,
        )
    text = _encode(value)
    if len(text) > limits.MAX_PROPERTIES_BYTES:
        raise PropertiesError(
            f"is {len(text)} bytes as compact JSON; at most {limits.MAX_PROPERTIES_BYTES}",
            too_large=True,
        )
    return text.decode()


def _decoded_precisely(raw: bytes | msgspec.Raw) -> dict[str, object]:
    data = memoryview(raw)
    if len(data) == 0 or data[0] != _OPEN_BRACE:
        raise PropertiesError("must be a JSON object")
    try:
        text = str(raw, "utf-8")
    except UnicodeDecodeError:
        raise PropertiesError("must be valid UTF-8") from None
    if text.count("{") + text.count("[") > limits.MAX_PROPERTIES_DEPTH:
        depth = nesting_depth(text)
        if depth > limits.MAX_PROPERTIES_DEPTH:
            raise PropertiesError(
                f"nests {depth} levels deep; at most {limits.MAX_PROPERTIES_DEPTH}",
                too_large=True,
            )
    try:
        value = _any.decode(raw)
    except msgspec.ValidationError as e:  # msgspec's words: "Number out of range", ...
        kind = "an integer" if "Integer" in str(e) else "a number"
        raise PropertiesError(
            f"has {kind} beyond a 64-bit float or integer (numbers within "
            f"±1.8e308, integers within -2**63..2**63-1)"
        ) from None
    except RecursionError:  # not after the depth check; a guard all the same
        raise PropertiesError("nests too deeply", too_large=True) from None
    assert isinstance(value, dict)
    _check_integers(value)
    return value


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


def _check_integers(value: object) -> None:
    """Every integer in `value` fits 64 bits (signed)."""
    if isinstance(value, dict):
        for item in value.values():
            _check_integers(item)
    elif isinstance(value, list):
        for item in value:
            _check_integers(item)
    elif type(value) is int and not (limits.MIN_PROPERTY_INT <= value <= limits.MAX_PROPERTY_INT):
        raise PropertiesError(
            f"has the integer {value}; integers must fit 64 bits (-2**63..2**63-1)"
        )
