"""Runs Kubernetes components under `pulumi.runtime.set_mocks` and records what they declare."""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, cast

import pulumi
import pulumi_kubernetes as k8s
from pulumi.runtime.mocks import MockMonitor

from apps.core import topics
from infra.kubernetes.backends import (
    Backends,
    EksCluster,
    Irsa,
    ObjectStorage,
    PostgresEndpoint,
    RedisEndpoint,
)
from infra.kubernetes.ingress import IngressSettings
from infra.kubernetes.platform import KubernetesPlatformArgs
from stacks.offline.preview import ensure_event_loop
from stacks.offline.validate import kubernetes_objects

DUMMY_KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: mock, cluster: {server: "https://127.0.0.1:6443"}}]
contexts: [{name: mock, context: {cluster: mock, user: mock}}]
current-context: mock
users: [{name: mock, user: {token: mock}}]
"""
IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/gamemetrics@sha256:" + "ab" * 32
VPC_CIDR = "10.20.0.0/16"
STACKS: tuple[topics.Stack, ...] = ("dev", "staging", "prod")
BROKERS: dict[topics.Stack, int] = {"local": 1, "dev": 1, "staging": 3, "prod": 3}


@dataclass(frozen=True)
class Recorded:
    type: str
    name: str
    urn: str
    parent: str
    inputs: dict[str, Any]
    provider: str
    """The explicit provider reference (`urn::id`), empty when none was given."""
    dependencies: tuple[str, ...] = ()
    """URNs of the resources it was declared to depend on (`depends_on` and inputs)."""

    @property
    def kind(self) -> str:
        return str(self.inputs.get("kind", ""))

    @property
    def object_name(self) -> str:
        return str(self.inputs.get("metadata", {}).get("name", ""))

    @property
    def namespace(self) -> str:
        return str(self.inputs.get("metadata", {}).get("namespace", ""))

    @property
    def spec(self) -> dict[str, Any]:
        return cast(dict[str, Any], self.inputs.get("spec", {}))


class Program:
    def __init__(self, resources: list[Recorded]) -> None:
        self.resources = resources

    def __iter__(self) -> Iterator[Recorded]:
        return iter(self.resources)

    def of_type(self, type_token: str) -> list[Recorded]:
        return [r for r in self.resources if r.type == type_token]

    def kind(self, kind: str, namespace: str | None = None) -> list[Recorded]:
        return [
            r
            for r in self.resources
            if r.type.startswith("kubernetes:")
            and r.kind == kind
            and (namespace is None or r.namespace == namespace)
        ]

    def resource(self, type_token: str, name: str | None = None) -> Recorded:
        """The only resource of `type_token` (with that resource name, if given)."""
        found = [r for r in self.of_type(type_token) if name is None or r.name == name]
        assert len(found) == 1, f"{type_token} {name or ''}: {len(found)} found"
        return found[0]

    def one(self, kind: str, name: str, namespace: str | None = None) -> Recorded:
        found = [r for r in self.kind(kind, namespace) if r.object_name == name]
        assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
        return found[0]

    def objects(self) -> list[dict[str, Any]]:
        return kubernetes_objects((r.type, r.inputs) for r in self.resources)

    def releases(self) -> dict[str, Recorded]:
        return {str(r.inputs["chart"]): r for r in self.of_type("kubernetes:helm.sh/v3:Release")}


class _Mocks(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.inputs: dict[tuple[str, str], tuple[dict[str, Any], str]] = {}

    def new_resource(
        self, args: pulumi.runtime.MockResourceArgs
    ) -> tuple[str | None, dict[str, Any]]:
        state = dict(args.inputs)
        if args.typ == "aws:iam/role:Role":
            state["arn"] = f"arn:aws:iam::123456789012:role/{args.name}"
        if args.typ == "aws:iam/policy:Policy":
            state["arn"] = f"arn:aws:iam::123456789012:policy/{args.name}"
        if args.typ == "random:index/randomPassword:RandomPassword":
            state["result"] = "generated-password"
        if args.typ == "tls:index/privateKey:PrivateKey":
            state["private_key_pem"] = (
                "-----BEGIN PRIVATE KEY-----\nmock\n-----END PRIVATE KEY-----\n"
            )
        if args.typ == "tls:index/selfSignedCert:SelfSignedCert":
            state["cert_pem"] = "-----BEGIN CERTIFICATE-----\nmock\n-----END CERTIFICATE-----\n"
        self.inputs[(args.typ, args.name)] = (dict(args.inputs), args.provider or "")
        return f"{args.name}-id", state

    def call(
        self, args: pulumi.runtime.MockCallArgs
    ) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None


class _Monitor(MockMonitor):
    def __init__(self, mocks: _Mocks) -> None:
        super().__init__(mocks)
        self.registered: list[tuple[str, str, str, str, tuple[str, ...]]] = []

    def RegisterResource(self, request: Any) -> Any:  # the gRPC method's name
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        self.registered.append(
            (request.type, request.name, response.urn, request.parent, tuple(request.dependencies))
        )
        return response


def run(program: Callable[[], object], stack: str = "test") -> Program:
    """Runs `program` under mocks until every resource is registered; returns them in order."""
    ensure_event_loop()
    mocks = _Mocks()
    monitor = _Monitor(mocks)
    pulumi.runtime.set_mocks(
        mocks, project="gamemetrics", stack=stack, preview=False, monitor=monitor
    )

    def body() -> None:
        program()

    pulumi.runtime.test(body)()  # type: ignore[no-untyped-call]
    return Program(
        [
            Recorded(t, n, urn, parent, *mocks.inputs.get((t, n), ({}, "")), dependencies)
            for t, n, urn, parent, dependencies in monitor.registered
        ]
    )


def provider() -> k8s.Provider:
    return k8s.Provider("cluster", kubeconfig=DUMMY_KUBECONFIG)


def backends() -> Backends:
    return Backends(
        vpc_cidr=VPC_CIDR,
        postgres=PostgresEndpoint(
            host="gm.cluster-abc.eu-west-1.rds.amazonaws.com",
            password=pulumi.Output.secret("p@ss/word"),
            secret_arn="arn:aws:secretsmanager:eu-west-1:123456789012:secret:gm-db",
        ),
        redis=RedisEndpoint(
            host="master.gm.cache.amazonaws.com", auth_token=pulumi.Output.secret("tok")
        ),
        storage=ObjectStorage(
            buckets={"archive": "gm-archive", "backups": "gm-backups", "logs": "gm-logs"},
            kms_key_arn="arn:aws:kms:eu-west-1:123456789012:key/storage",
        ),
        tags={"environment": "test", "owner": "platform", "cost-center": "gm"},
    )


def irsa() -> Irsa:
    return Irsa(
        oidc_provider_arn="arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/ABC",
        oidc_provider_url="https://oidc.eks.eu-west-1.amazonaws.com/id/ABC",
    )


VOLUMES_KEY = "arn:aws:kms:eu-west-1:123456789012:key/volumes"


def cluster() -> EksCluster:
    return EksCluster(
        name="gamemetrics-test",
        region="eu-west-1",
        vpc_id="vpc-0123456789abcdef0",
        volumes_kms_key_arn=VOLUMES_KEY,
    )


def ingress() -> IngressSettings:
    return IngressSettings(
        domain="dev.gamemetrics.example",
        certificate_arn="arn:aws:acm:eu-west-1:123456789012:certificate/abc",
        source_cidrs=[VPC_CIDR],
    )


def platform_args(stack: topics.Stack, *, mesh: bool = False) -> KubernetesPlatformArgs:
    return KubernetesPlatformArgs(
        provider=provider(),
        stack=stack,
        image=IMAGE,
        backends=backends(),
        irsa=irsa(),
        cluster=cluster(),
        ingress=ingress(),
        grafana_admin_password=pulumi.Output.secret("grafana") if stack == "prod" else None,
        kafka_brokers=BROKERS[stack],
        mesh=mesh,
        monitoring_replicas=2 if stack == "prod" else 1,
    )


_PLATFORMS: dict[tuple[str, bool], Program] = {}


def platform(stack: topics.Stack, *, mesh: bool = False) -> Program:
    """The whole Kubernetes side for a stack (built once per session: the result is data)."""
    from infra.kubernetes.platform import KubernetesPlatform

    key = (stack, mesh)
    if key not in _PLATFORMS:
        _PLATFORMS[key] = run(
            lambda: KubernetesPlatform("gm", platform_args(stack, mesh=mesh)), stack
        )
    return _PLATFORMS[key]
