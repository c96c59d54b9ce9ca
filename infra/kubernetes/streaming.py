"""Kafka on EKS: the Strimzi operator, a KRaft cluster, the declared topics and users."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_tls as tls

from apps.core import services, topics
from infra.kubernetes import kafka
from infra.kubernetes.meta import Namespaces, labels
from infra.kubernetes.placement import NodePlacement
from infra.kubernetes.storage_class import GP3

STRIMZI_CHART_VERSION = "1.2.0"
STRIMZI_REPOSITORY = "https://strimzi.io/charts/"


@dataclass(frozen=True)
class StreamingArgs:
    provider: k8s.Provider
    stack: topics.Stack
    brokers: int
    """1 in dev, 3 in staging and prod: replication factor and min.insync follow."""
    namespaces: Namespaces = field(default_factory=Namespaces)
    cluster_name: str = "gamemetrics"
    kafka_version: str = "4.2.0"
    storage_gib: int = 100
    storage_class: str = GP3
    """The brokers' volumes (`storage_class.gp3_storage_class`: encrypted EBS gp3)."""
    placement: NodePlacement | None = None
    """Nodes reserved for the brokers (prod's `kafka` node group); None: any node."""
    broker_cpu: str = "1"
    broker_memory: str = "4Gi"
    declared_topics: Sequence[topics.Topic] = topics.ALL
    declared_services: Sequence[services.Service] = services.ALL
    ca_validity_hours: int = 5 * 365 * 24
    depends_on: Sequence[pulumi.Resource] = ()
    """The namespaces (SecurityBaseline) the cluster's objects go in."""


class Streaming(pulumi.ComponentResource):
    """Strimzi (Helm) plus Kafka, KafkaNodePool, KafkaTopic per topic and KafkaUser per service.

    The cluster has one internal TLS listener with mutual TLS and `simple` authorization.
    Its CA is generated here (not by Strimzi) so that its public certificate can be given
    to the apps namespace, where the User Operator writes each service's credentials.
    """

    access: kafka.KafkaAccess
    replication: kafka.Replication

    def __init__(
        self, name: str, args: StreamingArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("gamemetrics:infra:Streaming", name, None, opts)
        ns = args.namespaces
        self.replication = kafka.Replication.for_brokers(args.brokers)
        self.access = kafka.KafkaAccess(cluster=args.cluster_name, namespace=ns.kafka)
        k8s_opts = pulumi.ResourceOptions(
            parent=self, provider=args.provider, depends_on=list(args.depends_on)
        )
        meta = labels(args.cluster_name, "kafka", args.stack)

        self.operator = k8s.helm.v3.Release(
            f"{name}-strimzi",
            k8s.helm.v3.ReleaseArgs(
                name="strimzi",
                chart="strimzi-kafka-operator",
                version=STRIMZI_CHART_VERSION,
                repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=STRIMZI_REPOSITORY),
                namespace=ns.kafka,
                values={
                    "watchNamespaces": [ns.apps],
                    "resources": {
                        "requests": {"cpu": "200m", "memory": "384Mi"},
                        "limits": {"cpu": "1", "memory": "384Mi"},
                    },
                    # Pods Strimzi creates then pass Pod Security Standards "restricted".
                    "extraEnvs": [
                        {"name": "STRIMZI_POD_SECURITY_PROVIDER_CLASS", "value": "restricted"}
                    ],
                },
                atomic=True,
                cleanup_on_fail=True,
            ),
            opts=k8s_opts,
        )
        cr_opts = pulumi.ResourceOptions(
            parent=self,
            provider=args.provider,
            depends_on=[*args.depends_on, self.operator],
        )

        self.ca_key = tls.PrivateKey(
            f"{name}-cluster-ca-key",
            algorithm="ECDSA",
            ecdsa_curve="P256",
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.ca_cert = tls.SelfSignedCert(
            f"{name}-cluster-ca",
            private_key_pem=self.ca_key.private_key_pem,
            is_ca_certificate=True,
            validity_period_hours=args.ca_validity_hours,
            early_renewal_hours=30 * 24,
            allowed_uses=["cert_signing", "crl_signing"],
            subject=tls.SelfSignedCertSubjectArgs(
                common_name=f"{args.cluster_name}-cluster-ca", organization="gamemetrics"
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        ca_labels = {"strimzi.io/kind": "Kafka", "strimzi.io/cluster": args.cluster_name}
        self.ca_cert_secret = k8s.core.v1.Secret(
            f"{name}-cluster-ca-cert",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=f"{args.cluster_name}-cluster-ca-cert",
                namespace=ns.kafka,
                labels={**meta, **ca_labels},
                annotations={"strimzi.io/ca-cert-generation": "0"},
            ),
            string_data={"ca.crt": self.ca_cert.cert_pem},
            opts=k8s_opts,
        )
        self.ca_key_secret = k8s.core.v1.Secret(
            f"{name}-cluster-ca",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=f"{args.cluster_name}-cluster-ca",
                namespace=ns.kafka,
                labels={**meta, **ca_labels},
                annotations={"strimzi.io/ca-key-generation": "0"},
            ),
            string_data={"ca.key": self.ca_key.private_key_pem},
            opts=k8s_opts,
        )
        self.apps_ca_secret = k8s.core.v1.Secret(
            f"{name}-apps-ca-cert",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=kafka.CLUSTER_CA_SECRET, namespace=ns.apps, labels=meta
            ),
            string_data={"ca.crt": self.ca_cert.cert_pem},
            opts=k8s_opts,
        )

        self.node_pool = k8s.apiextensions.CustomResource(
            f"{name}-node-pool",
            api_version="kafka.strimzi.io/v1",
            kind="KafkaNodePool",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name="dual-role",
                namespace=ns.kafka,
                labels={**meta, "strimzi.io/cluster": args.cluster_name},
            ),
            spec=self._node_pool_spec(args),
            opts=cr_opts,
        )
        self.cluster = k8s.apiextensions.CustomResource(
            f"{name}-kafka",
            api_version="kafka.strimzi.io/v1",
            kind="Kafka",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=args.cluster_name, namespace=ns.kafka, labels=meta
            ),
            spec=self._kafka_spec(args),
            opts=pulumi.ResourceOptions.merge(
                cr_opts,
                pulumi.ResourceOptions(
                    depends_on=[self.node_pool, self.ca_cert_secret, self.ca_key_secret]
                ),
            ),
        )
        after_cluster = pulumi.ResourceOptions.merge(
            cr_opts, pulumi.ResourceOptions(depends_on=[self.cluster])
        )
        strimzi = {"strimzi.io/cluster": args.cluster_name}
        self.topics = {
            t.name: k8s.apiextensions.CustomResource(
                f"{name}-topic-{kafka.resource_name(t)}",
                api_version="kafka.strimzi.io/v1",
                kind="KafkaTopic",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=kafka.resource_name(t),
                    namespace=ns.kafka,
                    labels={**meta, **strimzi},
                    annotations={"gamemetrics.io/purpose": t.purpose},
                ),
                spec=kafka.topic_spec(t, args.stack, self.replication),
                opts=after_cluster,
            )
            for t in args.declared_topics
        }
        self.users = {
            s.name: k8s.apiextensions.CustomResource(
                f"{name}-user-{s.name}",
                api_version="kafka.strimzi.io/v1",
                kind="KafkaUser",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=s.name,
                    namespace=ns.apps,
                    labels={**labels(s.name, "kafka-user", args.stack), **strimzi},
                ),
                spec=kafka.user_spec(s),
                opts=after_cluster,
            )
            for s in args.declared_services
            if kafka.needs_user(s)
        }
        self.register_outputs(
            {
                "bootstrap": self.access.bootstrap,
                "brokers": self.replication.brokers,
                "replication_factor": self.replication.factor,
                "min_insync_replicas": self.replication.min_insync,
                "topics": {t.name: kafka.resource_name(t) for t in args.declared_topics},
                "users": list(self.users),
            }
        )

    def _node_pool_spec(self, args: StreamingArgs) -> dict[str, Any]:
        spec: dict[str, Any] = {
            "replicas": self.replication.brokers,
            "roles": ["controller", "broker"],
            "storage": {
                "type": "jbod",
                "volumes": [
                    {
                        "id": 0,
                        "type": "persistent-claim",
                        "size": f"{args.storage_gib}Gi",
                        "class": args.storage_class,
                        "deleteClaim": False,
                        "kraftMetadata": "shared",
                    }
                ],
            },
            "resources": {
                "requests": {"cpu": args.broker_cpu, "memory": args.broker_memory},
                "limits": {"cpu": args.broker_cpu, "memory": args.broker_memory},
            },
        }
        if args.placement is not None:
            # Strimzi adds its rack-awareness terms to this affinity, it does not replace it.
            pod: dict[str, Any] = {"affinity": args.placement.affinity()}
            if args.placement.taints:
                pod["tolerations"] = args.placement.tolerations()
            spec["template"] = {"pod": pod}
        return spec

    def _kafka_spec(self, args: StreamingArgs) -> dict[str, Any]:
        ns = args.namespaces
        spec: dict[str, Any] = {
            "kafka": {
                "version": args.kafka_version,
                "listeners": [
                    {
                        "name": "tls",
                        "port": kafka.TLS_PORT,
                        "type": "internal",
                        "tls": True,
                        "authentication": {"type": "tls"},
                    }
                ],
                "authorization": {"type": "simple"},
                "config": self.replication.broker_config(),
            },
            "clusterCa": {"generateCertificateAuthority": False},
            "entityOperator": {
                "topicOperator": {"watchedNamespace": ns.kafka},
                # KafkaUsers and their credential Secrets live beside the pods that use them.
                "userOperator": {
                    "watchedNamespace": ns.apps,
                    "secretPrefix": kafka.USER_SECRET_PREFIX,
                },
            },
            "kafkaExporter": {"topicRegex": ".*", "groupRegex": ".*"},
        }
        if self.replication.brokers > 1:
            spec["kafka"]["rack"] = {"topologyKey": "topology.kubernetes.io/zone"}
        return spec
