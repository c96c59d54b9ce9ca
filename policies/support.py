"""What the rules share: reading engine properties, naming resources, building policies.

The engine sends a resource's properties with the names of the provider's
schema (camelCase: `storageEncrypted`, `metadata.namespace`), numbers as
floats and, for some Terraform-bridged fields, booleans as the strings
"true" and "false". The readers below accept those forms, so a rule reads
what `pulumi preview` sends and what the offline check sends alike.
"""

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Final

from pulumi_policy import (
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

Props = Mapping[str, Any]
ResourceRule = Callable[[ResourceValidationArgs, ReportViolation], None]
StackRule = Callable[[StackValidationArgs, ReportViolation], None]

WORLD: Final = frozenset({"0.0.0.0/0", "::/0"})
COMPUTED: Final = "(computed)"
"""How a name not known until the update (a preview of new resources) is shown."""
CLUSTER_SCOPED: Final = frozenset(
    {
        "Namespace",
        "StorageClass",
        "PersistentVolume",
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "PriorityClass",
        "IngressClass",
        "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration",
    }
)
"""Kubernetes kinds without a namespace (named without one in messages)."""


def resource_policy(
    name: str,
    description: str,
    validate: ResourceRule,
    config: Mapping[str, Mapping[str, Any]] | None = None,
) -> ResourceValidationPolicy:
    """One rule over each resource; `config` maps property -> JSON schema (with a default)."""
    schema = PolicyConfigSchema({k: dict(v) for k, v in config.items()}) if config else None
    return ResourceValidationPolicy(name, description, validate, config_schema=schema)


def stack_policy(
    name: str,
    description: str,
    validate: StackRule,
    config: Mapping[str, Mapping[str, Any]] | None = None,
) -> StackValidationPolicy:
    """One rule over the whole stack (all resources, with their parents and dependencies)."""
    schema = PolicyConfigSchema({k: dict(v) for k, v in config.items()}) if config else None
    return StackValidationPolicy(name, description, validate, config_schema=schema)


# --- values --------------------------------------------------------------------------------


def is_true(value: object) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def is_false(value: object) -> bool:
    return value is False or (isinstance(value, str) and value.lower() == "false")


def number(value: object) -> float | None:
    """A number the engine sent (always a float on the wire) or a numeric string."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def show(value: object) -> str:
    """A value as a message shows it: 3 rather than 3.0, strings bare, absent as `not set`."""
    if value is None:
        return "not set"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(plain(value), separators=(", ", ": "))


def plain(value: object) -> object:
    """Proxied mappings and sequences (the SDK wraps props) as dicts and lists."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [plain(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def mapping(value: object) -> Props:
    """A nested object, or an object sent as JSON text (provider config, IAM documents)."""
    if isinstance(value, Mapping):
        return value
    if isinstance(value, str) and value.strip().startswith("{"):
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            return {}
        return parsed if isinstance(parsed, dict) else {}
    return {}


def items(value: object) -> list[Any]:
    """A list property (absent or not a list: empty)."""
    if isinstance(value, Sequence) and not isinstance(value, str):
        return list(value)
    return []


def strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [v for v in items(value) if isinstance(v, str)]


def dig(props: Props, *path: str) -> Any:
    """props[a][b]...; None where a step is missing or not an object."""
    current: Any = props
    for key in path:
        if not isinstance(current, Mapping) or key not in list(current):
            return None
        current = current[key]
    return current


def has(props: Props, key: str) -> bool:
    """Whether `key` is set, without reading its value (reading an unknown one raises)."""
    return key in list(props)


# --- naming --------------------------------------------------------------------------------


def kind_of(resource_type: str) -> str:
    """`kubernetes:apps/v1:Deployment` -> `Deployment`."""
    return resource_type.rsplit(":", 1)[-1]


def peek(props: Props, *path: str) -> Any:
    """Like `dig`, but a value unknown during preview reads as COMPUTED instead of raising
    (for naming things; a rule that decides on a value lets the SDK report the unknown)."""
    try:
        return dig(props, *path)
    except UnknownValueError:
        return COMPUTED


def k8s_namespace(props: Props, default: str = "default") -> str:
    value = peek(props, "metadata", "namespace")
    return value if isinstance(value, str) and value else default


def k8s_name(props: Props, fallback: str) -> str:
    value = peek(props, "metadata", "name")
    return value if isinstance(value, str) and value else fallback


def subject(resource_type: str, name: str, props: Props) -> str:
    """How a message names a resource: its type and Pulumi name, and for a Kubernetes object
    its kind and namespace/name as kubectl shows them."""
    label = f'{resource_type} "{name}"'
    if not resource_type.startswith("kubernetes:"):
        return label
    obj, kind = k8s_name(props, name), kind_of(resource_type)
    if kind in CLUSTER_SCOPED:
        return f"{label} ({kind} {obj})"
    return f"{label} ({kind} {k8s_namespace(props)}/{obj})"


def about(args: ResourceValidationArgs) -> str:
    return subject(args.resource_type, args.name, args.props)


def about_resource(resource: PolicyResource) -> str:
    return subject(resource.resource_type, resource.name, resource.props)


# --- graphs (stack rules) ------------------------------------------------------------------


def of_type(resources: Iterable[PolicyResource], *types: str) -> Iterator[PolicyResource]:
    return (r for r in resources if r.resource_type in types)


def depends_on(resource: PolicyResource, other: PolicyResource) -> bool:
    return any(d.urn == other.urn for d in resource.dependencies)


def dependencies_of_type(resource: PolicyResource, *types: str) -> list[PolicyResource]:
    seen: dict[str, PolicyResource] = {}
    for d in resource.dependencies:
        if d.resource_type in types:
            seen.setdefault(d.urn, d)
    return list(seen.values())


def dependents(
    resources: Iterable[PolicyResource], target: PolicyResource, *types: str
) -> list[PolicyResource]:
    """The resources of `types` that depend on `target` (by its outputs or `depends_on`)."""
    return [r for r in of_type(resources, *types) if depends_on(r, target)]


def config_list(config: Mapping[str, Any], key: str) -> list[str]:
    return strings(config.get(key))


def config_names(config: Mapping[str, Any], key: str) -> set[str]:
    """A config property that is either a list of names or a mapping of name -> reason."""
    value = config.get(key)
    if isinstance(value, Mapping):
        return {str(k) for k in value}
    return set(strings(value))


def config_number(config: Mapping[str, Any], key: str, default: float) -> float:
    value = number(config.get(key))
    return default if value is None else value
