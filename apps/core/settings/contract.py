"""Settings declared once: each field of a settings class names its environment variable.

A service's settings are a frozen dataclass deriving from `Settings`; each
field the environment may set carries `env(...)` metadata: its variable, its
bounds, whether it is secret, and whether the platform supplies it (`Wire`).
From that one declaration come

- `from_env(env)`: parse and validate, each error naming the variable;
- `env()`: the settings rendered back into what `from_env` reads;
- `variables()`: every variable with its type, default and secrecy;
- `wire(values)`: the variables the platform fills in (`gamemetrics dev`, the
  benchmarks and the Pulumi program all call it, so none types a name).

The reader follows the field's annotation (str, int, float, bool, timedelta as
seconds, a Literal, `X | None`), or the `parse`/`render` pair given. A field
without metadata is not configurable (code and tests set it); a field marked
`SECTION` holds a nested group of settings (a `Section`). Pure: the caller
passes the mapping, so only a service's `main` touches os.environ.
"""

import dataclasses
import enum
import math
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Final, Protocol, Self, TypeVar

from apps.core.errors import ConfigError
from apps.core.services import Service

PREFIX: Final = "GAMEMETRICS_"
_META: Final = "gamemetrics.env"
_SECTION: Final = "gamemetrics.section"
SECTION: Final[Mapping[str, object]] = types.MappingProxyType({_SECTION: True})
"""Metadata of a field that holds a nested group of settings (a `Section`)."""

_T = TypeVar("_T")


class Wire(enum.StrEnum):
    """Values the platform running a service supplies, to every service that declares them."""

    STACK = "stack"
    HOST = "host"
    PORT = "port"
    POSTGRES_DSN = "postgres_dsn"
    KAFKA_BOOTSTRAP = "kafka_bootstrap"
    REDIS_URL = "redis_url"
    CONSUMER_GROUP = "consumer_group"
    ARCHIVE_BUCKET = "archive_bucket"
    S3_ENDPOINT = "s3_endpoint"
    S3_ACCESS_KEY_ID = "s3_access_key_id"
    S3_SECRET_ACCESS_KEY = "s3_secret_access_key"  # noqa: S105 - a name, not a secret


@dataclasses.dataclass(frozen=True, slots=True)
class Spec:
    """How one field is read from, and written to, the environment."""

    name: str
    """The variable without the prefix: `INGEST_PORT` is read as GAMEMETRICS_INGEST_PORT."""
    doc: str = ""
    secret: bool = False
    """Holds a credential: infra puts it in a Secret, never a ConfigMap, and nothing prints it."""
    wire: Wire | None = None
    minimum: float | None = None
    maximum: float | None = None
    parse: Callable[[str, str], object] | None = None
    """(key, raw) -> value, for types the annotation alone does not say how to read."""
    render: Callable[[Any], str] | None = None
    default_from: Callable[[Mapping[str, object]], object] | None = None
    """The default computed from the fields read before it (when the variable is unset)."""

    @property
    def key(self) -> str:
        return PREFIX + self.name


def env(
    name: str,
    doc: str = "",
    *,
    secret: bool = False,
    wire: Wire | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
    parse: Callable[[str, str], object] | None = None,
    render: Callable[[Any], str] | None = None,
    default_from: Callable[[Mapping[str, object]], object] | None = None,
) -> Mapping[str, object]:
    """Field metadata declaring the field's variable: `field(default=..., metadata=env(...))`."""
    spec = Spec(name, doc, secret, wire, minimum, maximum, parse, render, default_from)
    return types.MappingProxyType({_META: spec})


def spec_of(metadata: Mapping[str, object]) -> Spec:
    spec = metadata.get(_META)
    if not isinstance(spec, Spec):
        raise TypeError("not the metadata of an env(...) declaration")
    return spec


@dataclasses.dataclass(frozen=True, slots=True)
class Variable:
    """One variable of a contract, as operators and the checks see it."""

    key: str
    field: str
    """Where it lands: the field's name, dotted for a section's field."""
    kind: str
    """What it accepts, in words: `integer 1..65535`, `seconds >= 0.001`, `one of a, b`."""
    default: str | None
    """The default as it would be written; None when the variable is required."""
    secret: bool
    wire: Wire | None
    doc: str


class Section(Protocol):
    """A group of settings read and written together (nested settings, Kafka TLS)."""

    @classmethod
    def variables(cls) -> tuple[Variable, ...]: ...

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Any: ...

    def env(self) -> dict[str, str]: ...


class Settings:
    """Base of a frozen settings dataclass whose fields carry `env(...)` metadata."""

    __slots__ = ()
    if TYPE_CHECKING:
        __dataclass_fields__: ClassVar[dict[str, dataclasses.Field[Any]]]

        def __init__(self, **values: Any) -> None: ...

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Self:
        """The settings the mapping describes; ConfigError names the first bad variable."""
        values: dict[str, object] = {}
        for f, hint in _fields(cls):
            spec = f.metadata.get(_META)
            if isinstance(spec, Spec):
                values[f.name] = _read(spec, hint, f, env, values)
            elif f.metadata.get(_SECTION):
                values[f.name] = _section(cls, f, hint).from_env(env)
        return cls(**values)

    def env(self) -> dict[str, str]:
        """The variables that `from_env` reads back into these settings (None: left unset)."""
        out: dict[str, str] = {}
        for f, hint in _fields(type(self)):
            value = getattr(self, f.name)
            spec = f.metadata.get(_META)
            if value is None:
                continue
            if isinstance(spec, Spec):
                out[spec.key] = _render(spec, _unwrap(hint), value)
            elif f.metadata.get(_SECTION):
                out |= typing.cast(Section, value).env()
        return out

    @classmethod
    def variables(cls) -> tuple[Variable, ...]:
        found: list[Variable] = []
        for f, hint in _fields(cls):
            spec = f.metadata.get(_META)
            if isinstance(spec, Spec):
                found.append(_describe(spec, f, _unwrap(hint)))
            elif f.metadata.get(_SECTION):
                found += [
                    dataclasses.replace(v, field=f"{f.name}.{v.field}")
                    for v in _section(cls, f, hint).variables()
                ]
        return tuple(found)

    @classmethod
    def key(cls, field_name: str) -> str:
        """The variable of a field (`max_batch` -> GAMEMETRICS_PROCESSOR_MAX_BATCH)."""
        for variable in cls.variables():
            if variable.field == field_name:
                return variable.key
        raise KeyError(f"{cls.__name__}.{field_name} is not read from the environment")

    @classmethod
    def keys(cls) -> frozenset[str]:
        return frozenset(v.key for v in cls.variables())

    @classmethod
    def wire(
        cls, values: Mapping[Wire, _T], *, secret: bool | None = None, complete: bool = True
    ) -> dict[str, _T]:
        """The platform's values under the variables this contract wires them to.

        Only declared variables are written; `secret` keeps only secret (True) or
        only plain (False) ones. With `complete`, a wire the contract requires but
        `values` lacks raises ConfigError naming the variable."""
        out: dict[str, _T] = {}
        for variable in cls.variables():
            if variable.wire is None or (secret is not None and variable.secret != secret):
                continue
            if variable.wire in values:
                out[variable.key] = values[variable.wire]
            elif complete and variable.default is None:
                raise ConfigError(
                    f"{cls.__name__} requires {variable.key} ({variable.wire.value}), "
                    "which was not supplied"
                )
        return out

    @classmethod
    def wires(cls) -> frozenset[Wire]:
        return frozenset(v.wire for v in cls.variables() if v.wire is not None)


class ServiceSettings(Settings):
    """The settings of a declared service: where it listens, and which service it is.

    A subclass that sets `SERVICE` is that service's contract (`for_service`)."""

    __slots__ = ()
    SERVICE: ClassVar[Service]
    host: str
    port: int

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        service = cls.__dict__.get("SERVICE")
        if service is None:
            return
        # `dataclass(slots=True)` makes a second class object: the same declaration again.
        known = _CONTRACTS.get(service.name)
        if known is not None and known.__qualname__ != cls.__qualname__:
            raise TypeError(
                f"{cls.__qualname__}: {known.__qualname__} is {service.name}'s contract"
            )
        _CONTRACTS[service.name] = cls


_CONTRACTS: Final[dict[str, type[ServiceSettings]]] = {}


def for_service(service: Service) -> type[ServiceSettings]:
    """The settings contract of a declared service (a `ServiceSettings` naming it)."""
    contract = _CONTRACTS.get(service.name)
    if contract is None or service != contract.SERVICE:
        known = ", ".join(sorted(_CONTRACTS))
        raise KeyError(f"no settings contract for service {service.name!r}; contracts: {known}")
    return contract


# --- reading and writing one variable -----------------------------------------------------


def _fields(cls: type) -> Iterator[tuple[dataclasses.Field[Any], Any]]:
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        yield f, hints[f.name]


def _unwrap(hint: Any) -> Any:
    """`X | None` -> X (an unset variable is None)."""
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (types.UnionType, typing.Union) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return hint


def _section(owner: type, f: dataclasses.Field[Any], hint: Any) -> type[Section]:
    section = _unwrap(hint)
    if not (isinstance(section, type) and hasattr(section, "variables")):
        raise TypeError(f"{owner.__name__}.{f.name}: a SECTION field must hold a Section type")
    return typing.cast(type[Section], section)


def _default(f: dataclasses.Field[Any]) -> object:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


def _read(
    spec: Spec,
    hint: Any,
    f: dataclasses.Field[Any],
    env: Mapping[str, str],
    before: Mapping[str, object],
) -> object:
    raw = env.get(spec.key)
    if raw is None or raw == "":
        if spec.default_from is not None:
            return spec.default_from(before)
        default = _default(f)
        if default is dataclasses.MISSING:
            raise ConfigError(f"{spec.key} is required and not set")
        return default
    if spec.parse is not None:
        return spec.parse(spec.key, raw)
    return _parse(spec, _unwrap(hint), raw)


def _parse(spec: Spec, kind: Any, raw: str) -> object:
    key = spec.key
    if kind is str:
        return raw
    if kind is bool:
        lowered = raw.strip().lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off"}:
            return False
        raise ConfigError(f"{key}={raw!r} is not a boolean (true/false)")
    if typing.get_origin(kind) is typing.Literal:
        allowed = typing.get_args(kind)
        if raw not in allowed:
            raise ConfigError(f"{key}={raw!r}; allowed: {', '.join(map(str, allowed))}")
        return raw
    if kind is int:
        try:
            number: float = int(raw)
        except ValueError:
            raise ConfigError(f"{key}={raw!r} is not an integer") from None
    elif kind in (float, timedelta):
        try:
            number = float(raw)
        except ValueError:
            what = "a number of seconds" if kind is timedelta else "a number"
            raise ConfigError(f"{key}={raw!r} is not {what}") from None
        if not math.isfinite(number):
            raise ConfigError(f"{key}={raw!r} is not a finite number")
    else:
        raise TypeError(f"{key}: no reader for {kind!r}; give the field parse= and render=")
    low, high = _bounds(spec, kind)
    if low is not None and number < low:
        raise ConfigError(f"{key}={_number(number)} is below the minimum {_number(low)}")
    if high is not None and number > high:
        raise ConfigError(f"{key}={_number(number)} is above the maximum {_number(high)}")
    return timedelta(seconds=number) if kind is timedelta else number


def _bounds(spec: Spec, kind: Any) -> tuple[float | None, float | None]:
    if kind is int:
        return (0 if spec.minimum is None else spec.minimum), (
            2**31 if spec.maximum is None else spec.maximum
        )
    if kind is timedelta:
        return (0 if spec.minimum is None else spec.minimum), spec.maximum
    return spec.minimum, spec.maximum


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _render(spec: Spec, kind: Any, value: Any) -> str:
    if spec.render is not None:
        return spec.render(value)
    if kind is bool:
        return "true" if value else "false"
    if kind is timedelta:
        return _number(value.total_seconds())
    if kind in (int, float):
        return _number(value)
    return str(value)


def _describe(spec: Spec, f: dataclasses.Field[Any], kind: Any) -> Variable:
    default = _default(f)
    if spec.default_from is not None:
        shown: str | None = "(derived)"
    elif default is dataclasses.MISSING:
        shown = None
    elif default is None:
        shown = ""
    else:
        shown = _render(spec, kind, default)
    return Variable(spec.key, f.name, _kind(spec, kind), shown, spec.secret, spec.wire, spec.doc)


def _kind(spec: Spec, kind: Any) -> str:
    if spec.parse is not None:
        return "text (see doc)"
    if kind is bool:
        return "true/false"
    if typing.get_origin(kind) is typing.Literal:
        return "one of " + ", ".join(map(str, typing.get_args(kind)))
    if kind in (int, float, timedelta):
        noun = {int: "integer", float: "number", timedelta: "seconds"}[kind]
        low, high = _bounds(spec, kind)[0], spec.maximum
        if low is not None and high is not None:
            return f"{noun} {_number(low)}..{_number(high)}"
        if low is not None:
            return f"{noun} >= {_number(low)}"
        return noun
    return "text"
