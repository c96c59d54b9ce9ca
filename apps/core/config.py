"""Reading typed values from a string mapping (the environment) with errors that name the key.

Pure: the caller passes the mapping, so only a service's `main` touches os.environ.
"""

from collections.abc import Mapping
from datetime import timedelta

from apps.core.errors import ConfigError

PREFIX = "GAMEMETRICS_"


class EnvReader:
    """Reads `GAMEMETRICS_<NAME>` keys from a mapping."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env

    def key(self, name: str) -> str:
        return PREFIX + name

    def text(self, name: str, default: str | None = None) -> str:
        value = self._env.get(self.key(name))
        if value is None or value == "":
            if default is None:
                raise ConfigError(f"{self.key(name)} is required and not set")
            return default
        return value

    def integer(self, name: str, default: int, *, minimum: int = 0, maximum: int = 2**31) -> int:
        raw = self._env.get(self.key(name))
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ConfigError(f"{self.key(name)}={raw!r} is not an integer") from None
        if not minimum <= value <= maximum:
            raise ConfigError(f"{self.key(name)}={value} is outside {minimum}..{maximum}")
        return value

    def seconds(self, name: str, default: timedelta, *, minimum: float = 0) -> timedelta:
        raw = self._env.get(self.key(name))
        if raw is None or raw == "":
            return default
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(f"{self.key(name)}={raw!r} is not a number of seconds") from None
        if value < minimum:
            raise ConfigError(f"{self.key(name)}={value} is below the minimum {minimum}")
        return timedelta(seconds=value)

    def flag(self, name: str, default: bool) -> bool:
        raw = self._env.get(self.key(name))
        if raw is None or raw == "":
            return default
        lowered = raw.strip().lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off"}:
            return False
        raise ConfigError(f"{self.key(name)}={raw!r} is not a boolean (true/false)")
