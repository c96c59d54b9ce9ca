"""Helm values of the observability charts, as plain functions of the stack's settings."""

import json
from typing import Any, Final

ISTIO_CERTS_DIR: Final = "/etc/prom-certs"
"""Where Prometheus finds the Istio certificates it scrapes STRICT-mTLS pods with."""
DASHBOARD_LABEL: Final = "grafana_dashboard"


def _volume(storage_class: str, gib: int) -> dict[str, Any]:
    return {
        "storageClassName": storage_class,
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": f"{gib}Gi"}},
    }


def prometheus_stack(
    *,
    monitoring_namespace: str,
    replicas: int,
    retention_days: int,
    storage_gib: int,
    storage_class: str,
    mesh: bool,
) -> dict[str, Any]:
    """kube-prometheus-stack: Prometheus, Alertmanager, Grafana (dashboards by label)."""
    mon = monitoring_namespace
    prometheus: dict[str, Any] = {
        "replicas": replicas,
        "retention": f"{retention_days}d",
        # Select every ServiceMonitor and PrometheusRule, not only the chart's own.
        "serviceMonitorSelectorNilUsesHelmValues": False,
        "podMonitorSelectorNilUsesHelmValues": False,
        "ruleSelectorNilUsesHelmValues": False,
        "storageSpec": {"volumeClaimTemplate": {"spec": _volume(storage_class, storage_gib)}},
    }
    if mesh:
        # Istio's documented way for Prometheus outside the mesh to scrape STRICT pods:
        # a sidecar that only writes its certificates to a shared volume.
        prometheus |= {
            "podMetadata": {
                "annotations": {
                    "sidecar.istio.io/inject": "true",
                    "traffic.sidecar.istio.io/includeInboundPorts": "",
                    "traffic.sidecar.istio.io/includeOutboundIPRanges": "",
                    "proxy.istio.io/config": (
                        "proxyMetadata:\n  OUTPUT_CERTS: /etc/istio-output-certs\n"
                    ),
                    "sidecar.istio.io/userVolumeMount": json.dumps(
                        {"istio-certs": {"mountPath": "/etc/istio-output-certs"}}
                    ),
                }
            },
            "volumes": [{"name": "istio-certs", "emptyDir": {"medium": "Memory"}}],
            "volumeMounts": [
                {"name": "istio-certs", "mountPath": ISTIO_CERTS_DIR, "readOnly": True}
            ],
        }
    return {
        "prometheus": {"prometheusSpec": prometheus},
        "alertmanager": {"alertmanagerSpec": {"replicas": replicas}},
        "grafana": {
            "admin": {
                "existingSecret": "grafana-admin",
                "userKey": "admin-user",
                "passwordKey": "admin-password",
            },
            "sidecar": {
                "dashboards": {
                    "enabled": True,
                    "label": DASHBOARD_LABEL,
                    "labelValue": "1",
                    "searchNamespace": mon,
                }
            },
            "additionalDataSources": [
                {
                    "name": "Loki",
                    "type": "loki",
                    "url": f"http://loki-gateway.{mon}.svc",
                    "access": "proxy",
                },
                {
                    "name": "Tempo",
                    "type": "tempo",
                    "url": f"http://tempo.{mon}.svc:3200",
                    "access": "proxy",
                },
            ],
        },
    }


def loki(*, retention_days: int, storage_class: str) -> dict[str, Any]:
    """One Loki binary on a persistent volume (logs in S3 is an open point)."""
    return {
        "deploymentMode": "SingleBinary",
        "loki": {
            "auth_enabled": False,
            "commonConfig": {"replication_factor": 1},
            "storage": {"type": "filesystem"},
            "schemaConfig": {
                "configs": [
                    {
                        "from": "2025-01-01",
                        "store": "tsdb",
                        "object_store": "filesystem",
                        "schema": "v13",
                        "index": {"prefix": "index_", "period": "24h"},
                    }
                ]
            },
            "limits_config": {"retention_period": f"{retention_days * 24}h"},
            "compactor": {"retention_enabled": True, "delete_request_store": "filesystem"},
        },
        "singleBinary": {"replicas": 1, "persistence": {"storageClass": storage_class}},
        "read": {"replicas": 0},
        "write": {"replicas": 0},
        "backend": {"replicas": 0},
    }


def tempo(*, retention_days: int, storage_class: str) -> dict[str, Any]:
    return {
        "tempo": {
            "retention": f"{retention_days * 24}h",
            "receivers": {"otlp": {"protocols": {"grpc": {}, "http": {}}}},
        },
        "persistence": {"enabled": True, "storageClassName": storage_class},
    }


def alloy(*, monitoring_namespace: str) -> dict[str, Any]:
    """Ships pod logs to Loki and receives OTLP traces for Tempo."""
    mon = monitoring_namespace
    # Pod logs through the Kubernetes API (no host paths: the pod stays unprivileged).
    config = f"""
discovery.kubernetes "pods" {{
  role = "pod"
}}
loki.source.kubernetes "pods" {{
  targets    = discovery.kubernetes.pods.targets
  forward_to = [loki.write.default.receiver]
}}
loki.write "default" {{
  endpoint {{
url = "http://loki-gateway.{mon}.svc/loki/api/v1/push"
  }}
}}
otelcol.receiver.otlp "default" {{
  grpc {{}}
  http {{}}
  output {{
traces = [otelcol.exporter.otlp.tempo.input]
  }}
}}
otelcol.exporter.otlp "tempo" {{
  client {{
endpoint = "tempo.{mon}.svc:4317"
tls {{
  insecure = true
}}
  }}
}}
"""
    return {
        "controller": {"type": "deployment", "replicas": 1},
        "alloy": {"configMap": {"content": config.lstrip()}},
    }
