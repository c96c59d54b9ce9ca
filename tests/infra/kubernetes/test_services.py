"""ServiceDeployment: every declared service, derived from its declaration alone."""

import json
from dataclasses import dataclass, field, replace
from pathlib import PurePosixPath
from typing import Any

import pytest

from apps.core import buckets, services, topics
from apps.core.settings import common, for_service
from apps.core.settings.contract import SECTION, ServiceSettings, Wire, env
from apps.core.settings.kafka_tls import KafkaTls
from infra.kubernetes import iam, kafka
from infra.kubernetes.meta import APP_UID
from infra.kubernetes.services import ServiceDeployment, ServiceDeploymentArgs, ServicePlatform
from stacks.offline.validate import validate_objects
from tests.infra.kubernetes import harness

APPS = "gamemetrics"


def _container(program: harness.Program, name: str) -> dict[str, Any]:
    pod = program.one("Deployment", name, APPS).spec["template"]["spec"]
    (container,) = pod["containers"]
    return dict(container)


def _service_platform(stack: topics.Stack = "dev", **changes: Any) -> ServicePlatform:
    base = ServicePlatform(
        provider=harness.provider(),
        stack=stack,
        image=harness.IMAGE,
        backends=harness.backends(),
        irsa=harness.irsa(),
        kafka=kafka.KafkaAccess(cluster="gamemetrics", namespace="kafka"),
        ingress=harness.ingress(),
    )
    return replace(base, **changes)


def _deploy(
    service: services.Service, stack: topics.Stack = "dev", **changes: Any
) -> harness.Program:
    def program() -> None:
        platform = _service_platform(stack, **changes)
        ServiceDeployment(service.name, ServiceDeploymentArgs(service, platform))

    return harness.run(program)


@pytest.mark.parametrize("service", services.ALL, ids=lambda s: s.name)
def test_every_declared_service_gets_its_objects(service: services.Service) -> None:
    program = harness.platform("prod")
    for kind in ("Deployment", "Service", "ServiceAccount", "HorizontalPodAutoscaler",
                 "PodDisruptionBudget", "NetworkPolicy"):  # fmt: skip
        program.one(kind, service.name, APPS)
    program.one("ConfigMap", f"{service.name}-config", APPS)
    ingresses = [i.object_name for i in program.kind("Ingress", APPS)]
    assert (service.name in ingresses) == service.public


@pytest.mark.parametrize("service", services.ALL, ids=lambda s: s.name)
def test_pods_are_hardened(service: services.Service) -> None:
    program = harness.platform("prod")
    pod = program.one("Deployment", service.name, APPS).spec["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    context = _container(program, service.name)["securityContext"]
    assert context["runAsNonRoot"] is True
    assert context["runAsUser"] == APP_UID
    assert context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert context["seccompProfile"] == {"type": "RuntimeDefault"}
    tmp = {m["name"]: m["mountPath"] for m in _container(program, service.name)["volumeMounts"]}
    assert tmp["tmp"] == "/tmp"
    assert {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}} in pod["volumes"]


@pytest.mark.parametrize("service", services.ALL, ids=lambda s: s.name)
def test_container_runs_the_declared_command_with_probes_and_resources(
    service: services.Service,
) -> None:
    container = _container(harness.platform("staging"), service.name)
    assert container["image"] == harness.IMAGE
    assert container["command"] == list(service.command)
    assert container["ports"] == [
        {"name": "http", "containerPort": service.port, "protocol": "TCP"}
    ]
    assert container["livenessProbe"]["httpGet"] == {"path": service.liveness_path, "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {
        "path": service.readiness_path,
        "port": "http",
    }
    assert container["startupProbe"]["httpGet"]["path"] == service.liveness_path
    resources = container["resources"]
    assert resources["requests"] == {
        "cpu": f"{service.cpu_request_millis}m",
        "memory": f"{service.memory_request_mib}Mi",
    }
    assert resources["limits"]["memory"] == f"{service.memory_limit_mib}Mi"
    assert "cpu" in resources["limits"]
    refs = [next(iter(e.values()))["name"] for e in container["envFrom"]]
    assert refs[0] == f"{service.name}-config"


@pytest.mark.parametrize("stack", harness.STACKS)
@pytest.mark.parametrize("service", services.ALL, ids=lambda s: s.name)
def test_autoscaling_bounds_follow_the_declaration_per_stack(
    service: services.Service, stack: topics.Stack
) -> None:
    program = harness.platform(stack)
    hpa = program.one("HorizontalPodAutoscaler", service.name, APPS).spec
    scaling = service.scaling[stack]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (scaling.min_replicas, scaling.max_replicas)
    assert hpa["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": service.name,
    }
    (metric,) = hpa["metrics"]
    assert metric["resource"]["target"]["averageUtilization"] == scaling.target_cpu_percent
    # The HPA owns the replica count: the Deployment must not fight it on every update.
    assert "replicas" not in program.one("Deployment", service.name, APPS).spec


def test_processor_never_scales_past_the_partitions_it_reads() -> None:
    hpa = harness.platform("prod").one("HorizontalPodAutoscaler", "processor", APPS).spec
    assert hpa["maxReplicas"] <= topics.EVENTS.partitions["prod"]


@pytest.mark.parametrize("service", services.ALL, ids=lambda s: s.name)
def test_disruption_budget_lets_one_pod_go_at_a_time(service: services.Service) -> None:
    pdb = harness.platform("dev").one("PodDisruptionBudget", service.name, APPS).spec
    assert pdb["maxUnavailable"] == 1
    assert pdb["selector"]["matchLabels"]["app.kubernetes.io/name"] == service.name


def _egress_ports(policy: dict[str, Any]) -> set[tuple[str, int]]:
    return {(p["protocol"], p["port"]) for rule in policy["egress"] for p in rule["ports"]}


def test_network_policies_allow_only_the_declared_flows() -> None:
    program = harness.platform("prod")
    ingest = program.one("NetworkPolicy", "ingest", APPS).spec
    processor = program.one("NetworkPolicy", "processor", APPS).spec
    analytics = program.one("NetworkPolicy", "analytics", APPS).spec
    users = program.one("NetworkPolicy", "users", APPS).spec
    dns = {("UDP", 53), ("TCP", 53)}
    assert _egress_ports(ingest) == dns | {("TCP", 5432), ("TCP", 6379), ("TCP", 9093)}
    assert _egress_ports(processor) == dns | {("TCP", 5432), ("TCP", 9093)}
    # 443: S3 (the archive): its addresses are public (the VPC's gateway endpoint routes them).
    assert _egress_ports(analytics) == dns | {("TCP", 5432), ("TCP", 6379), ("TCP", 443)}
    # Throttling state is in PostgreSQL; Kafka for the processor's progress (privacy jobs).
    assert _egress_ports(users) == dns | {("TCP", 5432), ("TCP", 9093), ("TCP", 443)}
    for policy in (ingest, processor, analytics, users):
        assert policy["policyTypes"] == ["Ingress", "Egress"]
        for rule in policy["egress"]:
            if rule["ports"] == [{"protocol": "TCP", "port": 443}]:
                continue  # S3: HTTPS only, to S3's public addresses
            for peer in rule["to"]:
                if "ipBlock" in peer:  # PostgreSQL and Redis: the VPC only, never anywhere
                    assert peer["ipBlock"] == {"cidr": harness.VPC_CIDR}
    for policy in (ingest, processor, users):
        (kafka_rule,) = [
            r for r in policy["egress"] if r["ports"] == [{"protocol": "TCP", "port": 9093}]
        ]
        (peer,) = kafka_rule["to"]
        assert peer["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "kafka"}
        assert peer["podSelector"]["matchLabels"]["strimzi.io/cluster"] == "gamemetrics"


def test_only_public_services_accept_traffic_from_the_load_balancer() -> None:
    program = harness.platform("prod")
    for service in services.ALL:
        rules = program.one("NetworkPolicy", service.name, APPS).spec["ingress"]
        sources = [peer for rule in rules for peer in rule["from"]]
        from_lb = [p for p in sources if "ipBlock" in p]
        assert bool(from_lb) == service.public, service.name
        prometheus = [p for p in sources if "podSelector" in p]
        assert prometheus[0]["namespaceSelector"]["matchLabels"] == {
            "kubernetes.io/metadata.name": "monitoring"
        }
        assert all(p["port"] == service.port for rule in rules for p in rule["ports"])


def test_public_services_sit_behind_one_tls_alb() -> None:
    program = harness.platform("prod")
    for name in ("ingest", "analytics", "users"):
        ingress = program.one("Ingress", name, APPS)
        notes = ingress.inputs["metadata"]["annotations"]
        assert ingress.spec["ingressClassName"] == "alb"
        assert notes["alb.ingress.kubernetes.io/group.name"] == "gamemetrics"
        assert json.loads(notes["alb.ingress.kubernetes.io/listen-ports"]) == [{"HTTPS": 443}]
        assert notes["alb.ingress.kubernetes.io/certificate-arn"].startswith("arn:aws:acm:")
        assert notes["alb.ingress.kubernetes.io/ssl-policy"].startswith("ELBSecurityPolicy-TLS13")
        assert notes["alb.ingress.kubernetes.io/target-type"] == "ip"
        host = f"{name}.dev.gamemetrics.example"
        assert ingress.spec["tls"] == [{"hosts": [host]}]
        assert ingress.spec["rules"][0]["host"] == host


def test_settings_come_from_a_configmap_and_credentials_from_a_secret() -> None:
    program = harness.platform("prod")
    processor = program.one("ConfigMap", "processor-config", APPS).inputs["data"]
    assert processor["GAMEMETRICS_STACK"] == "prod"
    assert processor["GAMEMETRICS_PROCESSOR_PORT"] == "8081"
    assert processor["GAMEMETRICS_PROCESSOR_GROUP"] == "gamemetrics-processor"
    assert processor["GAMEMETRICS_KAFKA_BOOTSTRAP"] == "gamemetrics-kafka-bootstrap.kafka.svc:9093"
    assert processor["GAMEMETRICS_KAFKA_SECURITY_PROTOCOL"] == "SSL"
    secrets = {o["metadata"]["name"]: o for o in program.objects() if o["kind"] == "Secret"}
    assert set(secrets["processor-env"]["stringData"]) == {"GAMEMETRICS_POSTGRES_DSN"}
    assert set(secrets["ingest-env"]["stringData"]) == {
        "GAMEMETRICS_POSTGRES_DSN", "GAMEMETRICS_REDIS_URL"
    }  # fmt: skip
    dsn = secrets["processor-env"]["stringData"]["GAMEMETRICS_POSTGRES_DSN"]
    assert dsn.endswith("?sslmode=require")
    assert "p%40ss%2Fword@" in dsn  # the password is URL-encoded
    assert (
        "GAMEMETRICS_KAFKA_BOOTSTRAP"
        not in program.one("ConfigMap", "analytics-config", APPS).inputs["data"]
    )
    # Users reads the processor's progress over the same mutual TLS, as its own KafkaUser.
    users = program.one("ConfigMap", "users-config", APPS).inputs["data"]
    assert users["GAMEMETRICS_KAFKA_BOOTSTRAP"] == "gamemetrics-kafka-bootstrap.kafka.svc:9093"
    assert users["GAMEMETRICS_KAFKA_SECURITY_PROTOCOL"] == "SSL"
    volumes = program.one("Deployment", "users", APPS).spec["template"]["spec"]["volumes"]
    assert {"secretName": "kafka-users", "defaultMode": 0o440} in [v.get("secret") for v in volumes]


_LOCAL_ONLY = frozenset({Wire.S3_ACCESS_KEY_ID, Wire.S3_SECRET_ACCESS_KEY})


def test_the_services_read_the_settings_their_pods_get() -> None:
    """ConfigMap and Secret together are an environment the service's own contract
    declares entirely and accepts, and the Kafka TLS files they name are inside the
    pod's mounts."""
    program = harness.platform("prod")
    secrets = {o["metadata"]["name"]: o for o in program.objects() if o["kind"] == "Secret"}
    for service in services.ALL:
        contract = for_service(service)
        plain = program.one("ConfigMap", f"{service.name}-config", APPS).inputs["data"]
        secret = secrets.get(f"{service.name}-env", {}).get("stringData", {})
        env = {**plain, **secret}
        assert set(env) <= contract.keys(), set(env) - contract.keys()
        secret_keys = {v.key for v in contract.variables() if v.secret}
        # The platform fills in the secrets it wires (credentials); an optional secret it does
        # not wire (users' receipt signing key: made and kept in PostgreSQL) is the operator's.
        # The local S3 store's identity is wired by `gamemetrics dev` only: in AWS the pod's
        # IRSA role signs S3 requests.
        wired = {
            v.key for v in contract.variables()
            if v.secret and v.wire is not None and v.wire not in _LOCAL_ONLY
        }  # fmt: skip
        assert set(secret) == wired, service.name
        unwired = [v for v in contract.variables() if v.secret and v.wire is None]
        assert all(v.default is not None for v in unwired), service.name  # starts without them
        assert not secret_keys & set(plain), service.name
        settings = contract.from_env(env)
        assert (settings.host, settings.port) == ("0.0.0.0", service.port)  # noqa: S104
        if "kafka" not in service.needs:
            continue
        assert env[contract.key("kafka_bootstrap")] == "gamemetrics-kafka-bootstrap.kafka.svc:9093"
        tls = KafkaTls.from_env(env)
        assert tls is not None
        assert tls.certificate_location is not None
        mounts = {m["mountPath"] for m in _container(program, service.name)["volumeMounts"]}
        for location in (tls.ca_location, tls.certificate_location, tls.key_location):
            assert str(PurePosixPath(str(location)).parent) in mounts, location


def test_pods_roll_when_a_setting_changes() -> None:
    def checksum(password: str) -> str:
        backends = replace(
            harness.backends(),
            postgres=replace(harness.backends().postgres, password=password),  # type: ignore[type-var]
        )
        program = _deploy(services.PROCESSOR, backends=backends)
        pod = program.one("Deployment", "processor").spec["template"]
        return str(pod["metadata"]["annotations"]["gamemetrics.io/config-checksum"])

    assert checksum("one") == checksum("one")
    assert checksum("one") != checksum("two")


def test_irsa_role_trusts_only_the_service_account_and_grants_only_its_needs() -> None:
    program = harness.platform("prod")
    roles = {r.name: r for r in program.of_type("aws:iam/role:Role")}
    trust = json.loads(roles["gm-ingest-irsa"].inputs["assumeRolePolicy"])
    (statement,) = trust["Statement"]
    condition = statement["Condition"]["StringEquals"]
    issuer = "oidc.eks.eu-west-1.amazonaws.com/id/ABC"
    assert condition == {
        f"{issuer}:sub": "system:serviceaccount:gamemetrics:ingest",
        f"{issuer}:aud": "sts.amazonaws.com",
    }
    assert roles["gm-ingest-irsa"].inputs["tags"]["service"] == "ingest"
    sa = program.one("ServiceAccount", "ingest", APPS).inputs["metadata"]["annotations"]
    assert sa["eks.amazonaws.com/role-arn"] == "arn:aws:iam::123456789012:role/gm-ingest-irsa"


KEY = "arn:aws:kms:eu-west-1:123456789012:key/storage"


def _archive_policy(objects: list[str], key: list[str]) -> dict[str, Any]:
    """The document a service with the archive's `read` or `write` access gets."""
    access = "Write" if "s3:PutObject" in objects else "Read"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ListArchive",
                "Effect": "Allow",
                "Action": ["s3:ListBucket", "s3:GetBucketLocation"],
                "Resource": ["arn:aws:s3:::gm-archive"],
            },
            {
                "Sid": f"{access}ArchiveObjects",
                "Effect": "Allow",
                "Action": objects,
                "Resource": ["arn:aws:s3:::gm-archive/events/*"],
            },
            {"Sid": "BucketKey", "Effect": "Allow", "Action": key, "Resource": [KEY]},
        ],
    }


def test_each_role_is_granted_exactly_its_declared_s3_access() -> None:
    """Analytics reads the archive; retention and the eraser (users) write and delete in it;
    the others call no AWS API. Only objects under events/, never another bucket."""
    program = harness.platform("prod")
    documents = {
        p.name: json.loads(p.inputs["policy"])
        for p in program.of_type("aws:iam/rolePolicy:RolePolicy")
        if p.name.startswith(tuple(f"gm-{s.name}-" for s in services.ALL))
    }
    read = _archive_policy(["s3:GetObject"], ["kms:Decrypt"])
    write = _archive_policy(
        ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
        ["kms:Decrypt", "kms:GenerateDataKey"],
    )
    assert documents == {
        "gm-analytics-irsa-policy": read,
        "gm-users-irsa-policy": write,
        "gm-retention-irsa-policy": write,
    }
    for role in ("gm-ingest-irsa", "gm-processor-irsa"):
        assert role in {r.name for r in program.of_type("aws:iam/role:Role")}


def test_a_service_using_a_bucket_the_storage_lacks_is_refused() -> None:
    storage = replace(harness.backends().storage, buckets={"logs": "gm-logs"})  # type: ignore[type-var]
    with pytest.raises(ValueError, match="'analytics' uses bucket\\(s\\) archive; the "
                       "ObjectStorage has logs"):  # fmt: skip
        iam.permissions_policy(services.ANALYTICS, storage)
    with pytest.raises(ValueError, match="'users' needs s3; no ObjectStorage given"):
        iam.permissions_policy(services.USERS, None)
    assert iam.permissions_policy(services.INGEST, None) is None


ARCHIVER = services.Service(
    name="archiver",
    app="apps.archiver.app:create_app",
    port=8090,
    public=False,
    needs=frozenset({"kafka", "s3"}),
    s3_access={buckets.ARCHIVE: "write"},
    consumes=(topics.EVENTS,),
    liveness_path="/live",
    readiness_path="/ready",
    scaling={
        "dev": services.Scaling(1, 3),
        "staging": services.Scaling(1, 3),
        "prod": services.Scaling(2, 8),
    },
)


@dataclass(frozen=True, slots=True, kw_only=True)
class ArchiverSettings(ServiceSettings):
    """A new service's contract: what the checklist in docs/ARCHITECTURE.md asks for."""

    SERVICE = ARCHIVER
    kafka_bootstrap: str = field(metadata=common.KAFKA_BOOTSTRAP)
    host: str = common.host(ARCHIVER)
    port: int = common.port(ARCHIVER)
    group_id: str = field(
        default=ARCHIVER.consumer_group,
        metadata=env("ARCHIVER_GROUP", wire=Wire.CONSUMER_GROUP),
    )
    bucket: str = field(metadata=env("S3_ARCHIVE_BUCKET", wire=Wire.ARCHIVE_BUCKET))
    kafka_tls: KafkaTls | None = field(default=None, metadata=SECTION)


def test_a_service_added_to_the_declaration_needs_no_infra_change() -> None:
    archiver = ARCHIVER
    program = _deploy(archiver, "prod")
    container = _container(program, "archiver")
    assert container["command"] == ["gamemetrics", "serve", "archiver"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    hpa = program.one("HorizontalPodAutoscaler", "archiver").spec
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 8)
    assert _egress_ports(program.one("NetworkPolicy", "archiver").spec) == {
        ("UDP", 53), ("TCP", 53), ("TCP", 9093), ("TCP", 443)
    }  # fmt: skip
    (policy,) = program.of_type("aws:iam/rolePolicy:RolePolicy")
    document = json.loads(policy.inputs["policy"])
    resources = {r for s in document["Statement"] for r in s["Resource"]}
    assert resources == {
        "arn:aws:s3:::gm-archive",
        "arn:aws:s3:::gm-archive/events/*",
        KEY,
    }
    config = program.one("ConfigMap", "archiver-config").inputs["data"]
    assert config["GAMEMETRICS_S3_ARCHIVE_BUCKET"] == "gm-archive"
    assert config["GAMEMETRICS_ARCHIVER_GROUP"] == "gamemetrics-archiver"
    settings = ArchiverSettings.from_env(config)
    assert settings.bucket == "gm-archive"
    assert settings.kafka_tls is not None
    assert program.kind("Secret") == []  # it needs no credentials
    assert program.kind("Ingress") == []
    validate_objects(program.objects())


def test_children_are_parented_to_the_component() -> None:
    program = _deploy(services.INGEST)
    (component,) = program.of_type("gamemetrics:infra:ServiceDeployment")
    children = [r for r in program if r.parent == component.urn]
    assert {r.type.split(":")[-1] for r in children} >= {
        "Role", "ServiceAccount", "ConfigMap", "Secret", "Deployment", "Service",
        "HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy", "Ingress",
    }  # fmt: skip
    (provider,) = program.of_type("pulumi:providers:kubernetes")
    for r in program:
        if r.type.startswith("kubernetes:"):
            assert r.provider.startswith(provider.urn), r.name


def test_an_image_not_pinned_by_digest_is_refused() -> None:
    with pytest.raises(Exception, match="not pinned by digest"):
        _deploy(services.INGEST, image="gamemetrics:latest")


def test_a_stack_without_declared_scaling_is_refused_by_name() -> None:
    unscaled = replace(services.PROCESSOR, scaling={"prod": services.Scaling(1, 2)})
    with pytest.raises(ValueError, match="'processor' declares no scaling for stack 'dev'"):
        _deploy(unscaled, "dev")


def test_without_ingress_settings_a_public_service_stays_inside_the_cluster() -> None:
    program = _deploy(services.INGEST, ingress=None)
    assert program.kind("Ingress") == []
    rules = program.one("NetworkPolicy", "ingest").spec["ingress"]
    assert all("ipBlock" not in peer for rule in rules for peer in rule["from"])


def test_mesh_adds_the_istiod_flow_and_lets_the_alb_reach_public_ports() -> None:
    program = harness.platform("prod", mesh=True)
    assert ("TCP", 15012) in _egress_ports(program.one("NetworkPolicy", "processor", APPS).spec)
    exception = program.one("PeerAuthentication", "ingest-from-alb", APPS).spec
    assert exception["mtls"] == {"mode": "STRICT"}
    assert exception["portLevelMtls"] == {"8080": {"mode": "PERMISSIVE"}}
    assert {p.object_name for p in program.kind("PeerAuthentication", APPS)} == {
        f"{s.name}-from-alb" for s in services.ALL if s.public
    }
    assert ("TCP", 15012) not in _egress_ports(
        harness.platform("prod").one("NetworkPolicy", "processor", APPS).spec
    )
