"""Run the policy pack offline, through the analyzer interface that `pulumi preview` drives.

The Pulumi engine talks to a policy pack over gRPC: `GetAnalyzerInfo` (the
policies, their default levels and config schemas), `Configure` (the policy
configuration after the engine reconciled it), `Analyze` (each resource as it
is registered: its inputs after the provider's Check, its provider, its
options) and `AnalyzeStack` (every resource at the end, with parents and
dependencies). `OfflineAnalyzer` builds the servicer that
`pulumi_policy.PolicyPack` serves, and makes those same calls in-process with
the same protobuf requests: only the transport is missing, so the rules run
exactly as they run under the CLI.

Two things the engine does are done here too: reconciling the policy
configuration (schema defaults, then the `"all"` level, then each policy's
entry; validated against the policy's schema) and attributing diagnostics to
resources. One thing is added: a policy that raises is named (the CLI would
fail the whole preview with the traceback); its resource is analyzed again
with each policy alone, so the other policies still report.

Differences from a live preview, by construction: the properties are what the
program sent under mocks, so values the cloud computes (ids, ARNs) are the
mocks' plausible ones rather than unknown; `AnalyzeStack` receives the inputs
where the engine sends outputs (a preview's outputs are its inputs plus
unknowns, so rules read inputs only); a reference to another resource arrives
as its URN.
"""

import json
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Protocol, cast

import jsonschema
import yaml
from pulumi.runtime.proto import analyzer_pb2
from pulumi_policy import EnforcementLevel, Policy, ResourceValidationPolicy, StackValidationPolicy
from pulumi_policy.policy import _PolicyAnalyzerServicer

from policies import pack
from policies.pack import CONFIG_DIRECTORY, DIRECTORY, ENFORCEMENT_LEVEL, NAME

SIG_KEY: Final = "4dabf18193072939515e22adb298388d"
SECRET_SIG: Final = "1b47061264138c4ac30d75fd1eb44270"  # noqa: S105 - a signature
UNKNOWN: Final = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
"""How the engine marshals a value not known during preview (any type)."""
LEVELS: Final = {
    analyzer_pb2.ADVISORY: "advisory",
    analyzer_pb2.MANDATORY: "mandatory",
    analyzer_pb2.DISABLED: "disabled",
}
_WIRE_LEVELS: Final = {name: level for level, name in LEVELS.items()}
STACK_TYPE: Final = "pulumi:pulumi:Stack"


class PolicyConfigError(Exception):
    """The policy configuration cannot be read or does not fit the policies' schemas."""


def secret(value: object) -> dict[str, object]:
    """A secret as the engine marshals it to an analyzer (the SDK unwraps it)."""
    return {SIG_KEY: SECRET_SIG, "value": value}


def pack_version(directory: Path = DIRECTORY) -> str:
    """The version in PulumiPolicy.yaml (what the CLI reports for the pack)."""
    document = yaml.safe_load((directory / "PulumiPolicy.yaml").read_text(encoding="utf-8"))
    return str(document.get("version", "0.0.1")) if isinstance(document, dict) else "0.0.1"


# --- what goes in ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EngineResource:
    """A registered resource as the engine describes it to an analyzer."""

    urn: str
    type: str
    name: str
    custom: bool
    properties: Mapping[str, object]
    """Wire values: JSON types, secrets as `secret(value)`, unknowns as `UNKNOWN`."""
    parent: str | None = None
    provider: str | None = None
    """URN of the provider resource (custom resources)."""
    dependencies: tuple[str, ...] = ()
    protect: bool = False


def _wire(value: object) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _wire(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_wire(v) for v in value]
    return value


# --- what comes out --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Violation:
    policy: str
    enforcement_level: str
    urn: str
    resource_type: str
    resource_name: str
    message: str
    description: str

    def to_json(self) -> dict[str, str]:
        return {
            "policy": self.policy,
            "enforcementLevel": self.enforcement_level,
            "resource": self.urn,
            "resourceType": self.resource_type,
            "resourceName": self.resource_name,
            "message": self.message,
            "description": self.description,
        }


@dataclass(frozen=True, slots=True)
class Crash:
    """A policy that raised instead of reporting."""

    policy: str
    urn: str | None
    """The resource it was analyzing (None: a stack policy)."""
    error: str

    def to_json(self) -> dict[str, str | None]:
        return {"policy": self.policy, "resource": self.urn, "error": self.error}


@dataclass(frozen=True, slots=True)
class EvaluatedPolicy:
    name: str
    description: str
    enforcement_level: str
    kind: str
    """`resource` or `stack`."""

    def to_json(self) -> dict[str, str]:
        return {
            "name": self.name,
            "enforcementLevel": self.enforcement_level,
            "kind": self.kind,
            "description": self.description,
        }


@dataclass(frozen=True)
class Report:
    pack: str
    version: str
    policies: tuple[EvaluatedPolicy, ...]
    violations: tuple[Violation, ...]
    crashes: tuple[Crash, ...]

    @property
    def mandatory(self) -> list[Violation]:
        return [v for v in self.violations if v.enforcement_level == "mandatory"]

    @property
    def passed(self) -> bool:
        """No mandatory violation and no crashed policy."""
        return not self.mandatory and not self.crashes

    def to_json(self) -> dict[str, object]:
        return {
            "pack": self.pack,
            "version": self.version,
            "passed": self.passed,
            "policies": [p.to_json() for p in self.policies],
            "violations": [v.to_json() for v in self.violations],
            "crashes": [c.to_json() for c in self.crashes],
        }


# --- configuration, as the engine reconciles it ----------------------------------------------


@dataclass(frozen=True, slots=True)
class PolicySetting:
    enforcement_level: str
    properties: dict[str, Any] = field(default_factory=dict)


def read_config(path: Path) -> dict[str, Any]:
    """A policy pack configuration file (`--policy-pack-config`): policy -> level or object."""
    try:
        document = json.loads(path.read_text(encoding="utf-8") or "{}")
    except OSError as e:
        raise PolicyConfigError(
            f"{path}: cannot read the policy configuration ({e.strerror})"
        ) from None
    except json.JSONDecodeError as e:
        raise PolicyConfigError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(document, dict):
        raise PolicyConfigError(f"{path}: expected an object of policy name -> configuration")
    return document


def _entry(name: str, value: object) -> PolicySetting | None:
    """One entry as the engine parses it: a level, or an object with `enforcementLevel`."""
    if isinstance(value, str):
        properties: dict[str, Any] = {}
        level: object = value
    elif isinstance(value, dict):
        properties = {k: v for k, v in value.items() if k != "enforcementLevel"}
        level = value.get("enforcementLevel", "")
    else:
        raise PolicyConfigError(
            f"{name}: expected an enforcement level or an object, got {value!r}"
        )
    if level and level not in _WIRE_LEVELS:
        allowed = ", ".join(_WIRE_LEVELS)
        raise PolicyConfigError(f"{name}: enforcement level {level!r} is not one of {allowed}")
    if not level and not properties:
        return None
    return PolicySetting(str(level), properties)


def reconcile(
    policies: Sequence[Policy],
    default_level: EnforcementLevel,
    config: Mapping[str, Any],
) -> dict[str, PolicySetting]:
    """Each policy's level and properties: schema defaults, then `"all"`, then its own entry.

    Raises PolicyConfigError for an unknown policy name, an invalid level or properties that
    do not fit the policy's schema (the engine refuses those too, except unknown names).
    """
    known = {p.name for p in policies}
    unknown = sorted(set(config) - known - {"all"})
    if unknown:
        raise PolicyConfigError(
            f"{unknown[0]}: no such policy in the pack; policies: {', '.join(sorted(known))}"
        )
    result: dict[str, PolicySetting] = {}
    for p in policies:
        declared = p.config_schema.properties if p.config_schema else {}
        defaults = {k: v["default"] for k, v in declared.items() if "default" in v}
        level = (p.enforcement_level or default_level).value
        result[p.name] = PolicySetting(level, defaults)
    everything = _entry("all", config["all"]) if "all" in config else None
    if everything and everything.enforcement_level:
        for name, setting in result.items():
            result[name] = PolicySetting(everything.enforcement_level, setting.properties)
    for name, value in config.items():
        given = _entry(name, value) if name != "all" else None
        if given is None:
            continue
        current = result[name]
        result[name] = PolicySetting(
            given.enforcement_level or current.enforcement_level,
            {**current.properties, **given.properties},
        )
    for p in policies:
        if p.config_schema is None:
            continue
        schema: dict[str, Any] = {"type": "object", "properties": p.config_schema.properties}
        if p.config_schema.required:
            schema["required"] = p.config_schema.required
        errors = sorted(
            jsonschema.Draft7Validator(schema).iter_errors(result[p.name].properties),
            key=lambda e: list(e.path),
        )
        if errors:
            where = ".".join(str(x) for x in errors[0].path)
            raise PolicyConfigError(f"{p.name}{'.' + where if where else ''}: {errors[0].message}")
    return result


def config_file(stack: str, environment: str | None = None) -> Path:
    """policies/config/<stack>.json, else the file of the stack's environment."""
    for name in (stack, environment):
        if name and (CONFIG_DIRECTORY / f"{name}.json").is_file():
            return CONFIG_DIRECTORY / f"{name}.json"
    known = ", ".join(sorted(p.stem for p in CONFIG_DIRECTORY.glob("*.json")))
    raise PolicyConfigError(
        f"no policy configuration for stack {stack!r} in {CONFIG_DIRECTORY} ({known}); "
        "pass one with --policy-config"
    )


# --- the analyzer ----------------------------------------------------------------------------


class _Servicer(Protocol):
    """The typed face of pulumi_policy's analyzer servicer (what the gRPC server calls)."""

    def GetAnalyzerInfo(self, request: None, context: None) -> Any: ...
    def Configure(self, request: analyzer_pb2.ConfigureAnalyzerRequest, context: None) -> Any: ...
    def Analyze(self, request: analyzer_pb2.AnalyzeRequest, context: None) -> Any: ...
    def AnalyzeStack(self, request: analyzer_pb2.AnalyzeStackRequest, context: None) -> Any: ...


class OfflineAnalyzer:
    """The pack's analyzer servicer, configured as the engine would, called in-process.

    Not thread-safe (like the servicer's configuration); `analyze` may take a second or two
    for a stack of a few hundred resources and never blocks on I/O.
    """

    def __init__(
        self,
        policies: Sequence[Policy] | None = None,
        *,
        name: str = NAME,
        version: str | None = None,
        enforcement_level: EnforcementLevel = ENFORCEMENT_LEVEL,
        config: Mapping[str, Any] | None = None,
    ) -> None:
        self.name = name
        self.version = version or pack_version()
        self.policies = list(pack.POLICIES if policies is None else policies)
        self._default = enforcement_level
        self._servicer = cast(
            _Servicer,
            _PolicyAnalyzerServicer(name, self.version, self.policies, enforcement_level, None),
        )
        self._servicer.GetAnalyzerInfo(None, None)
        self.settings: dict[str, PolicySetting] = {}
        self.configure(config or {})

    def configure(self, config: Mapping[str, Any]) -> None:
        """Apply a policy configuration (the content of a `--policy-pack-config` file)."""
        self.settings = reconcile(self.policies, self._default, config)
        self._send(self.settings)

    def _send(self, settings: Mapping[str, PolicySetting]) -> None:
        request = analyzer_pb2.ConfigureAnalyzerRequest()
        for name, setting in settings.items():
            entry = request.policyConfig[name]
            entry.enforcementLevel = _WIRE_LEVELS[setting.enforcement_level]
            entry.properties.update(_wire(setting.properties))
        self._servicer.Configure(request, None)

    def evaluated(self) -> tuple[EvaluatedPolicy, ...]:
        return tuple(
            EvaluatedPolicy(
                p.name,
                p.description,
                self.settings[p.name].enforcement_level,
                "stack" if isinstance(p, StackValidationPolicy) else "resource",
            )
            for p in self.policies
            if self.settings[p.name].enforcement_level != "disabled"
        )

    def analyze(self, resources: Sequence[EngineResource]) -> Report:
        """Every resource through `Analyze`, then the whole list through `AnalyzeStack`."""
        by_urn = {r.urn: r for r in resources}
        crashes: list[Crash] = []
        violations: list[Violation] = []
        for r in resources:
            request = analyzer_pb2.AnalyzeRequest(
                type=r.type, urn=r.urn, name=r.name, options=self._options(r)
            )
            request.properties.update(_wire(r.properties))
            self._provider(request.provider, by_urn.get(r.provider or ""))

            def call(req: analyzer_pb2.AnalyzeRequest = request) -> Any:
                return self._servicer.Analyze(req, None)

            # As the engine does: a resource policy's violation is the analyzed resource's.
            found = self._run(call, ResourceValidationPolicy, r.urn, crashes)
            violations.extend(self._violation(d, r) for d in found)
        stack = analyzer_pb2.AnalyzeStackRequest()
        for r in resources:
            entry = stack.resources.add(
                type=r.type,
                urn=r.urn,
                name=r.name,
                options=self._options(r),
                parent=r.parent or "",
                dependencies=list(dict.fromkeys(r.dependencies)),
            )
            entry.properties.update(_wire(r.properties))
            self._provider(entry.provider, by_urn.get(r.provider or ""))
        root = next((r for r in resources if r.type == STACK_TYPE), None)
        found = self._run(
            lambda: self._servicer.AnalyzeStack(stack, None), StackValidationPolicy, None, crashes
        )
        violations.extend(self._violation(d, by_urn.get(d.urn) or root) for d in found)
        return Report(self.name, self.version, self.evaluated(), tuple(violations), tuple(crashes))

    @staticmethod
    def _provider(message: Any, provider: EngineResource | None) -> None:
        """Fill an AnalyzerProviderResource (left unset, and so absent, without a provider)."""
        if provider is None:
            return
        message.type = provider.type
        message.urn = provider.urn
        message.name = provider.name
        message.properties.update(_wire(provider.properties))

    def _run(
        self,
        call: Callable[[], Any],
        kind: type[Policy],
        urn: str | None,
        crashes: list[Crash],
    ) -> list[Any]:
        try:
            return list(call().diagnostics)
        except Exception:
            return self._isolate(call, kind, urn, crashes)

    def _isolate(
        self,
        call: Callable[[], Any],
        kind: type[Policy],
        urn: str | None,
        crashes: list[Crash],
    ) -> list[Any]:
        """Run `call` once per policy of `kind`, alone: name those that raise, keep the rest."""
        diagnostics: list[Any] = []
        try:
            for policy in self.policies:
                setting = self.settings[policy.name]
                if not isinstance(policy, kind) or setting.enforcement_level == "disabled":
                    continue
                alone = {
                    name: s if name == policy.name else PolicySetting("disabled", s.properties)
                    for name, s in self.settings.items()
                }
                self._send(alone)
                try:
                    diagnostics += list(call().diagnostics)
                except Exception as e:
                    crashes.append(Crash(policy.name, urn, _describe(e)))
        finally:
            self._send(self.settings)
        return diagnostics

    @staticmethod
    def _options(r: EngineResource) -> analyzer_pb2.AnalyzerResourceOptions:
        return analyzer_pb2.AnalyzerResourceOptions(protect=r.protect, parent=r.parent or "")

    def _violation(self, diagnostic: Any, resource: EngineResource | None) -> Violation:
        description = str(diagnostic.description)
        message = str(diagnostic.message)
        if message.startswith(description + "\n"):
            message = message[len(description) + 1 :]
        return Violation(
            policy=str(diagnostic.policyName),
            enforcement_level=LEVELS.get(diagnostic.enforcementLevel, "advisory"),
            urn=resource.urn if resource else str(diagnostic.urn),
            resource_type=resource.type if resource else "",
            resource_name=resource.name if resource else "",
            message=message,
            description=description,
        )


def _describe(error: BaseException) -> str:
    """The exception and the line of the policy that raised it (the innermost frame of a rule
    module, else the innermost frame past the analyzer and the SDK)."""
    text = "".join(traceback.format_exception_only(type(error), error)).strip()
    frames = [
        f
        for f in traceback.extract_tb(error.__traceback__)
        if Path(f.filename).resolve() != Path(__file__).resolve()
        and f"{Path('pulumi_policy')}" not in str(Path(f.filename).parent)
    ]
    rules = [f for f in frames if Path(f.filename).resolve().parent == DIRECTORY]
    where = (rules or frames)[-1:]
    if where:
        text += f" (at {Path(where[0].filename).name}:{where[0].lineno}, in {where[0].name})"
    return text
