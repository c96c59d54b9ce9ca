"""The pod a service runs in, derived from its declaration: hardened, probed, sized.

Pure builders (no resources): `services.ServiceDeployment` puts them into objects.
"""

import hashlib
import json
from collections.abc import Mapping
from typing import Final

import pulumi
import pulumi_kubernetes as k8s

from apps.core import services, topics
from apps.core.errors import ConfigError
from apps.core.settings import for_service
from apps.core.settings.contract import Wire
from apps.core.settings.kafka_tls import KafkaTls
from infra.kubernetes import kafka
from infra.kubernetes.backends import Backends
from infra.kubernetes.meta import APP_UID, HTTP_PORT_NAME, labels

corev1 = k8s.core.v1
metav1 = k8s.meta.v1

KAFKA_CA_DIR: Final = "/etc/gamemetrics/kafka-ca"
KAFKA_USER_DIR: Final = "/etc/gamemetrics/kafka-user"
KAFKA_TLS: Final = KafkaTls(
    ca_location=f"{KAFKA_CA_DIR}/ca.crt",
    certificate_location=f"{KAFKA_USER_DIR}/user.crt",
    key_location=f"{KAFKA_USER_DIR}/user.key",
)
"""Where the pod mounts Strimzi's cluster CA and its KafkaUser's certificate (see `container`)."""
CHECKSUM_ANNOTATION: Final = "gamemetrics.io/config-checksum"
CPU_LIMIT_FACTOR: Final = 2


def supplied(
    service: services.Service,
    stack: topics.Stack,
    backends: Backends,
    kafka_access: kafka.KafkaAccess | None,
) -> dict[Wire, pulumi.Input[str]]:
    """What the cluster supplies to a service; its contract picks the ones it reads."""
    values: dict[Wire, pulumi.Input[str]] = {
        Wire.STACK: stack,
        Wire.HOST: "0.0.0.0",  # noqa: S104 - a container listens on all its addresses
        Wire.PORT: str(service.port),
        Wire.CONSUMER_GROUP: service.consumer_group,
    }
    if kafka_access is not None:
        values[Wire.KAFKA_BOOTSTRAP] = kafka_access.bootstrap
    if backends.postgres is not None:
        values[Wire.POSTGRES_DSN] = backends.postgres.dsn()
    if backends.redis is not None:
        values[Wire.REDIS_URL] = backends.redis.url()
    if backends.storage is not None and "archive" in backends.storage.buckets:
        values[Wire.ARCHIVE_BUCKET] = backends.storage.buckets["archive"]
    return values


def _wired(
    service: services.Service, values: Mapping[Wire, pulumi.Input[str]], *, secret: bool
) -> dict[str, pulumi.Input[str]]:
    try:
        return for_service(service).wire(values, secret=secret)
    except ConfigError as e:
        raise ValueError(f"service {service.name!r}: {e}") from None


def config_data(
    service: services.Service,
    stack: topics.Stack,
    backends: Backends,
    kafka_access: kafka.KafkaAccess | None,
) -> dict[str, pulumi.Input[str]]:
    """Plain settings (ConfigMap): the contract's variables that are not secret."""
    data = _wired(service, supplied(service, stack, backends, kafka_access), secret=False)
    if kafka.needs_user(service):
        data |= KAFKA_TLS.env()
    return data


def secret_data(
    service: services.Service,
    stack: topics.Stack,
    backends: Backends,
    kafka_access: kafka.KafkaAccess | None,
) -> dict[str, pulumi.Input[str]]:
    """Connection URLs with credentials (Secret): the contract's secret variables."""
    return _wired(service, supplied(service, stack, backends, kafka_access), secret=True)


def checksum(*parts: Mapping[str, pulumi.Input[str]]) -> pulumi.Output[str]:
    """Changes when any setting changes, so that the Deployment rolls its pods."""
    keys = [sorted(p) for p in parts]
    values = [pulumi.Output.all(*(p[k] for k in ks)) for p, ks in zip(parts, keys, strict=True)]

    def digest(resolved: list[list[str]]) -> str:
        doc = [dict(zip(ks, vs, strict=True)) for ks, vs in zip(keys, resolved, strict=True)]
        return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()

    # A SHA-256 of high-entropy credentials reveals nothing; kept secret, it would hide the
    # whole Deployment spec from `pulumi preview` diffs.
    return pulumi.Output.unsecret(pulumi.Output.all(*values).apply(digest))


def resources(service: services.Service) -> corev1.ResourceRequirementsArgs:
    cpu = service.cpu_request_millis
    return corev1.ResourceRequirementsArgs(
        requests={"cpu": f"{cpu}m", "memory": f"{service.memory_request_mib}Mi"},
        limits={"cpu": f"{cpu * CPU_LIMIT_FACTOR}m", "memory": f"{service.memory_limit_mib}Mi"},
    )


def _probe(path: str, *, period: int, failures: int) -> corev1.ProbeArgs:
    return corev1.ProbeArgs(
        http_get=corev1.HTTPGetActionArgs(path=path, port=HTTP_PORT_NAME),
        period_seconds=period,
        timeout_seconds=2,
        failure_threshold=failures,
    )


def container(
    service: services.Service,
    image: pulumi.Input[str],
    config_name: str,
    secret_name: str | None,
) -> corev1.ContainerArgs:
    env_from = [
        corev1.EnvFromSourceArgs(config_map_ref=corev1.ConfigMapEnvSourceArgs(name=config_name))
    ]
    if secret_name is not None:
        env_from.append(
            corev1.EnvFromSourceArgs(secret_ref=corev1.SecretEnvSourceArgs(name=secret_name))
        )
    mounts = [corev1.VolumeMountArgs(name="tmp", mount_path="/tmp")]  # noqa: S108 - an emptyDir
    if kafka.needs_user(service):
        mounts += [
            corev1.VolumeMountArgs(name="kafka-ca", mount_path=KAFKA_CA_DIR, read_only=True),
            corev1.VolumeMountArgs(name="kafka-user", mount_path=KAFKA_USER_DIR, read_only=True),
        ]
    return corev1.ContainerArgs(
        name=service.name,
        image=image,
        image_pull_policy="IfNotPresent",
        command=list(service.command),
        ports=[
            corev1.ContainerPortArgs(
                name=HTTP_PORT_NAME, container_port=service.port, protocol="TCP"
            )
        ],
        env_from=env_from,
        resources=resources(service),
        # A slow start (migrations, consumer group join) is not a dead process.
        startup_probe=_probe(service.liveness_path, period=2, failures=60),
        liveness_probe=_probe(service.liveness_path, period=10, failures=3),
        readiness_probe=_probe(service.readiness_path, period=5, failures=2),
        security_context=corev1.SecurityContextArgs(
            allow_privilege_escalation=False,
            read_only_root_filesystem=True,
            run_as_non_root=True,
            run_as_user=APP_UID,
            run_as_group=APP_UID,
            capabilities=corev1.CapabilitiesArgs(drop=["ALL"]),
            seccomp_profile=corev1.SeccompProfileArgs(type="RuntimeDefault"),
        ),
        volume_mounts=mounts,
    )


def volumes(service: services.Service) -> list[corev1.VolumeArgs]:
    result = [
        corev1.VolumeArgs(name="tmp", empty_dir=corev1.EmptyDirVolumeSourceArgs(size_limit="256Mi"))
    ]
    if kafka.needs_user(service):
        result += [
            corev1.VolumeArgs(
                name="kafka-ca",
                secret=corev1.SecretVolumeSourceArgs(
                    secret_name=kafka.CLUSTER_CA_SECRET, default_mode=0o440
                ),
            ),
            corev1.VolumeArgs(
                name="kafka-user",
                secret=corev1.SecretVolumeSourceArgs(
                    secret_name=kafka.USER_SECRET_PREFIX + service.name, default_mode=0o440
                ),
            ),
        ]
    return result


def pod_template(
    service: services.Service,
    stack: topics.Stack,
    *,
    image: pulumi.Input[str],
    service_account: str,
    config_name: str,
    secret_name: str | None,
    config_checksum: pulumi.Input[str],
    mesh: bool,
) -> corev1.PodTemplateSpecArgs:
    pod_labels = labels(service.name, "service", stack)
    annotations: dict[str, pulumi.Input[str]] = {CHECKSUM_ANNOTATION: config_checksum}
    if mesh:
        pod_labels["sidecar.istio.io/inject"] = "true"
    return corev1.PodTemplateSpecArgs(
        metadata=metav1.ObjectMetaArgs(labels=pod_labels, annotations=annotations),
        spec=corev1.PodSpecArgs(
            service_account_name=service_account,
            automount_service_account_token=False,
            enable_service_links=False,
            termination_grace_period_seconds=30,
            security_context=corev1.PodSecurityContextArgs(
                run_as_non_root=True,
                run_as_user=APP_UID,
                run_as_group=APP_UID,
                fs_group=APP_UID,
                seccomp_profile=corev1.SeccompProfileArgs(type="RuntimeDefault"),
            ),
            containers=[container(service, image, config_name, secret_name)],
            volumes=volumes(service),
            topology_spread_constraints=[
                corev1.TopologySpreadConstraintArgs(
                    max_skew=1,
                    topology_key=key,
                    when_unsatisfiable="ScheduleAnyway",
                    label_selector=metav1.LabelSelectorArgs(
                        match_labels={"app.kubernetes.io/name": service.name}
                    ),
                )
                for key in ("topology.kubernetes.io/zone", "kubernetes.io/hostname")
            ],
        ),
    )
