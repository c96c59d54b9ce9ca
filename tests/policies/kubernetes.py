"""Kubernetes objects for the policy tests, as pulumi-kubernetes sends them to the engine."""

from typing import Any

from policies.offline import EngineResource
from tests.policies.harness import k8s, res

DIGEST = "sha256:" + "a" * 64
IMAGE = f"123456789012.dkr.ecr.eu-west-1.amazonaws.com/app@{DIGEST}"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
LABELS = {"app.kubernetes.io/name": "web"}


def container(name: str = "app", **overrides: Any) -> dict[str, Any]:
    """A container every pod policy accepts; keyword arguments replace its fields."""
    spec: dict[str, Any] = {
        "name": name,
        "image": IMAGE,
        "resources": {
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"cpu": "200m", "memory": "256Mi"},
        },
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 10001,
            "readOnlyRootFilesystem": True,
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
        },
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"}},
        "readinessProbe": {"httpGet": {"path": "/readyz", "port": "http"}},
    }
    spec.update(overrides)
    return {k: v for k, v in spec.items() if v is not None}


def security(**overrides: Any) -> dict[str, Any]:
    """The safe container securityContext with some fields replaced (None: removed)."""
    base: dict[str, Any] = dict(container()["securityContext"])
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def pod_spec(*containers: dict[str, Any], **fields: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": list(containers) or [container()],
    }
    spec.update(fields)
    return spec


def deployment(
    name: str = "web",
    spec: dict[str, Any] | None = None,
    *,
    labels: dict[str, str] | None = None,
    replicas: int | None = None,
    namespace: str = "apps",
) -> EngineResource:
    pod_labels = labels or {"app.kubernetes.io/name": name}
    body: dict[str, Any] = {
        "selector": {"matchLabels": pod_labels},
        "template": {"metadata": {"labels": pod_labels}, "spec": spec or pod_spec()},
    }
    if replicas is not None:
        body["replicas"] = replicas
    return res(DEPLOYMENT, name, k8s("Deployment", "apps/v1", name, body, namespace=namespace))


def subject(name: str = "web", kind: str = "Deployment", namespace: str = "apps") -> str:
    group = {"Deployment": "apps/v1", "StatefulSet": "apps/v1", "CronJob": "batch/v1"}.get(
        kind, "core/v1"
    )
    return f'kubernetes:{group}:{kind} "{name}" ({kind} {namespace}/{name})'
