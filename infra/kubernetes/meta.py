"""Names and labels the Kubernetes components share."""

from dataclasses import dataclass
from typing import Final

PART_OF: Final = "gamemetrics"
APP_UID: Final = 10001
"""The image's non-root user and group (the Dockerfile's `USER 10001:10001`)."""
HTTP_PORT_NAME: Final = "http"
KUBERNETES_VERSION: Final = "1.34"
"""The Kubernetes (EKS) minor version whose schemas the objects are validated against."""


@dataclass(frozen=True, slots=True)
class Namespaces:
    """Where each part runs; the defaults are what every stack uses."""

    apps: str = "gamemetrics"
    kafka: str = "kafka"
    monitoring: str = "monitoring"
    mesh: str = "istio-system"


def selector_labels(name: str) -> dict[str, str]:
    """The labels a Service, PDB, HPA target or NetworkPolicy selects a service's pods by."""
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": PART_OF}


def labels(name: str, component: str, stack: str) -> dict[str, str]:
    return {
        **selector_labels(name),
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/managed-by": "pulumi",
        "gamemetrics.io/stack": stack,
    }
