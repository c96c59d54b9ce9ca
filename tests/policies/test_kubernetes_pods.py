"""Pod policies, on every kind that runs pods: cases with exact messages."""

from typing import Any

import pytest

from policies.offline import OfflineAnalyzer
from tests.policies.harness import Case, check, k8s, res
from tests.policies.kubernetes import (
    IMAGE,
    container,
    deployment,
    pod_spec,
    security,
    subject,
)

WEB = subject()


def cronjob(name: str, spec: dict[str, Any]) -> Any:
    body = {"schedule": "0 * * * *", "jobTemplate": {"spec": {"template": {"spec": spec}}}}
    return res("kubernetes:batch/v1:CronJob", name, k8s("CronJob", "batch/v1", name, body))


def pod(name: str, spec: dict[str, Any]) -> Any:
    props = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "apps"},
        "spec": spec,
    }
    return res("kubernetes:core/v1:Pod", name, props)


CASES = [
    Case(
        "kubernetes-container-resources",
        good=[deployment(), cronjob("nightly", pod_spec())],
        bad=[
            deployment(
                spec=pod_spec(container(resources={"requests": {"cpu": "100m", "memory": "1Gi"}}))
            ),
            cronjob(
                "nightly",
                pod_spec(container(), initContainers=[container("migrate", resources=None)]),
            ),
        ],
        expected=[
            (
                "web",
                f'{WEB}: container "app" sets no limits.cpu, limits.memory. Fix: set '
                "resources.requests and resources.limits for cpu and memory on every container.",
            ),
            (
                "nightly",
                f'{subject("nightly", "CronJob")}: init container "migrate" sets no requests.cpu, '
                "requests.memory, limits.cpu, limits.memory. Fix: set resources.requests and "
                "resources.limits for cpu and memory on every container.",
            ),
        ],
    ),
    Case(
        "kubernetes-run-as-non-root",
        # The pod's securityContext says it for a container that does not.
        good=[deployment(spec=pod_spec(container(securityContext=security(runAsNonRoot=None))))],
        bad=[
            deployment(spec=pod_spec(container(securityContext=security(runAsUser=0)))),
            deployment(
                "worker",
                spec={"containers": [container(securityContext=security(runAsNonRoot=None))]},
            ),
        ],
        expected=[
            (
                "web",
                f'{WEB}: container "app" runs as root (runAsUser: 0). Fix: set '
                "securityContext.runAsNonRoot: true and a non-zero runAsUser (the image's user).",
            ),
            (
                "worker",
                f'{subject("worker")}: container "app" may run as root (runAsNonRoot: not set). '
                "Fix: set securityContext.runAsNonRoot: true and a non-zero runAsUser (the image's "
                "user).",
            ),
        ],
    ),
    Case(
        "kubernetes-read-only-root-filesystem",
        good=[deployment()],
        bad=[
            deployment(
                spec=pod_spec(container(securityContext=security(readOnlyRootFilesystem=False)))
            )
        ],
        expected=[
            (
                "web",
                f'{WEB}: container "app" can write to its root filesystem. Fix: set '
                "securityContext.readOnlyRootFilesystem: true and mount an emptyDir where it must "
                "write (/tmp).",
            )
        ],
    ),
    Case(
        "kubernetes-no-privilege-escalation",
        good=[deployment()],
        bad=[
            deployment(
                spec=pod_spec(container(securityContext=security(allowPrivilegeEscalation=None)))
            )
        ],
        expected=[
            (
                "web",
                f'{WEB}: container "app" may gain privileges (allowPrivilegeEscalation: not set). '
                "Fix: set securityContext.allowPrivilegeEscalation: false.",
            )
        ],
    ),
    Case(
        "kubernetes-capabilities-dropped",
        good=[
            deployment(),
            deployment(
                "proxy",
                pod_spec(
                    container(
                        securityContext=security(
                            capabilities={"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}
                        )
                    )
                ),
            ),
        ],
        bad=[
            deployment(
                spec=pod_spec(
                    container(
                        securityContext=security(capabilities={"add": ["NET_ADMIN", "SYS_TIME"]})
                    )
                )
            )
        ],
        expected=[
            (
                "web",
                f'{WEB}: container "app" does not drop ALL capabilities and adds NET_ADMIN, '
                'SYS_TIME. Fix: set securityContext.capabilities: {drop: ["ALL"]} (add back '
                "NET_BIND_SERVICE at most).",
            )
        ],
    ),
    Case(
        "kubernetes-no-privileged",
        good=[deployment()],
        bad=[deployment(spec=pod_spec(container(securityContext=security(privileged=True))))],
        expected=[
            (
                "web",
                f'{WEB}: container "app" is privileged (full access to the node). Fix: remove '
                "securityContext.privileged and grant only what it needs.",
            )
        ],
    ),
    Case(
        "kubernetes-no-host-namespaces",
        good=[deployment()],
        bad=[deployment(spec=pod_spec(hostNetwork=True, hostPID=True))],
        expected=[
            (
                "web",
                f"{WEB} shares the node's namespaces (hostNetwork, hostPID: true). Fix: remove "
                "them; expose ports through a Service instead.",
            )
        ],
    ),
    Case(
        "kubernetes-no-host-path",
        good=[deployment(spec=pod_spec(volumes=[{"name": "tmp", "emptyDir": {}}]))],
        bad=[
            deployment(
                spec=pod_spec(
                    volumes=[{"name": "docker", "hostPath": {"path": "/var/run/docker.sock"}}]
                )
            )
        ],
        expected=[
            (
                "web",
                f"{WEB} mounts the node's filesystem (hostPath volumes docker "
                "(/var/run/docker.sock)). Fix: use an emptyDir, a ConfigMap/Secret or a "
                "PersistentVolumeClaim.",
            )
        ],
    ),
    Case(
        "kubernetes-probes",
        # A job runs to completion: no probes asked for; init containers neither.
        good=[
            deployment(
                spec=pod_spec(container(), initContainers=[container("init", livenessProbe=None)])
            ),
            cronjob("nightly", pod_spec(container(livenessProbe=None, readinessProbe=None))),
        ],
        bad=[
            deployment(spec=pod_spec(container(livenessProbe=None, readinessProbe=None))),
            pod("debug", pod_spec(container(readinessProbe=None))),
        ],
        expected=[
            (
                "web",
                f'{WEB}: container "app" has no livenessProbe and no readinessProbe. Fix: probe '
                "the "
                "service's health endpoints (/healthz for liveness, /readyz for readiness).",
            ),
            (
                "debug",
                f'{subject("debug", "Pod")}: container "app" has no readinessProbe. Fix: probe the '
                "service's health endpoints (/healthz for liveness, /readyz for readiness).",
            ),
        ],
    ),
    Case(
        "kubernetes-image-digest",
        good=[
            deployment(),
            deployment("tagged", pod_spec(container(image=IMAGE.replace("/app@", "/app:v1@")))),
        ],
        bad=[
            deployment(spec=pod_spec(container(image="nginx"))),
            deployment("pinned", pod_spec(container(image="registry:5000/team/app:1.4.2"))),
            deployment("latest", pod_spec(container(image="redis:latest"))),
        ],
        expected=[
            (
                "web",
                f'{WEB}: container "app" image nginx uses the mutable latest tag. Fix: reference '
                "the "
                "image by digest (repository@sha256:<digest>), as the registry returned it.",
            ),
            (
                "pinned",
                f'{subject("pinned")}: container "app" image registry:5000/team/app:1.4.2 is '
                "pinned "
                "by the mutable tag 1.4.2 only. Fix: reference the image by digest "
                "(repository@sha256:<digest>), as the registry returned it.",
            ),
            (
                "latest",
                f'{subject("latest")}: container "app" image redis:latest uses the mutable latest '
                "tag. Fix: reference the image by digest (repository@sha256:<digest>), as the "
                "registry returned it.",
            ),
        ],
    ),
    Case(
        "kubernetes-seccomp-profile",
        good=[
            deployment(),
            deployment(
                "local",
                {
                    "containers": [
                        container(securityContext=security(seccompProfile={"type": "Localhost"}))
                    ]
                },
            ),
        ],
        bad=[
            deployment(spec={"containers": [container()]}),
            deployment(
                "unconfined",
                pod_spec(
                    container(securityContext=security(seccompProfile={"type": "Unconfined"}))
                ),
            ),
        ],
        expected=[
            (
                "web",
                f'{WEB}: container "app" runs without a seccomp profile (seccompProfile.type: not '
                "set). Fix: set securityContext.seccompProfile.type: RuntimeDefault on the pod.",
            ),
            (
                "unconfined",
                f'{subject("unconfined")}: container "app" runs without a seccomp profile '
                "(seccompProfile.type: Unconfined). Fix: set securityContext.seccompProfile.type: "
                "RuntimeDefault on the pod.",
            ),
        ],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_policy(analyzer: OfflineAnalyzer, case: Case) -> None:
    check(analyzer, case)
