"""Helm values of the observability charts, as plain functions of the stack's settings."""

import json
from dataclasses import dataclass
from typing import Any, Final

import pulumi

ISTIO_CERTS_DIR: Final = "/etc/prom-certs"
"""Where Prometheus finds the Istio certificates it scrapes STRICT-mTLS pods with."""
DASHBOARD_LABEL: Final = "grafana_dashboard"
LOKI_SERVICE_ACCOUNT: Final = "loki"
"""Named explicitly: its IRSA role trusts `system:serviceaccount:<monitoring>:loki`."""


@dataclass(frozen=True)
class BucketStore:
    """An S3 bucket a chart keeps its data in, reached through an IRSA role."""

    bucket: pulumi.Input[str]
    region: str
    role_arn: pulumi.Input[str]


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


def loki(
    *, retention_days: int, storage_class: str, store: BucketStore | None = None
) -> dict[str, Any]:
    """One Loki binary. With `store`, chunks and index go to that S3 bucket (the volume keeps
    only the write-ahead log and caches); without, everything stays on the volume."""
    backend = "s3" if store is not None else "filesystem"
    config: dict[str, Any] = {
        "auth_enabled": False,
        "commonConfig": {"replication_factor": 1},
        "storage": {"type": backend},
        "schemaConfig": {
            "configs": [
                {
                    "from": "2025-01-01",
                    "store": "tsdb",
                    "object_store": backend,
                    "schema": "v13",
                    "index": {"prefix": "index_", "period": "24h"},
                }
            ]
        },
        "limits_config": {"retention_period": f"{retention_days * 24}h"},
        # The compactor applies the retention: it deletes expired chunks from the store.
        "compactor": {"retention_enabled": True, "delete_request_store": backend},
    }
    values: dict[str, Any] = {"deploymentMode": "SingleBinary", "loki": config}
    if store is not None:
        # No SSE settings: the bucket's default encryption (SSE-KMS, bucket key) applies to
        # every object Loki writes; the IRSA role may use the key.
        config["storage"] |= {
            "bucketNames": {"chunks": store.bucket, "ruler": store.bucket},
            "s3": {"region": store.region},
        }
        values["serviceAccount"] = {
            "create": True,
            "name": LOKI_SERVICE_ACCOUNT,
            "annotations": {"eks.amazonaws.com/role-arn": store.role_arn},
        }
    return values | {
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
