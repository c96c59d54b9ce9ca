"""Run the Pulumi program offline, under `pulumi.runtime.set_mocks`, and record what it declares.

No Pulumi CLI, cloud or plugin is involved: the program's own code runs with
the stack's configuration, and a recording monitor answers every resource
registration with plausible outputs (ids, ARNs, endpoints, a kubeconfig, an
image digest, PEM-framed TLS keys and certificates) and keeps what was asked:
type, name, parent, provider and inputs. The resulting `Plan` is what
`gamemetrics infra plan` prints and what the tests and the offline policy
checks inspect.

Secrets stay wrapped in `Secret` in `Resource.inputs`; `redacted()` replaces
them (and any input whose name says it is a credential) for display.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import runpy
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import pulumi
from pulumi.runtime import mocks, rpc
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.config import set_all_config
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from stacks import config, load
from stacks.errors import ConfigError
from stacks.image_source import find_project_root

PROJECT: Final = "gamemetrics"
ACCOUNT_ID: Final = "123456789012"
REDACTED: Final = "[secret]"
COMPUTED: Final = "[computed]"
SENSITIVE_INPUTS: Final = frozenset(
    {"password", "authToken", "secretString", "kubeconfig", "masterPassword", "token"}
)
"""Redacted for display even when not marked secret (defence in depth)."""

_lock = threading.Lock()  # the Pulumi runtime's settings are process-wide


@dataclass(frozen=True, slots=True)
class Secret:
    """An input the program marked secret; `value` is what it would send."""

    value: object


@dataclass(frozen=True, slots=True)
class ResourceRef:
    """An input that is another resource (pulumi-eks takes roles and clusters this way)."""

    urn: str


@dataclass(frozen=True, slots=True)
class Resource:
    urn: str
    type: str
    name: str
    parent: str | None
    """The parent's URN (None for the stack itself)."""
    custom: bool
    """False for components (ours, and pulumi-eks's remote ones)."""
    provider: str | None
    """The provider's URN, for custom resources."""
    inputs: dict[str, object]
    providers: dict[str, str] = field(default_factory=dict)
    """Package -> provider URN, for components (pulumi-eks's use theirs for their children)."""
    dependencies: tuple[str, ...] = ()
    protect: bool = False

    @property
    def plain(self) -> dict[str, Any]:
        """The inputs with secrets unwrapped and references as URNs (for assertions)."""
        result: dict[str, Any] = _plain(self.inputs)
        return result

    def redacted(self) -> dict[str, object]:
        redacted = _redact(self.inputs)
        assert isinstance(redacted, dict)
        return redacted

    def to_json(self) -> dict[str, object]:
        return {
            "type": self.type,
            "name": self.name,
            "urn": self.urn,
            "parent": self.parent,
            "custom": self.custom,
            "provider": self.provider,
            "inputs": self.redacted(),
        }


@dataclass(frozen=True)
class Plan:
    stack: str
    settings: config.StackConfig
    resources: tuple[Resource, ...]
    outputs: dict[str, object] = field(default_factory=dict)

    def of_type(self, type_: str) -> list[Resource]:
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str, name: str | None = None) -> Resource:
        """The only resource of `type_` (named `name`, if given); AssertionError otherwise."""
        found = [r for r in self.of_type(type_) if name is None or r.name == name]
        if len(found) != 1:
            raise AssertionError(f"expected one {type_} {name or ''}, found {len(found)}")
        return found[0]

    def children(self, parent: Resource) -> list[Resource]:
        return [r for r in self.resources if r.parent == parent.urn]

    def descendants(self, parent: Resource) -> Iterator[Resource]:
        for child in self.children(parent):
            yield child
            yield from self.descendants(child)

    def count_by_type(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for r in self.resources:
            counts[r.type] = counts.get(r.type, 0) + 1
        return dict(sorted(counts.items()))

    def to_json(self) -> list[dict[str, object]]:
        return [r.to_json() for r in self.resources]

    def render(self) -> str:
        """The resource tree, one line per resource: type, name and key inputs."""
        lines: list[str] = []
        roots = [r for r in self.resources if r.parent is None]

        def walk(resource: Resource, indent: str, last: bool, top: bool) -> None:
            branch = "" if top else ("└─ " if last else "├─ ")
            keys = " ".join(f"{k}={v}" for k, v in key_inputs(resource).items())
            lines.append(f"{indent}{branch}{resource.type}  {resource.name}  {keys}".rstrip())
            children = sorted(self.children(resource), key=lambda r: (r.type, r.name))
            below = indent if top else indent + ("   " if last else "│  ")
            for i, child in enumerate(children):
                walk(child, below, i == len(children) - 1, False)

        for root in roots:
            walk(root, "", True, True)
        lines.append("")
        lines.append(f"{len(self.resources)} resources")
        for name, value in self.outputs.items():
            lines.append(f"output {name} = {_short(_redact(value), 100)}")
        return "\n".join(lines)


# Which inputs `render` shows for the types worth a closer look (others: a few scalars).
KEY_INPUTS: Final[dict[str, tuple[str, ...]]] = {
    "pulumi:providers:aws": ("region",),
    "aws:ec2/vpc:Vpc": ("cidrBlock",),
    "aws:ec2/subnet:Subnet": ("cidrBlock", "availabilityZone"),
    "aws:ec2/route:Route": ("destinationCidrBlock", "gatewayId", "natGatewayId"),
    "aws:ec2/natGateway:NatGateway": ("subnetId",),
    "aws:ec2/vpcEndpoint:VpcEndpoint": ("serviceName", "vpcEndpointType"),
    "aws:ec2/flowLog:FlowLog": ("trafficType", "logDestinationType"),
    "aws:ec2/securityGroup:SecurityGroup": ("description",),
    "aws:kms/key:Key": ("description", "enableKeyRotation"),
    "eks:index:Cluster": (
        "name",
        "version",
        "endpointPrivateAccess",
        "endpointPublicAccess",
        "publicAccessCidrs",
    ),
    "eks:index:ManagedNodeGroup": ("instanceTypes", "capacityType", "scalingConfig"),
    "aws:eks/addon:Addon": ("addonName",),
    "aws:rds/instance:Instance": (
        "identifier",
        "engine",
        "engineVersion",
        "instanceClass",
        "multiAz",
        "publiclyAccessible",
        "storageEncrypted",
        "backupRetentionPeriod",
        "deletionProtection",
        "replicateSourceDb",
    ),
    "aws:elasticache/replicationGroup:ReplicationGroup": (
        "nodeType",
        "numCacheClusters",
        "multiAzEnabled",
        "automaticFailoverEnabled",
        "atRestEncryptionEnabled",
        "transitEncryptionEnabled",
    ),
    "aws:s3/bucket:Bucket": ("bucketPrefix", "forceDestroy"),
    "aws:ecr/repository:Repository": ("name", "imageTagMutability"),
    "docker-build:index:Image": ("tags", "platforms"),
}
_SKIPPED_KEYS: Final = frozenset({"tags", "tagsAll", "policy", "assumeRolePolicy"})


def key_inputs(resource: Resource, limit: int = 4) -> dict[str, str]:
    shown = _redact(resource.inputs)
    assert isinstance(shown, dict)
    keys = KEY_INPUTS.get(resource.type)
    if keys is None:
        keys = tuple(
            k
            for k, v in sorted(shown.items())
            if k not in _SKIPPED_KEYS and isinstance(v, str | int | float | bool)
        )[:limit]
    return {k: _short(shown[k], 60) for k in keys if k in shown}


def _short(value: object, width: int) -> str:
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    return text if len(text) <= width else text[: width - 1] + "…"


def _plain(value: object) -> Any:
    if isinstance(value, Secret):
        return _plain(value.value)
    if isinstance(value, ResourceRef):
        return value.urn
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _redact(value: object, key: str = "") -> object:
    if isinstance(value, Secret) or (key in SENSITIVE_INPUTS and value not in (None, COMPUTED)):
        return REDACTED
    if isinstance(value, ResourceRef):
        return value.urn
    if isinstance(value, dict):
        return {k: _redact(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v) for v in value]
    return value


# --- the monitor ---------------------------------------------------------------------------


def _from_struct(struct: Any) -> dict[str, object]:
    """A protobuf Struct as plain Python (what protobuf's json_format does, without its stubs)."""
    return {key: _from_value(value) for key, value in struct.fields.items()}


def _from_value(value: Any) -> object:
    kind = value.WhichOneof("kind")
    if kind == "struct_value":
        return _from_struct(value.struct_value)
    if kind == "list_value":
        return [_from_value(v) for v in value.list_value.values]
    if kind is None or kind == "null_value":
        return None
    return getattr(value, kind)


def _decode(value: object) -> object:
    """A property from the wire (as protobuf's JSON) to Python, keeping secrets and refs."""
    if isinstance(value, dict):
        signature = value.get(rpc._special_sig_key)
        if signature == rpc._special_secret_sig:
            return Secret(_decode(value.get("value")))
        if signature == rpc._special_resource_sig:
            return ResourceRef(str(value["urn"]))
        if signature in (rpc._special_asset_sig, rpc._special_archive_sig):
            return {"asset": value.get("path") or value.get("uri") or "<inline>"}
        if signature == rpc._special_output_value_sig:
            return _decode(value.get("value", rpc.UNKNOWN))
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if value == rpc.UNKNOWN:
        return COMPUTED
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _state(value: object) -> Any:
    """Outputs echo inputs, minus secrets' wrappers, references and unknowns."""
    if isinstance(value, Secret):
        return _state(value.value)
    if isinstance(value, dict):
        return {k: _state(v) for k, v in value.items() if not isinstance(v, ResourceRef)}
    if isinstance(value, list):
        return [_state(v) for v in value if not isinstance(v, ResourceRef)]
    return None if value == COMPUTED else value


def _digest(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


class FakeCloud(mocks.Mocks):
    """Plausible outputs for what the program declares and the few functions it calls."""

    def __init__(self, region: str) -> None:
        self.region = region

    def call(self, args: mocks.MockCallArgs) -> dict[str, Any]:  # type: ignore[override]
        function, region = args.token, self.region
        if function == "aws:index/getCallerIdentity:getCallerIdentity":
            arn = f"arn:aws:iam::{ACCOUNT_ID}:user/preview"
            return {"accountId": ACCOUNT_ID, "arn": arn, "id": ACCOUNT_ID, "userId": "PREVIEW"}
        if function == "aws:ecr/getAuthorizationToken:getAuthorizationToken":
            return {
                "userName": "AWS",
                "password": "preview-ecr-password",
                "authorizationToken": "cHJldmlldw==",
                "proxyEndpoint": f"https://{ACCOUNT_ID}.dkr.ecr.{region}.amazonaws.com",
            }
        if function == "aws:index/getRegion:getRegion":
            return {"name": region, "region": region, "id": region}
        if function == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"}
        if function == "aws:index/getAvailabilityZones:getAvailabilityZones":
            return {"names": [f"{region}{z}" for z in "abc"], "id": region}
        return dict(args.args)

    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        inputs = args.inputs
        state: dict[str, Any] = _state(inputs)
        resource_id = f"{args.name}-{_digest(args.typ, args.name)[:8]}"
        state.update(self.outputs(args.typ, args.name, resource_id, state))
        return (resource_id if args.custom else ""), state

    def outputs(self, type_: str, name: str, rid: str, state: dict[str, Any]) -> dict[str, Any]:
        region, account = self.region, ACCOUNT_ID
        service = type_.split(":")[1].split("/")[0] if type_.startswith("aws:") else ""
        out: dict[str, Any] = {"id": rid}
        if service:
            out["arn"] = f"arn:aws:{service}:{region}:{account}:{name}"
            # The engine auto-names what the program leaves unnamed: `<name>-<7 characters>`.
            out["name"] = state.get("name") or f"{name}-{_digest(type_, name)[:7]}"
        if type_ == "aws:kms/key:Key":
            key_id = _digest(name)[:32]
            out |= {"keyId": key_id, "arn": f"arn:aws:kms:{region}:{account}:key/{key_id}"}
        elif type_ == "aws:iam/role:Role":
            role = state.get("name") or rid
            out |= {"name": role, "arn": f"arn:aws:iam::{account}:role/{role}"}
        elif type_ == "aws:s3/bucket:Bucket":
            bucket = state.get("bucket") or f"{state.get('bucketPrefix') or name + '-'}{rid[-8:]}"
            out |= {"bucket": bucket, "arn": f"arn:aws:s3:::{bucket}"}
        elif type_ == "aws:rds/instance:Instance":
            address = f"{state.get('identifier') or name}.c0ffee.{region}.rds.amazonaws.com"
            out |= {"address": address, "endpoint": f"{address}:5432", "port": 5432}
            out["identifier"] = state.get("identifier") or name
        elif type_ == "aws:elasticache/replicationGroup:ReplicationGroup":
            group = state.get("replicationGroupId") or name
            host = f"{group}.c0ffee.{region}.cache.amazonaws.com"
            out |= {
                "primaryEndpointAddress": f"master.{host}",
                "readerEndpointAddress": f"replica.{host}",
            }
        elif type_ == "aws:ecr/repository:Repository":
            url = f"{account}.dkr.ecr.{region}.amazonaws.com/{state.get('name') or name}"
            out |= {"repositoryUrl": url, "registryId": account}
        elif type_ == "aws:secretsmanager/secret:Secret":
            out["arn"] = (
                f"arn:aws:secretsmanager:{region}:{account}:secret:{state.get('name') or name}"
            )
        elif type_ == "aws:cloudwatch/logGroup:LogGroup":
            out["arn"] = f"arn:aws:logs:{region}:{account}:log-group:{state.get('name') or name}"
        elif type_ == "aws:ec2/launchTemplate:LaunchTemplate":
            out |= {"latestVersion": 1, "defaultVersion": 1}
        elif type_ == "aws:ec2/eip:Eip":
            out |= {"allocationId": f"eipalloc-{rid[-8:]}", "publicIp": "198.51.100.10"}
        elif type_ == "random:index/randomPassword:RandomPassword":
            length = int(state.get("length") or 32)
            out |= {"result": (_digest(name) * 4)[:length], "bcryptHash": "preview"}
        elif type_ == "docker-build:index:Image":
            digest = "sha256:" + _digest(state.get("tags"), state.get("platforms"))
            out |= {"digest": digest, "ref": f"{(state.get('tags') or [name])[0]}@{digest}"}
        elif type_ == "aws:iam/policy:Policy":
            out["arn"] = f"arn:aws:iam::{account}:policy/{out['name']}"
        elif type_ == "tls:index/privateKey:PrivateKey":
            label = _PRIVATE_KEY_PEM_LABELS.get(str(state.get("algorithm") or "RSA"), "PRIVATE KEY")
            out |= {
                "privateKeyPem": _pem(label, name),
                "privateKeyPemPkcs8": _pem("PRIVATE KEY", name),
                "publicKeyPem": _pem("PUBLIC KEY", name),
                "publicKeyFingerprintSha256": f"SHA256:{_digest(name, 'public')[:43]}",
            }
        elif type_ in _CERTIFICATES:
            start = datetime(2026, 1, 1, tzinfo=UTC)
            end = start + timedelta(hours=int(state.get("validityPeriodHours") or 0))
            out |= {
                "certPem": _pem("CERTIFICATE", name),
                "validityStartTime": start.isoformat().replace("+00:00", "Z"),
                "validityEndTime": end.isoformat().replace("+00:00", "Z"),
                "readyForRenewal": False,
            }
        elif type_ == "eks:index:Cluster":
            issuer = f"oidc.eks.{region}.amazonaws.com/id/{_digest(name)[:32].upper()}"
            out |= {
                "kubeconfigJson": json.dumps(_kubeconfig(state.get("name") or name, region)),
                "kubeconfig": _kubeconfig(state.get("name") or name, region),
                "oidcProviderArn": f"arn:aws:iam::{account}:oidc-provider/{issuer}",
                "oidcProviderUrl": issuer,
                "oidcIssuer": f"https://{issuer}",
                "clusterSecurityGroupId": f"sg-{_digest(name, 'cluster')[:17]}",
                "nodeSecurityGroupId": f"sg-{_digest(name, 'nodes')[:17]}",
            }
        return out


_PRIVATE_KEY_PEM_LABELS: Final = {"RSA": "RSA PRIVATE KEY", "ECDSA": "EC PRIVATE KEY"}
"""pulumi-tls writes `privateKeyPem` as PKCS#1 (RSA) or SEC1 (ECDSA), else PKCS#8."""
_CERTIFICATES: Final = frozenset(
    {"tls:index/selfSignedCert:SelfSignedCert", "tls:index/locallySignedCert:LocallySignedCert"}
)


def _pem(label: str, seed: str) -> str:
    """A PEM block with a made-up body: well-formed, deterministic, never a usable key."""
    body = base64.b64encode(bytes.fromhex(_digest(label, seed) * 3)).decode()
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "\n".join([f"-----BEGIN {label}-----", *lines, f"-----END {label}-----", ""])


def _kubeconfig(cluster: str, region: str) -> dict[str, Any]:
    server = f"https://{_digest(cluster)[:32].upper()}.gr7.{region}.eks.amazonaws.com"
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster, "cluster": {"server": server}}],
        "contexts": [{"name": cluster, "context": {"cluster": cluster, "user": cluster}}],
        "current-context": cluster,
        "users": [{"name": cluster, "user": {"exec": {"command": "aws"}}}],
    }


class RecordingMonitor(mocks.MockMonitor):
    """The mock monitor, recording each registration as a `Resource`.

    It decodes inputs itself: the SDK's decoder would turn references to other resources
    into resource objects bound to this thread's event loop, which the program's loop
    cannot await.
    """

    def __init__(self, cloud: FakeCloud) -> None:
        super().__init__(cloud)
        self.cloud = cloud
        self.recorded: list[Resource] = []

    def RegisterResource(self, request: Any) -> Any:
        urn = self.make_urn(request.parent, request.type, request.name)
        inputs = _decode(_from_struct(request.object))
        assert isinstance(inputs, dict)
        self.recorded.append(
            Resource(
                urn=urn,
                type=request.type,
                name=request.name,
                parent=request.parent or None,
                custom=bool(request.custom),
                # A provider reference is `<urn>::<id>`.
                provider=request.provider.rsplit("::", 1)[0] if request.provider else None,
                inputs=inputs,
                providers={k: v.rsplit("::", 1)[0] for k, v in request.providers.items()},
                dependencies=tuple(request.dependencies),
                protect=bool(request.protect),
            )
        )
        if request.type == "pulumi:pulumi:Stack":
            return resource_pb2.RegisterResourceResponse(urn=urn)
        resource_id, state = self.cloud.new_resource(
            mocks.MockResourceArgs(
                typ=request.type, name=request.name, inputs=inputs, custom=request.custom
            )
        )
        # What the engine does for outputs a provider declares secret (a TLS private key).
        secret_outputs = set(request.additionalSecretOutputs)
        answer = {
            k: {rpc._special_sig_key: rpc._special_secret_sig, "value": v}
            if k in secret_outputs
            else v
            for k, v in state.items()
        }
        body = _sync_await(rpc.serialize_properties(answer, {}))
        self.resources[urn] = mocks.MockMonitor.ResourceRegistration(urn, resource_id or "", state)
        return resource_pb2.RegisterResourceResponse(urn=urn, id=resource_id or "", object=body)


# --- running -------------------------------------------------------------------------------


def ensure_event_loop() -> None:
    """Give the thread an open event loop: Pulumi's runtime asks for the current one, and a
    finished `asyncio.run` elsewhere in the process (a test, a CLI) leaves none set."""
    try:
        if not asyncio.get_event_loop().is_closed():
            return
    except RuntimeError:
        pass
    asyncio.set_event_loop(asyncio.new_event_loop())


def run_program(stack: str, values: Mapping[str, object], program: Callable[[], object]) -> Plan:
    """Run `program` as stack `stack` with config `values` (`ns:key` -> value) under mocks.

    Raises ConfigError for an invalid configuration, and whatever the program raises.
    """
    settings = load.parse(values)
    flat: dict[str, str] = {}
    secret_keys: list[str] = []
    for key, value in values.items():
        if isinstance(value, dict) and set(value) == {"secure"}:
            flat[key], secret_keys = REDACTED, [*secret_keys, key]
        else:
            flat[key] = value if isinstance(value, str) else json.dumps(value)
    with _lock:
        ensure_event_loop()
        cloud = FakeCloud(settings.region)
        monitor = RecordingMonitor(cloud)
        set_all_config(flat, secret_keys)
        runtime_settings.ROOT.set(None)
        mocks.set_mocks(cloud, project=PROJECT, stack=stack, preview=True, monitor=monitor)
        try:
            _sync_await(run_pulumi_func(lambda: _discard(program())))
            root = runtime_settings.get_root_resource()
            exported = dict(getattr(root, "outputs", {}) or {})
            outputs = {name: _resolve(value) for name, value in exported.items()}
        finally:
            runtime_settings.ROOT.set(None)
            set_all_config({}, [])
    return Plan(stack=stack, settings=settings, resources=tuple(monitor.recorded), outputs=outputs)


def _discard(_: object) -> None:
    return None


def _resolve(value: object) -> object:
    output = pulumi.Output.from_input(value)
    resolved = _sync_await(output.future())
    secret = _sync_await(output.is_secret())
    return Secret(resolved) if secret else resolved


def run_stack_program() -> None:
    """The real entry program (stacks/__main__.py), as `pulumi up` runs it."""
    runpy.run_module("stacks.__main__", run_name="__main__")


def stack_file(stack: str, root: Path | None = None) -> Path:
    """Pulumi.<stack>.yaml of the project (found from the working directory, else from here)."""
    root = root or find_project_root(Path.cwd(), Path(__file__).parent)
    path = root / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        known = sorted(p.name.split(".")[1] for p in root.glob("Pulumi.*.yaml"))
        raise ConfigError(f"no stack {stack!r}: {path} is missing; stacks: {', '.join(known)}")
    return path


def plan_stack(stack: str, config_file: Path | None = None) -> Plan:
    """The plan of `stack`, configured by `config_file` (default: its Pulumi.<stack>.yaml)."""
    path = config_file or stack_file(stack)
    values = load.read_stack_file(path)
    try:
        load.parse(values)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None
    return run_program(stack, values, run_stack_program)
