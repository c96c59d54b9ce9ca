"""Every object the Kubernetes components declare validates against its schema, strictly."""

import copy
import logging
from pathlib import Path
from typing import Any

import pytest

from apps.core import topics
from stacks.offline.validate import (
    CUSTOM_GROUPS,
    SCHEMAS_DIR,
    UNKNOWN,
    InvalidObjects,
    kubernetes_objects,
    validate_objects,
)
from tests.infra.kubernetes import harness

needs_schemas = pytest.mark.skipif(
    not SCHEMAS_DIR.is_dir(), reason=f"no custom-resource schemas at {SCHEMAS_DIR}"
)
"""The shared schemas come with the workspace, not the repository: without them the checks of
custom resources cannot run (and the validator says so: see the skipping test below)."""


@pytest.mark.parametrize("mesh", [False, True], ids=["no-mesh", "mesh"])
@pytest.mark.parametrize("stack", harness.STACKS)
def test_every_object_of_every_stack_is_valid(stack: topics.Stack, mesh: bool) -> None:
    objects = harness.platform(stack, mesh=mesh).objects()
    report = validate_objects(objects)
    assert len(report.validated) + len(report.skipped) == len(objects)
    if not SCHEMAS_DIR.is_dir():
        assert {k for k, _, _ in report.skipped} >= {"Kafka", "KafkaTopic", "ServiceMonitor"}
        return
    assert report.skipped == []
    kinds = {k for k, _, _ in report.validated}
    assert {"Deployment", "NetworkPolicy", "Kafka", "KafkaNodePool", "KafkaTopic", "KafkaUser",
            "ServiceMonitor", "PrometheusRule", "Namespace", "Ingress"} <= kinds  # fmt: skip
    crd_checked = {k for k, _, schema in report.validated if schema.endswith(".json")}
    assert {"Kafka", "KafkaTopic", "ServiceMonitor", "PrometheusRule"} <= crd_checked
    if mesh:
        assert "PeerAuthentication" in crd_checked


@needs_schemas
def test_the_schemas_are_the_shared_ones_not_copies() -> None:
    shared = {p.name for p in SCHEMAS_DIR.rglob("*.json")}
    assert "kafka-v1.json" in shared
    root = Path(__file__).resolve().parents[3]
    copies = [p for top in ("apps", "infra", "stacks") for p in (root / top).rglob("*.json")]
    assert [p for p in copies if p.name in shared] == []


def test_without_the_schemas_folder_custom_resources_are_skipped_with_one_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    objects = harness.platform("dev").objects()
    with caplog.at_level(logging.WARNING):
        report = validate_objects(objects, schemas_dir=tmp_path / "absent")
    custom = [o for o in objects if o["apiVersion"].rpartition("/")[0] in CUSTOM_GROUPS]
    assert {(k, n) for k, n, _ in report.skipped} >= {("KafkaTopic", "gm-events-v1")}
    assert all(reason.startswith("no CRD schemas at") for _, _, reason in report.skipped)
    assert len(report.validated) + len(report.skipped) == len(objects)
    assert "Deployment" in {k for k, _, _ in report.validated}  # built-in kinds still checked
    assert len(custom) == len(report.skipped) > 0
    lines = [r for r in caplog.records if "not validated" in r.getMessage()]
    assert len(lines) == 1


@needs_schemas
def test_a_custom_resource_of_a_version_its_operator_does_not_serve_is_an_error() -> None:
    topic = _object("KafkaTopic", "gm-events-v1")
    topic["apiVersion"] = "kafka.strimzi.io/v1beta2"
    with pytest.raises(InvalidObjects, match="not a served version"):
        validate_objects([topic])


@needs_schemas
def test_an_istio_resource_is_checked_against_its_schema() -> None:
    mtls = {"mode": "STRICT"}
    peer = {
        "apiVersion": "security.istio.io/v1",
        "kind": "PeerAuthentication",
        "metadata": {"name": "default", "namespace": "istio-system"},
        "spec": {"mtls": mtls},
    }
    validate_objects([peer])
    mtls["mode"] = "ALWAYS"
    with pytest.raises(InvalidObjects, match=r"PeerAuthentication/default: spec\.mtls\.mode"):
        validate_objects([peer])


def _object(kind: str, name: str) -> dict[str, Any]:
    for o in harness.platform("prod").objects():
        if o["kind"] == kind and o["metadata"]["name"] == name:
            return copy.deepcopy(o)
    raise AssertionError(f"{kind}/{name} not declared")


def test_an_unknown_field_in_a_built_in_kind_is_an_error() -> None:
    deployment = _object("Deployment", "ingest")
    deployment["spec"]["template"]["spec"]["containers"][0]["livenessProbes"] = {}
    with pytest.raises(InvalidObjects, match="Deployment/ingest") as caught:
        validate_objects([deployment])
    assert "livenessProbes" in str(caught.value)


def test_a_wrong_type_in_a_built_in_kind_is_an_error() -> None:
    hpa = _object("HorizontalPodAutoscaler", "processor")
    hpa["spec"]["maxReplicas"] = "many"
    with pytest.raises(InvalidObjects, match=r"spec\.maxReplicas"):
        validate_objects([hpa])


@needs_schemas
def test_an_unknown_field_in_a_custom_resource_is_an_error() -> None:
    topic = _object("KafkaTopic", "gm-events-v1")
    topic["spec"]["partition"] = 3
    with pytest.raises(InvalidObjects, match="KafkaTopic/gm-events-v1") as caught:
        validate_objects([topic])
    assert "partition" in str(caught.value)


@needs_schemas
def test_a_custom_resource_violating_its_crd_is_an_error() -> None:
    kafka = _object("Kafka", "gamemetrics")
    kafka["spec"]["kafka"]["listeners"][0]["type"] = "public"
    user = _object("KafkaUser", "processor")
    user["spec"]["authorization"]["acls"][0]["operations"] = ["Steal"]
    with pytest.raises(InvalidObjects) as caught:
        validate_objects([kafka, user])
    assert len(caught.value.problems) == 2
    assert {p.kind for p in caught.value.problems} == {"Kafka", "KafkaUser"}


def test_a_kind_unknown_to_the_target_version_is_an_error() -> None:
    old = {"apiVersion": "extensions/v1beta1", "kind": "Ingress", "metadata": {"name": "x"}}
    with pytest.raises(InvalidObjects, match="Couldn't find schema"):
        validate_objects([old])


def test_an_invalid_name_is_an_error() -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "Not_Valid"}}
    with pytest.raises(InvalidObjects, match=r"metadata\.name"):
        validate_objects([cm])


def test_objects_are_extracted_from_registered_resources() -> None:
    secret_sig = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270"}
    resources: list[tuple[str, dict[str, Any]]] = [
        ("pulumi:providers:kubernetes", {"kubeconfig": "x"}),
        ("kubernetes:helm.sh/v3:Release", {"chart": "x"}),
        ("aws:iam/role:Role", {"name": "x"}),
        (
            "kubernetes:core/v1:Secret",
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "s"},
                "stringData": {**secret_sig, "value": {"k": "v"}},
            },
        ),
        (
            "kubernetes:policy/v1:PodDisruptionBudget",
            {
                "apiVersion": "policy/v1",
                "kind": "PodDisruptionBudget",
                "metadata": {"name": "p"},
                "spec": {"maxUnavailable": 1.0},
            },
        ),
    ]
    objects = kubernetes_objects(resources)
    assert [o["kind"] for o in objects] == ["Secret", "PodDisruptionBudget"]
    assert objects[0]["stringData"] == {"k": "v"}
    assert objects[1]["spec"]["maxUnavailable"] == 1
    assert isinstance(objects[1]["spec"]["maxUnavailable"], int)
    validate_objects(objects)


def test_values_unknown_before_deployment_are_left_out() -> None:
    from pulumi.runtime import rpc

    assert rpc.UNKNOWN == UNKNOWN
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}}
    resources = [
        ("kubernetes:core/v1:Secret", {**secret, "stringData": UNKNOWN}),
        ("kubernetes:core/v1:Secret", {**secret, "stringData": "[computed]"}),
    ]
    first, second = kubernetes_objects(resources, unknown=(UNKNOWN, "[computed]"))
    assert first == second == secret
    validate_objects([first, second])
