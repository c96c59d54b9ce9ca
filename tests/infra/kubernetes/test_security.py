"""SecurityBaseline: Pod Security Standards, quotas, default deny, the mesh switch."""

import pytest

from apps.core import services, topics
from infra.kubernetes.security import SIDECAR_RESOURCES, Quota
from tests.infra.kubernetes import harness

PSS = "pod-security.kubernetes.io"


@pytest.mark.parametrize("stack", harness.STACKS)
def test_namespaces_are_labelled_for_pod_security_standards(stack: topics.Stack) -> None:
    namespaces = {
        n.object_name: n.inputs["metadata"] for n in harness.platform(stack).kind("Namespace")
    }
    assert set(namespaces) == {"gamemetrics", "kafka", "monitoring"}
    for name, meta in namespaces.items():
        labels = meta["labels"]
        assert labels[f"{PSS}/audit"] == labels[f"{PSS}/warn"] == "restricted", name
        if labels[f"{PSS}/enforce"] != "restricted":
            assert meta["annotations"]["gamemetrics.io/why"], name  # exceptions say why
    assert namespaces["gamemetrics"]["labels"][f"{PSS}/enforce"] == "restricted"
    assert namespaces["kafka"]["labels"][f"{PSS}/enforce"] == "restricted"


@pytest.mark.parametrize("stack", harness.STACKS)
def test_every_namespace_has_a_limit_range_and_a_quota(stack: topics.Stack) -> None:
    program = harness.platform(stack)
    for ns in ("gamemetrics", "kafka", "monitoring"):
        limits = program.one("LimitRange", "defaults", ns).spec["limits"][0]
        assert limits["type"] == "Container"
        assert {"defaultRequest", "default", "max"} <= set(limits)
        hard = program.one("ResourceQuota", "quota", ns).spec["hard"]
        assert hard["services.loadbalancers"] == "0"
        assert {"requests.cpu", "limits.memory", "pods"} <= set(hard)


def test_the_apps_quota_fits_every_service_at_its_maximum() -> None:
    for stack in harness.STACKS:
        quota = Quota.for_services(services.ALL, stack)
        pods = sum(s.scaling[stack].max_replicas + 1 for s in services.ALL)
        assert quota.pods > pods
        cpu = sum((s.scaling[stack].max_replicas + 1) * s.cpu_request_millis for s in services.ALL)
        assert int(quota.cpu_requests.removesuffix("m")) > cpu
    prod = harness.platform("prod").one("ResourceQuota", "quota", "gamemetrics").spec["hard"]
    assert prod["pods"] == str(Quota.for_services(services.ALL, "prod").pods)


def test_with_the_mesh_the_apps_quota_counts_the_proxies() -> None:
    plain = Quota.for_services(services.ALL, "prod")
    meshed = Quota.for_services(services.ALL, "prod", sidecars=True)
    assert int(meshed.cpu_limits.removesuffix("m")) > int(plain.cpu_limits.removesuffix("m"))
    hard = harness.platform("prod", mesh=True).one("ResourceQuota", "quota", "gamemetrics")
    assert hard.spec["hard"]["limits.cpu"] == meshed.cpu_limits
    values = harness.platform("prod", mesh=True).releases()["istiod"].inputs["values"]
    assert values["global"]["proxy"]["resources"] == SIDECAR_RESOURCES


def test_the_apps_namespace_denies_all_traffic_by_default() -> None:
    program = harness.platform("prod")
    deny = program.one("NetworkPolicy", "default-deny", "gamemetrics").spec
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    kafka_deny = program.one("NetworkPolicy", "default-deny", "kafka").spec
    assert kafka_deny == {"podSelector": {}, "policyTypes": ["Ingress"]}


def test_mesh_off_installs_no_istio() -> None:
    program = harness.platform("staging", mesh=False)
    assert not {"base", "cni", "istiod"} & set(program.releases())
    assert program.kind("PeerAuthentication") == []
    labels = program.one("Namespace", "gamemetrics").inputs["metadata"]["labels"]
    assert "istio-injection" not in labels


def test_mesh_on_installs_istio_with_strict_mutual_tls() -> None:
    program = harness.platform("staging", mesh=True)
    releases = program.releases()
    assert {"base", "cni", "istiod"} <= set(releases)
    assert releases["istiod"].inputs["values"]["pilot"]["cni"]["enabled"] is True
    assert {
        r.inputs["namespace"] for n, r in releases.items() if n in {"base", "cni", "istiod"}
    } == {"istio-system"}
    strict = program.one("PeerAuthentication", "default", "istio-system").spec
    assert strict == {"mtls": {"mode": "STRICT"}}
    labels = program.one("Namespace", "gamemetrics").inputs["metadata"]["labels"]
    assert labels["istio-injection"] == "enabled"
    # With istio-cni the app pods need no privileged init container: still restricted.
    assert labels[f"{PSS}/enforce"] == "restricted"
    assert program.one("Namespace", "istio-system").inputs["metadata"]["labels"][
        f"{PSS}/enforce"
    ] == ("privileged")
