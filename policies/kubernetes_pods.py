"""Pods, wherever the program declares them (Pod, Deployment, StatefulSet, DaemonSet,
ReplicaSet, Job, CronJob): sized, unprivileged, probed, and running pinned images.

These are the Pod Security Standards' `restricted` profile plus what the
scheduler and the rollout need. Charts installed by Helm releases are not
visible here (their pods exist only in the cluster); the namespaces they run in
enforce Pod Security at admission instead.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

from pulumi_policy import ReportViolation, ResourceValidationArgs

from policies.support import (
    Props,
    about,
    dig,
    is_false,
    is_true,
    items,
    kind_of,
    mapping,
    number,
    resource_policy,
    show,
    strings,
)

POD_SPEC_PATHS: Final[dict[str, tuple[str, ...]]] = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
LONG_RUNNING: Final = frozenset({"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"})
WORKLOAD_GROUPS: Final = ("core/", "apps/", "batch/", "extensions/")
DIGEST: Final = re.compile(r"@sha256:[0-9a-f]{64}$")
ALLOWED_ADDED_CAPABILITIES: Final = frozenset({"NET_BIND_SERVICE"})
SAFE_SECCOMP: Final = frozenset({"RuntimeDefault", "Localhost"})


def is_workload(resource_type: str) -> bool:
    if not resource_type.startswith("kubernetes:"):
        return False
    group = resource_type.split(":")[1]
    return kind_of(resource_type) in POD_SPEC_PATHS and group.startswith(WORKLOAD_GROUPS)


def pod_spec(resource_type: str, props: Props) -> Props | None:
    if not is_workload(resource_type):
        return None
    spec = dig(props, *POD_SPEC_PATHS[kind_of(resource_type)])
    return mapping(spec)


def pod_labels(resource_type: str, props: Props) -> dict[str, str]:
    """The labels of the pods a workload runs (a Pod's own)."""
    path = POD_SPEC_PATHS.get(kind_of(resource_type))
    if path is None:
        return {}
    labels = mapping(dig(props, *path[:-1], "metadata", "labels"))
    return {str(k): str(v) for k, v in labels.items()}


@dataclass(frozen=True, slots=True)
class Container:
    role: str
    """`container` or `init container`."""
    spec: Props

    @property
    def name(self) -> str:
        return str(self.spec.get("name") or "?")

    @property
    def security(self) -> Props:
        return mapping(self.spec.get("securityContext"))

    def __str__(self) -> str:
        return f'{self.role} "{self.name}"'


def containers(spec: Props, *, init: bool = True) -> Iterator[Container]:
    for c in items(spec.get("containers")):
        yield Container("container", mapping(c))
    if init:
        for c in items(spec.get("initContainers")):
            yield Container("init container", mapping(c))


def _pod(args: ResourceValidationArgs) -> Props | None:
    return pod_spec(args.resource_type, args.props)


def container_resources(args: ResourceValidationArgs, report: ReportViolation) -> None:
    spec = _pod(args)
    if spec is None:
        return
    for c in containers(spec):
        missing = [
            f"{kind}.{resource}"
            for kind in ("requests", "limits")
            for resource in ("cpu", "memory")
            if not dig(c.spec, "resources", kind, resource)
        ]
        if missing:
            report(
                f"{about(args)}: {c} sets no {', '.join(missing)}. Fix: set resources.requests "
                "and resources.limits for cpu and memory on every container.",
                None,
            )


def run_as_non_root(args: ResourceValidationArgs, report: ReportViolation) -> None:
    spec = _pod(args)
    if spec is None:
        return
    pod = mapping(spec.get("securityContext"))
    for c in containers(spec):
        non_root = c.security.get("runAsNonRoot", pod.get("runAsNonRoot"))
        user = c.security.get("runAsUser", pod.get("runAsUser"))
        if number(user) == 0:
            problem = "runs as root (runAsUser: 0)"
        elif not is_true(non_root):
            problem = f"may run as root (runAsNonRoot: {show(non_root)})"
        else:
            continue
        report(
            f"{about(args)}: {c} {problem}. Fix: set securityContext.runAsNonRoot: true and a "
            "non-zero runAsUser (the image's user).",
            None,
        )


def read_only_root_filesystem(args: ResourceValidationArgs, report: ReportViolation) -> None:
    spec = _pod(args)
    if spec is None:
        return
    for c in containers(spec):
        if not is_true(c.security.get("readOnlyRootFilesystem")):
            report(
                f"{about(args)}: {c} can write to its root filesystem. Fix: set "
                "securityContext.readOnlyRootFilesystem: true and mount an emptyDir where it "
                "must write (/tmp).",
                None,
            )


def no_privilege_escalation(args: ResourceValidationArgs, report: ReportViolation) -> None:
    spec = _pod(args)
    if spec is None:
        return
    for c in containers(spec):
        value = c.security.get("allowPrivilegeEscalation")
        if not is_false(value):
            report(
                f"{about(args)}: {c} may gain privileges (allowPrivilegeEscalation: "
                f"{show(value)}). Fix: set securityContext.allowPrivilegeEscalation: false.",
                None,
            )


def capabilities_dropped(args: ResourceValidationArgs, report: ReportViolation) -> None:
    spec = _pod(args)
    if spec is None:
        return
    for c in containers(spec):
        caps = mapping(c.security.get("capabilities"))
        problems = []
        if "ALL" not in strings(caps.get("drop")):
            problems.append("does not drop ALL capabilities")
        added = sorted(set(strings(caps.get("add"))) - ALLOWED_ADDED_CAPABILITIES)
        if added:
            problems.append(f"adds {', '.join(added)}")
        if problems:
            report(
                f"{about(args)}: {c} {' and '.join(problems)}. Fix: set "
                'securityContext.capabilities: {drop: ["ALL"]} (add back NET_BIND_SERVICE '
                "at most).",
                None,
            )


def no_privileged(args: ResourceValidationArgs, report: ReportViolation) -> None:
    spec = _pod(args)
    if spec is None:
        return
    for c in containers(spec):
        if is_true(c.security.get("privileged")):
            report(
                f"{about(args)}: {c} is privileged (full access to the node). Fix: remove "
                "securityContext.privileged and grant only what it needs.",
                None,
            )


def no_host_namespaces(args: ResourceValidationArgs, report: ReportViolation) -> None:
    spec = _pod(args)
    if spec is None:
        return
    shared = [k for k in ("hostNetwork", "hostPID", "hostIPC") if is_true(spec.get(k))]
    if shared:
        report(
            f"{about(args)} shares the node's namespaces ({', '.join(shared)}: true). Fix: "
            "remove them; expose ports through a Service instead.",
            None,
        )


def no_host_path(args: ResourceValidationArgs, report: ReportViolation) -> None:
    spec = _pod(args)
    if spec is None:
        return
    mounted = [
        f"{mapping(v).get('name')} ({show(dig(mapping(v), 'hostPath', 'path'))})"
        for v in items(spec.get("volumes"))
        if mapping(v).get("hostPath") is not None
    ]
    if mounted:
        report(
            f"{about(args)} mounts the node's filesystem (hostPath volumes {', '.join(mounted)}). "
            "Fix: use an emptyDir, a ConfigMap/Secret or a PersistentVolumeClaim.",
            None,
        )


def probes(args: ResourceValidationArgs, report: ReportViolation) -> None:
    spec = _pod(args)
    if spec is None or kind_of(args.resource_type) not in LONG_RUNNING:
        return
    for c in containers(spec, init=False):
        missing = [p for p in ("livenessProbe", "readinessProbe") if not c.spec.get(p)]
        if missing:
            report(
                f"{about(args)}: {c} has no {' and no '.join(missing)}. Fix: probe the service's "
                "health endpoints (/healthz for liveness, /readyz for readiness).",
                None,
            )


def image_digest(args: ResourceValidationArgs, report: ReportViolation) -> None:
    spec = _pod(args)
    if spec is None:
        return
    for c in containers(spec):
        image = str(c.spec.get("image") or "")
        if DIGEST.search(image):
            continue
        last = image.rsplit("/", 1)[-1]
        tag = last.split(":", 1)[1] if ":" in last else "latest"
        problem = (
            "uses the mutable latest tag"
            if tag == "latest"
            else f"is pinned by the mutable tag {tag} only"
        )
        report(
            f"{about(args)}: {c} image {image or '(none)'} {problem}. Fix: reference the image "
            "by digest (repository@sha256:<digest>), as the registry returned it.",
            None,
        )


def seccomp_profile(args: ResourceValidationArgs, report: ReportViolation) -> None:
    spec = _pod(args)
    if spec is None:
        return
    pod = dig(spec, "securityContext", "seccompProfile", "type")
    for c in containers(spec):
        profile = dig(c.security, "seccompProfile", "type") or pod
        if profile not in SAFE_SECCOMP:
            report(
                f"{about(args)}: {c} runs without a seccomp profile (seccompProfile.type: "
                f"{show(profile)}). Fix: set securityContext.seccompProfile.type: RuntimeDefault "
                "on the pod.",
                None,
            )


POLICIES: Final = [
    resource_policy(
        "kubernetes-container-resources",
        "Every container requests and limits CPU and memory.",
        container_resources,
    ),
    resource_policy(
        "kubernetes-run-as-non-root",
        "Containers run as a non-root user.",
        run_as_non_root,
    ),
    resource_policy(
        "kubernetes-read-only-root-filesystem",
        "Containers have a read-only root filesystem.",
        read_only_root_filesystem,
    ),
    resource_policy(
        "kubernetes-no-privilege-escalation",
        "Containers cannot gain privileges (allowPrivilegeEscalation: false).",
        no_privilege_escalation,
    ),
    resource_policy(
        "kubernetes-capabilities-dropped",
        "Containers drop all Linux capabilities.",
        capabilities_dropped,
    ),
    resource_policy(
        "kubernetes-no-privileged",
        "No container is privileged.",
        no_privileged,
    ),
    resource_policy(
        "kubernetes-no-host-namespaces",
        "Pods do not share the node's network, PID or IPC namespace.",
        no_host_namespaces,
    ),
    resource_policy(
        "kubernetes-no-host-path",
        "Pods do not mount hostPath volumes.",
        no_host_path,
    ),
    resource_policy(
        "kubernetes-probes",
        "Long-running containers have liveness and readiness probes.",
        probes,
    ),
    resource_policy(
        "kubernetes-image-digest",
        "Container images are pinned by digest (no latest, no mutable tag alone).",
        image_digest,
    ),
    resource_policy(
        "kubernetes-seccomp-profile",
        "Containers run with the RuntimeDefault (or a Localhost) seccomp profile.",
        seccomp_profile,
    ),
]
