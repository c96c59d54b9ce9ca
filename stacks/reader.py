"""Reading one mapping of stack settings, with errors that name the key and what is allowed."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from typing import TypeVar, cast

from stacks.errors import ConfigError

_T = TypeVar("_T")


class Section:
    """One mapping of settings; records which keys were read so unknown ones are reported."""

    def __init__(self, key: str, raw: object) -> None:
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise ConfigError(f"{key}: expected a mapping of settings, got {show(raw)}")
        self.key = key
        self._raw: dict[str, object] = raw
        self._read: set[str] = set()

    def _get(self, name: str) -> object | None:
        self._read.add(name)
        return self._raw.get(name)

    def _fail(self, name: str, expected: str, value: object) -> ConfigError:
        return ConfigError(f"{self.key}.{name}: expected {expected}, got {show(value)}")

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        value = self._get(name)
        if value is None:
            return default
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise self._fail(name, f"an integer from {low} to {high}", value)
        return value

    def boolean(self, name: str, default: bool) -> bool:
        value = self._get(name)
        if value is None:
            return default
        if isinstance(value, str) and value.lower() in {"true", "false"}:
            return value.lower() == "true"
        if not isinstance(value, bool):
            raise self._fail(name, "true or false", value)
        return value

    def string(
        self, name: str, default: str, *, allowed: tuple[str, ...] = (), pattern: str = ""
    ) -> str:
        value = self._get(name)
        if value is None:
            return default
        if isinstance(value, int | float) and not isinstance(value, bool) and pattern:
            value = str(value)  # `version: 1.34` written without quotes
        expected = f"one of {', '.join(allowed)}" if allowed else (pattern or "a string")
        if not isinstance(value, str) or not value:
            raise self._fail(name, expected, value)
        if allowed and value not in allowed:
            raise self._fail(name, expected, value)
        if pattern and not re.fullmatch(pattern, value):
            raise self._fail(name, f"a string matching {pattern}", value)
        return value

    def optional_string(self, name: str, *, pattern: str = "") -> str | None:
        if self._raw.get(name) is None:
            self._read.add(name)
            return None
        return self.string(name, "", pattern=pattern)

    def strings(
        self, name: str, default: tuple[str, ...], *, non_empty: bool = False
    ) -> tuple[str, ...]:
        value = self._get(name)
        if value is None:
            return default
        what = "a non-empty list of strings" if non_empty else "a list of strings"
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self._fail(name, what, value)
        if non_empty and not value:
            raise self._fail(name, what, value)
        return tuple(cast(list[str], value))

    def cidrs(self, name: str, default: tuple[str, ...], *, allow_world: bool) -> tuple[str, ...]:
        values = self.strings(name, default)
        for value in values:
            try:
                network = ipaddress.ip_network(value, strict=True)
            except ValueError:
                raise self._fail(name, "IPv4 CIDR blocks such as 203.0.113.0/24", value) from None
            if not allow_world and network.prefixlen == 0:
                raise self._fail(
                    name, "an allow-list of specific CIDR blocks (not the world)", value
                )
        return values

    def labels(self, name: str) -> dict[str, str]:
        value = self._get(name)
        if value is None:
            return {}
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise self._fail(name, "a mapping of strings to strings", value)
        return dict(value)

    def sections(self, name: str) -> Iterator[Section] | None:
        value = self._get(name)
        if value is None:
            return None
        if not isinstance(value, list) or not value:
            raise self._fail(name, "a non-empty list of mappings", value)
        return (Section(f"{self.key}.{name}[{i}]", item) for i, item in enumerate(value))

    def finish(self, result: _T) -> _T:
        unknown = sorted(set(self._raw) - self._read)
        if unknown:
            allowed = ", ".join(sorted(self._read))
            raise ConfigError(
                f"{self.key}: unknown setting {', '.join(unknown)}; allowed: {allowed}"
            )
        return result


def show(value: object) -> str:
    return "nothing" if value is None else f"{value!r} ({type(value).__name__})"
