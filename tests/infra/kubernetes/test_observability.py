"""Observability: Helm releases, a ServiceMonitor per service, dashboards and alerts from files."""

import json
import re
from pathlib import Path

import pytest

import apps
from apps.core import services, topics
from infra.kubernetes import chart_values
from infra.kubernetes.observability import (
    ALERTS_DIR,
    DASHBOARDS_DIR,
    load_alerts,
    load_dashboards,
)
from stacks.offline.preview import Plan
from tests.infra.kubernetes import harness


def test_the_stack_charts_are_helm_releases_in_the_monitoring_namespace() -> None:
    releases = harness.platform("dev").releases()
    for chart in ("kube-prometheus-stack", "loki", "tempo", "alloy"):
        assert releases[chart].inputs["namespace"] == "monitoring"
        assert releases[chart].inputs["version"]
    values = releases["kube-prometheus-stack"].inputs["values"]
    spec = values["prometheus"]["prometheusSpec"]
    assert spec["serviceMonitorSelectorNilUsesHelmValues"] is False
    assert spec["ruleSelectorNilUsesHelmValues"] is False
    assert values["grafana"]["admin"]["existingSecret"] == "grafana-admin"
    assert values["grafana"]["sidecar"]["dashboards"]["label"] == "grafana_dashboard"


def test_prometheus_is_replicated_in_prod() -> None:
    prod = harness.platform("prod").releases()["kube-prometheus-stack"].inputs["values"]
    dev = harness.platform("dev").releases()["kube-prometheus-stack"].inputs["values"]
    assert prod["prometheus"]["prometheusSpec"]["replicas"] == 2
    assert dev["prometheus"]["prometheusSpec"]["replicas"] == 1


@pytest.mark.parametrize("service", services.ALL, ids=lambda s: s.name)
def test_a_service_monitor_per_service_on_its_metrics_path(service: services.Service) -> None:
    monitor = harness.platform("prod").one("ServiceMonitor", service.name, "gamemetrics").spec
    assert monitor["selector"]["matchLabels"]["app.kubernetes.io/name"] == service.name
    (endpoint,) = monitor["endpoints"]
    assert (endpoint["port"], endpoint["path"]) == ("http", service.metrics_path)
    assert "tlsConfig" not in endpoint


def test_with_the_mesh_prometheus_scrapes_over_istio_mutual_tls() -> None:
    program = harness.platform("prod", mesh=True)
    (endpoint,) = program.one("ServiceMonitor", "processor").spec["endpoints"]
    assert endpoint["scheme"] == "https"
    assert endpoint["tlsConfig"]["certFile"].startswith("/etc/prom-certs/")
    spec = program.releases()["kube-prometheus-stack"].inputs["values"]["prometheus"]
    annotations = spec["prometheusSpec"]["podMetadata"]["annotations"]
    assert annotations["sidecar.istio.io/inject"] == "true"


def test_dashboards_are_configmaps_loaded_from_the_repository_files() -> None:
    files = sorted(p.stem for p in DASHBOARDS_DIR.glob("*.json"))
    assert files, "no dashboards in the repository"
    program = harness.platform("dev")
    for stem in files:
        cm = program.one("ConfigMap", f"dashboard-{stem}", "monitoring")
        assert cm.inputs["metadata"]["labels"]["grafana_dashboard"] == "1"
        content = cm.inputs["data"][f"{stem}.json"]
        assert content == (DASHBOARDS_DIR / f"{stem}.json").read_text(encoding="utf-8")
        assert json.loads(content)["title"].startswith("GameMetrics")


def test_alerts_are_prometheus_rules_loaded_from_the_repository_files() -> None:
    loaded = load_alerts(ALERTS_DIR)
    assert loaded
    program = harness.platform("dev")
    for stem, spec in loaded.items():
        assert program.one("PrometheusRule", stem, "monitoring").spec == spec
    alerts = {r["alert"] for g in loaded["gamemetrics"]["groups"] for r in g["rules"]}
    assert {"IngestServerErrors", "ProcessorLagGrowing", "GameMetricsTargetDown"} <= alerts


def test_dashboard_and_alert_queries_use_metrics_the_services_export() -> None:
    apps_dir = Path(apps.__file__).parent
    exported = {
        name
        for path in apps_dir.glob("*/metrics.py")
        for name in re.findall(r'"(gm_[a-z_]+)"', path.read_text(encoding="utf-8"))
    }
    assert exported
    texts = [p.read_text(encoding="utf-8") for p in DASHBOARDS_DIR.glob("*.json")]
    texts += [p.read_text(encoding="utf-8") for p in ALERTS_DIR.glob("*.yaml")]
    used = {
        re.sub(r"_(bucket|count|sum)$", "", m) for t in texts for m in re.findall(r"gm_[a-z_]+", t)
    }
    assert used <= exported, used - exported


def test_a_malformed_dashboard_file_is_refused_with_its_path(tmp_path: Path) -> None:
    (tmp_path / "broken.json").write_text('{"panels": []}', encoding="utf-8")
    with pytest.raises(ValueError, match=r"broken\.json: not a Grafana dashboard"):
        load_dashboards(tmp_path)
    (tmp_path / "rules.yaml").write_text("- not: a mapping\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"rules\.yaml: a PrometheusRule spec"):
        load_alerts(tmp_path)


def test_grafana_admin_password_is_given_or_generated_never_the_chart_default() -> None:
    def password(stack: topics.Stack) -> str:
        (secret,) = [
            o
            for o in harness.platform(stack).objects()
            if o["kind"] == "Secret" and o["metadata"]["name"] == "grafana-admin"
        ]
        return str(secret["stringData"]["admin-password"])

    assert password("prod") == "grafana"  # given by the stack
    assert password("dev") == "generated-password"
    generated = harness.platform("dev").of_type("random:index/randomPassword:RandomPassword")
    assert [g.inputs["length"] for g in generated] == [32]


def test_loki_stores_in_the_logs_bucket_with_a_role_scoped_to_it() -> None:
    program = harness.platform("prod")
    values = program.releases()["loki"].inputs["values"]
    storage = values["loki"]["storage"]
    assert storage["type"] == "s3"
    assert storage["bucketNames"] == {"chunks": "gm-logs", "ruler": "gm-logs"}
    assert storage["s3"] == {"region": harness.cluster().region}
    assert "sse" not in storage["s3"]  # the bucket's default SSE-KMS applies
    (schema,) = values["loki"]["schemaConfig"]["configs"]
    assert schema["object_store"] == "s3"
    assert values["loki"]["compactor"]["delete_request_store"] == "s3"
    role = program.resource("aws:iam/role:Role", "gm-observability-loki-irsa")
    assert values["serviceAccount"] == {
        "create": True,
        "name": "loki",
        "annotations": {
            "eks.amazonaws.com/role-arn": f"arn:aws:iam::123456789012:role/{role.name}"
        },
    }
    (trust,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert set(trust["Condition"]["StringEquals"].values()) == {
        "system:serviceaccount:monitoring:loki",
        "sts.amazonaws.com",
    }
    policy = program.resource("aws:iam/rolePolicy:RolePolicy", "gm-observability-loki-irsa-policy")
    loki = program.resource("kubernetes:helm.sh/v3:Release", "gm-observability-loki")
    assert policy.urn in loki.dependencies  # it may write from its first start
    statements = {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}
    assert statements["ListBucket"]["Resource"] == ["arn:aws:s3:::gm-logs"]
    objects = statements["ReadWriteDeleteObjects"]
    assert objects["Resource"] == ["arn:aws:s3:::gm-logs/*"]
    assert set(objects["Action"]) == {"s3:GetObject", "s3:PutObject", "s3:DeleteObject"}
    key = statements["BucketKey"]
    assert key["Resource"] == [harness.backends().storage.kms_key_arn]  # type: ignore[union-attr]
    assert set(key["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey"}


def test_without_a_logs_bucket_loki_keeps_the_logs_on_its_volume() -> None:
    values = chart_values.loki(retention_days=3, storage_class="gp3")
    assert values["loki"]["storage"] == {"type": "filesystem"}
    assert values["loki"]["schemaConfig"]["configs"][0]["object_store"] == "filesystem"
    assert "serviceAccount" not in values


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_each_stack_loki_uses_its_logs_bucket_and_storage_key(
    plans: dict[str, Plan], stack: str
) -> None:
    plan = plans[stack]
    values = plan.one("kubernetes:helm.sh/v3:Release", "kubernetes-observability-loki").plain[
        "values"
    ]
    logs_bucket = plan.outputs["buckets"]["logs"]  # type: ignore[index]
    assert values["loki"]["storage"]["bucketNames"]["chunks"] == logs_bucket
    assert values["loki"]["limits_config"]["retention_period"] == (
        f"{plan.settings.observability.logs_retention_days * 24}h"
    )
    assert (
        plan.settings.observability.logs_retention_days <= plan.settings.storage.logs_retention_days
    )
    policy = plan.one("aws:iam/rolePolicy:RolePolicy", "kubernetes-observability-loki-irsa-policy")
    resources = {r for s in json.loads(policy.plain["policy"])["Statement"] for r in s["Resource"]}
    # The key Loki may use is the one the logs bucket encrypts with by default (SSE-KMS).
    encryption = plan.one(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "storage-logs",
    )
    (rule,) = encryption.plain["rules"]
    bucket_key = rule["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"]
    assert resources == {f"arn:aws:s3:::{logs_bucket}", f"arn:aws:s3:::{logs_bucket}/*", bucket_key}
