"""Metrics, logs and traces: kube-prometheus-stack, Loki, Tempo and Alloy via Helm, plus
what the repository keeps as files (dashboards/, alerts/) and a ServiceMonitor per service."""

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pulumi_random as random
import yaml

from apps.core import services, topics
from infra.kubernetes import chart_values, iam
from infra.kubernetes.backends import Irsa
from infra.kubernetes.chart_values import DASHBOARD_LABEL, ISTIO_CERTS_DIR
from infra.kubernetes.meta import HTTP_PORT_NAME, Namespaces, labels, selector_labels
from infra.kubernetes.storage_class import GP3

metav1 = k8s.meta.v1
HERE: Final = Path(__file__).parent
DASHBOARDS_DIR: Final = HERE / "dashboards"
ALERTS_DIR: Final = HERE / "alerts"
PROMETHEUS_COMMUNITY: Final = "https://prometheus-community.github.io/helm-charts"
GRAFANA_CHARTS: Final = "https://grafana.github.io/helm-charts"


@dataclass(frozen=True)
class ChartVersions:
    kube_prometheus_stack: str = "79.5.0"
    loki: str = "6.46.0"
    tempo: str = "1.24.0"
    alloy: str = "1.4.0"


@dataclass(frozen=True)
class LogsBucket:
    """The S3 bucket Loki keeps its chunks and index in (the stack's logs bucket)."""

    bucket: pulumi.Input[str]
    region: str
    irsa: Irsa
    kms_key_arn: pulumi.Input[str] | None = None
    """The bucket's SSE-KMS key: Loki's role may encrypt and decrypt with it."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags of the IAM role."""


@dataclass(frozen=True)
class ObservabilityArgs:
    provider: k8s.Provider
    stack: topics.Stack
    grafana_admin_password: pulumi.Input[str] | None = None
    """A Pulumi secret; None generates one (the chart's default password is public)."""
    mesh: bool = False
    """Prometheus then scrapes meshed pods over mutual TLS with Istio's certificates."""
    replicas: int = 1
    """Prometheus and Alertmanager replicas (2 in prod)."""
    metrics_retention_days: int = 15
    metrics_storage_gib: int = 50
    logs_retention_days: int = 14
    traces_retention_days: int = 7
    storage_class: str = GP3
    logs_bucket: LogsBucket | None = None
    """None: Loki keeps the logs on its volume."""
    namespaces: Namespaces = field(default_factory=Namespaces)
    declared_services: Sequence[services.Service] = services.ALL
    charts: ChartVersions = field(default_factory=ChartVersions)
    dashboards_dir: Path = DASHBOARDS_DIR
    alerts_dir: Path = ALERTS_DIR
    depends_on: Sequence[pulumi.Resource] = ()


def load_dashboards(folder: Path) -> dict[str, str]:
    """Grafana dashboards by name (file stem); each file must be a JSON object with a title."""
    result: dict[str, str] = {}
    for path in sorted(folder.glob("*.json")):
        text = path.read_text(encoding="utf-8")
        doc = json.loads(text)
        if not isinstance(doc, dict) or "title" not in doc or "panels" not in doc:
            raise ValueError(f"{path}: not a Grafana dashboard (needs 'title' and 'panels')")
        result[path.stem] = text
    return result


def load_alerts(folder: Path) -> dict[str, dict[str, Any]]:
    """PrometheusRule specs by name (file stem); each file holds `groups:` of rules."""
    result: dict[str, dict[str, Any]] = {}
    for path in sorted(folder.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        if not isinstance(doc, dict) or not isinstance(doc.get("groups"), list):
            raise ValueError(f"{path}: a PrometheusRule spec must be a mapping with 'groups'")
        result[path.stem] = doc
    return result


def service_monitor_spec(service: services.Service, namespace: str, mesh: bool) -> dict[str, Any]:
    endpoint: dict[str, Any] = {
        "port": HTTP_PORT_NAME,
        "path": service.metrics_path,
        "interval": "15s",
        "scrapeTimeout": "10s",
    }
    if mesh:
        endpoint |= {
            "scheme": "https",
            "tlsConfig": {
                "caFile": f"{ISTIO_CERTS_DIR}/root-cert.pem",
                "certFile": f"{ISTIO_CERTS_DIR}/cert-chain.pem",
                "keyFile": f"{ISTIO_CERTS_DIR}/key.pem",
                # Istio certificates name workloads by SPIFFE URI, not by DNS name.
                "insecureSkipVerify": True,
            },
        }
    return {
        "selector": {"matchLabels": selector_labels(service.name)},
        "namespaceSelector": {"matchNames": [namespace]},
        "endpoints": [endpoint],
    }


class Observability(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: ObservabilityArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("gamemetrics:infra:Observability", name, None, opts)
        ns = args.namespaces
        k8s_opts = pulumi.ResourceOptions(
            parent=self, provider=args.provider, depends_on=list(args.depends_on)
        )
        meta = labels("observability", "monitoring", args.stack)

        password = args.grafana_admin_password
        if password is None:
            password = random.RandomPassword(
                f"{name}-grafana-admin-password",
                length=32,
                special=False,
                opts=pulumi.ResourceOptions(parent=self),
            ).result
        self.grafana_admin = k8s.core.v1.Secret(
            f"{name}-grafana-admin",
            metadata=metav1.ObjectMetaArgs(
                name="grafana-admin", namespace=ns.monitoring, labels=meta
            ),
            string_data={"admin-user": "admin", "admin-password": password},
            opts=k8s_opts,
        )
        self.prometheus_stack = self._release(
            name,
            "kube-prometheus-stack",
            PROMETHEUS_COMMUNITY,
            args.charts.kube_prometheus_stack,
            chart_values.prometheus_stack(
                monitoring_namespace=ns.monitoring,
                replicas=args.replicas,
                retention_days=args.metrics_retention_days,
                storage_gib=args.metrics_storage_gib,
                storage_class=args.storage_class,
                mesh=args.mesh,
            ),
            args,
            pulumi.ResourceOptions.merge(
                k8s_opts, pulumi.ResourceOptions(depends_on=[self.grafana_admin])
            ),
        )
        self.loki_role: aws.iam.Role | None = None
        logs_store, loki_opts = None, k8s_opts
        if args.logs_bucket is not None:
            self.loki_role, permissions = self._loki_role(name, args.logs_bucket, ns.monitoring)
            logs_store = chart_values.BucketStore(
                bucket=args.logs_bucket.bucket,
                region=args.logs_bucket.region,
                role_arn=self.loki_role.arn,
            )
            # Loki writes to the bucket as soon as it runs: its permissions come first.
            loki_opts = pulumi.ResourceOptions.merge(
                k8s_opts, pulumi.ResourceOptions(depends_on=[permissions])
            )
        self.loki = self._release(
            name,
            "loki",
            GRAFANA_CHARTS,
            args.charts.loki,
            chart_values.loki(
                retention_days=args.logs_retention_days,
                storage_class=args.storage_class,
                store=logs_store,
            ),
            args,
            loki_opts,
        )
        self.tempo = self._release(
            name,
            "tempo",
            GRAFANA_CHARTS,
            args.charts.tempo,
            chart_values.tempo(
                retention_days=args.traces_retention_days, storage_class=args.storage_class
            ),
            args,
            k8s_opts,
        )
        self.alloy = self._release(
            name,
            "alloy",
            GRAFANA_CHARTS,
            args.charts.alloy,
            chart_values.alloy(monitoring_namespace=ns.monitoring),
            args,
            k8s_opts,
        )
        after_crds = pulumi.ResourceOptions.merge(
            k8s_opts, pulumi.ResourceOptions(depends_on=[self.prometheus_stack])
        )
        self.service_monitors = {
            s.name: k8s.apiextensions.CustomResource(
                f"{name}-servicemonitor-{s.name}",
                api_version="monitoring.coreos.com/v1",
                kind="ServiceMonitor",
                metadata=metav1.ObjectMetaArgs(
                    name=s.name, namespace=ns.apps, labels=labels(s.name, "metrics", args.stack)
                ),
                spec=service_monitor_spec(s, ns.apps, args.mesh),
                opts=after_crds,
            )
            for s in args.declared_services
        }
        self.dashboards = {
            stem: k8s.core.v1.ConfigMap(
                f"{name}-dashboard-{stem}",
                metadata=metav1.ObjectMetaArgs(
                    name=f"dashboard-{stem}",
                    namespace=ns.monitoring,
                    labels={**meta, DASHBOARD_LABEL: "1"},
                ),
                data={f"{stem}.json": text},
                opts=k8s_opts,
            )
            for stem, text in load_dashboards(args.dashboards_dir).items()
        }
        self.alerts = {
            stem: k8s.apiextensions.CustomResource(
                f"{name}-alerts-{stem}",
                api_version="monitoring.coreos.com/v1",
                kind="PrometheusRule",
                metadata=metav1.ObjectMetaArgs(name=stem, namespace=ns.monitoring, labels=meta),
                spec=spec,
                opts=after_crds,
            )
            for stem, spec in load_alerts(args.alerts_dir).items()
        }
        self.register_outputs(
            {
                "service_monitors": list(self.service_monitors),
                "dashboards": list(self.dashboards),
                "alerts": list(self.alerts),
            }
        )

    def _loki_role(
        self, name: str, logs: LogsBucket, namespace: str
    ) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
        """Loki's IRSA role and its policy: the objects of the logs bucket and its key."""
        role = aws.iam.Role(
            f"{name}-loki-irsa",
            assume_role_policy=iam.trust_policy(
                logs.irsa, namespace, chart_values.LOKI_SERVICE_ACCOUNT
            ),
            description="GameMetrics Loki: chunks and index in the logs bucket, via IRSA",
            tags={**logs.tags, "service": "loki"},
            opts=pulumi.ResourceOptions(parent=self),
        )
        policy = aws.iam.RolePolicy(
            f"{name}-loki-irsa-policy",
            role=role.id,
            policy=iam.bucket_store_policy(logs.bucket, logs.kms_key_arn),
            opts=pulumi.ResourceOptions(parent=self),
        )
        return role, policy

    def _release(
        self,
        name: str,
        chart: str,
        repo: str,
        version: str,
        values: dict[str, Any],
        args: ObservabilityArgs,
        opts: pulumi.ResourceOptions,
    ) -> k8s.helm.v3.Release:
        return k8s.helm.v3.Release(
            f"{name}-{chart}",
            k8s.helm.v3.ReleaseArgs(
                name=chart,
                chart=chart,
                version=version,
                repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=repo),
                namespace=args.namespaces.monitoring,
                values=values,
                atomic=True,
                cleanup_on_fail=True,
            ),
            opts=opts,
        )
