"""Offline validation of the Kubernetes objects the program declares.

Built-in kinds are checked with kubernetes-validate against the official schemas of
the target Kubernetes version, strictly (unknown fields are errors). Custom resources
are checked against the CRD schemas provided in `../shared/schemas/` beside the
repository (Strimzi, prometheus-operator, Chaos Mesh, Argo Rollouts, External
Secrets, Velero, Istio; see its README), made strict the same way: a field the CRD
does not declare is an error, as with `kubectl apply --validate=strict`. The
schemas are data the project reads, never copies; where the folder is absent,
custom resources are skipped, each with that reason, and one line says so.

The objects are the inputs Pulumi registers (captured under `pulumi.runtime.set_mocks`
or from `gamemetrics infra plan --json`): camelCase Kubernetes manifests.
"""

import json
import logging
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Final

import jsonschema
import kubernetes_validate

from infra.kubernetes.meta import KUBERNETES_VERSION

log = logging.getLogger(__name__)
SCHEMAS_DIR: Final = Path(__file__).resolve().parents[2].parent / "shared" / "schemas"
"""`../shared/schemas` beside the repository: one folder per operator, `<kind>-<version>.json`."""
CUSTOM_GROUPS: Final[dict[str, str]] = {
    "kafka.strimzi.io": "strimzi",
    "monitoring.coreos.com": "prometheus-operator",
    "chaos-mesh.org": "chaos-mesh",
    "argoproj.io": "argo-rollouts",
    "external-secrets.io": "external-secrets",
    "velero.io": "velero",
    "security.istio.io": "istio",
    "networking.istio.io": "istio",
}
"""API groups of the custom resources, and the folder of `SCHEMAS_DIR` holding their schemas."""
NOT_OBJECTS: Final = ("kubernetes:helm.sh/", "pulumi:providers:kubernetes")
"""Type tokens of Kubernetes-provider resources that are not Kubernetes objects."""
UNKNOWN: Final = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
"""Pulumi's wire value for an output not known until deployment (pulumi.runtime.rpc.UNKNOWN)."""
_SECRET_SIG: Final = ("4dabf18193072939515e22adb298388d", "1b47061264138c4ac30d75fd1eb44270")
"""How Pulumi's wire format marks a secret value: {sig: value-marker, "value": ...}."""
_DNS_NAME: Final = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


@dataclass(frozen=True, slots=True)
class Problem:
    kind: str
    name: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.kind}/{self.name}: {self.where or '(root)'}: {self.message}"


@dataclass(frozen=True, slots=True)
class Report:
    validated: list[tuple[str, str, str]]
    """(kind, name, schema) for every object that passed."""
    skipped: list[tuple[str, str, str]]
    """(kind, name, reason) for custom resources not checked: the schemas folder is absent."""


class InvalidObjects(Exception):
    """One or more objects do not match their schema; `problems` lists every one."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__(
            f"{len(problems)} invalid Kubernetes object(s):\n" + "\n".join(map(str, problems))
        )


def kubernetes_objects(
    resources: Iterable[tuple[str, Mapping[str, Any]]], unknown: Collection[str] = (UNKNOWN,)
) -> list[dict[str, Any]]:
    """The manifests among (type token, inputs) pairs: Kubernetes resources but Helm releases
    and providers. Secrets are unwrapped and numbers normalised (the wire format makes 3
    into 3.0), so each manifest is what the API server would receive. Fields whose value is
    not known before deployment (a value in `unknown`) are left out: only known values are
    checked."""
    result = []
    for type_token, inputs in resources:
        if not type_token.startswith("kubernetes:") or type_token.startswith(NOT_OBJECTS):
            continue
        result.append(_normalise(dict(inputs), frozenset(unknown)))
    return result


def validate_objects(
    objects: Iterable[Mapping[str, Any]],
    kubernetes_version: str = KUBERNETES_VERSION,
    schemas_dir: Path = SCHEMAS_DIR,
) -> Report:
    """Validates every object; raises InvalidObjects listing all problems found."""
    problems: list[Problem] = []
    validated: list[tuple[str, str, str]] = []
    skipped: list[tuple[str, str, str]] = []
    without_schemas = not schemas_dir.is_dir()
    for obj in objects:
        kind, api_version = str(obj.get("kind", "")), str(obj.get("apiVersion", ""))
        name = str(obj.get("metadata", {}).get("name", "<unnamed>"))
        found = _check_metadata(obj, kind, name)
        group, _, version = api_version.rpartition("/")
        if group in CUSTOM_GROUPS:
            schema = f"{CUSTOM_GROUPS[group]}/{kind.lower()}-{version}.json"
            if without_schemas:
                skipped.append((kind, name, f"no CRD schemas at {schemas_dir}"))
                problems += found
                continue
            found += _custom_problems(obj, schemas_dir / schema, kind, name)
        else:
            schema = f"kubernetes {kubernetes_version}"
            found += _builtin_problems(obj, kubernetes_version, kind, name)
        problems += found
        if not found:
            validated.append((kind, name, schema))
    if skipped:
        log.warning(
            "custom resources not validated: no CRD schemas at %s (%d skipped; built-in kinds "
            "were validated)", schemas_dir, len(skipped),
        )  # fmt: skip
    if problems:
        raise InvalidObjects(problems)
    return Report(validated=validated, skipped=skipped)


def _check_metadata(obj: Mapping[str, Any], kind: str, name: str) -> list[Problem]:
    if not _DNS_NAME.match(name):
        return [Problem(kind, name, "metadata.name", "not a DNS subdomain name")]
    return []


def _builtin_problems(obj: Mapping[str, Any], version: str, kind: str, name: str) -> list[Problem]:
    try:
        kubernetes_validate.validate(dict(obj), version, strict=True)
    except kubernetes_validate.ValidationError as e:
        return [Problem(kind, name, ".".join(map(str, e.path)), str(e.message))]
    except kubernetes_validate.SchemaNotFoundError as e:
        return [Problem(kind, name, "apiVersion", str(e.message))]
    return []


def _custom_problems(obj: Mapping[str, Any], schema: Path, kind: str, name: str) -> list[Problem]:
    if not schema.is_file():
        return [Problem(kind, name, "apiVersion", f"no CRD schema {schema}: not a served version")]
    validator = jsonschema.Draft202012Validator(_strict_schema(schema))
    return [
        Problem(kind, name, ".".join(map(str, e.absolute_path)), e.message)
        for e in sorted(validator.iter_errors(dict(obj)), key=lambda e: list(map(str, e.path)))
    ]


_OBJECT_ROOT: Final = {
    "apiVersion": {"type": "string"},
    "kind": {"type": "string"},
    "metadata": {"type": "object"},
}
"""What the API server accepts on every object, whether the CRD's schema says it or not (the
Istio schemas describe only `spec` and `status`)."""


@cache
def _strict_schema(path: Path) -> dict[str, Any]:
    schema = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(schema, dict):
        raise ValueError(f"{path}: not a JSON schema object")
    schema["properties"] = {**_OBJECT_ROOT, **schema.get("properties", {})}
    strict: dict[str, Any] = _strict(schema)
    return strict


def _strict(node: Any) -> Any:
    """Closes every object schema that lists its properties and does not preserve unknown
    fields: what the API server's strict field validation rejects."""
    if isinstance(node, list):
        return [_strict(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _strict(v) for k, v in node.items()}
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


def _normalise(value: Any, unknown: frozenset[str]) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        if value.get(_SECRET_SIG[0]) == _SECRET_SIG[1] and "value" in value:
            return _normalise(value["value"], unknown)
        return {
            k: _normalise(v, unknown)
            for k, v in value.items()
            if not (isinstance(v, str) and v in unknown)
        }
    if isinstance(value, list):
        return [_normalise(v, unknown) for v in value if not (isinstance(v, str) and v in unknown)]
    return value
