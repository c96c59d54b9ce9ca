"""Kafka facts derived from the apps' declarations: replication, topics, users and ACLs.

Pure functions of `apps.core.topics` and `apps.core.services`; `streaming.Streaming`
turns them into custom resources and `services.ServiceDeployment` into client settings.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from apps.core import services, topics

CLUSTER_CA_SECRET: Final = "kafka-cluster-ca-cert"  # noqa: S105 - a Secret's name
"""Secret in the apps namespace holding the cluster CA certificate (`ca.crt`)."""
USER_SECRET_PREFIX: Final = "kafka-"  # noqa: S105 - a Secret's name
"""The User Operator names a KafkaUser's credentials Secret `kafka-<user>`."""
TLS_PORT: Final = 9093


@dataclass(frozen=True, slots=True)
class Replication:
    brokers: int
    factor: int
    min_insync: int

    @classmethod
    def for_brokers(cls, brokers: int) -> "Replication":
        """RF 3 with min.insync 2 from 3 brokers (one may be down with acks=all); all of one."""
        if brokers < 1:
            raise ValueError(f"kafka brokers={brokers}; allowed: 1 or more")
        factor = min(3, brokers)
        return cls(brokers=brokers, factor=factor, min_insync=max(1, factor - 1))

    def broker_config(self) -> dict[str, Any]:
        return {
            "default.replication.factor": self.factor,
            "min.insync.replicas": self.min_insync,
            "offsets.topic.replication.factor": self.factor,
            "transaction.state.log.replication.factor": self.factor,
            "transaction.state.log.min.isr": self.min_insync,
            "auto.create.topics.enable": False,
        }


@dataclass(frozen=True, slots=True)
class KafkaAccess:
    """How a service in the apps namespace reaches the cluster (plain values, known up front)."""

    cluster: str
    namespace: str

    @property
    def bootstrap(self) -> str:
        return f"{self.cluster}-kafka-bootstrap.{self.namespace}.svc:{TLS_PORT}"

    @property
    def broker_labels(self) -> dict[str, str]:
        """Labels Strimzi puts on the broker pods (egress NetworkPolicies select them)."""
        return {"strimzi.io/cluster": self.cluster, "strimzi.io/broker-role": "true"}


def resource_name(topic: topics.Topic) -> str:
    """Kubernetes name for a topic (dots are fine, but keep names DNS-label friendly)."""
    return topic.name.replace(".", "-").replace("_", "-").lower()


def topic_spec(
    topic: topics.Topic, stack: topics.Stack, replication: Replication
) -> dict[str, Any]:
    config: dict[str, Any] = dict(topic.config())
    config["min.insync.replicas"] = replication.min_insync
    return {
        "topicName": topic.name,
        "partitions": topic.partitions_for(stack),
        "replicas": replication.factor,
        "config": config,
    }


def needs_user(service: services.Service) -> bool:
    return "kafka" in service.needs or bool(service.produces or service.consumes)


def acls(service: services.Service) -> list[dict[str, Any]]:
    """Least privilege from the declaration: write what it produces, read what it consumes."""
    rules = [_topic_rule(t, ["Write", "Describe"]) for t in _unique(service.produces)]
    rules += [_topic_rule(t, ["Read", "Describe"]) for t in _unique(service.consumes)]
    if service.consumes:
        rules.append(
            {
                "type": "allow",
                "resource": {
                    "type": "group",
                    "name": service.consumer_group,
                    "patternType": "literal",
                },
                "operations": ["Read"],
            }
        )
    return rules


def user_spec(service: services.Service) -> dict[str, Any]:
    return {
        "authentication": {"type": "tls"},
        "authorization": {"type": "simple", "acls": acls(service)},
    }


def _topic_rule(topic: topics.Topic, operations: list[str]) -> dict[str, Any]:
    return {
        "type": "allow",
        "resource": {"type": "topic", "name": topic.name, "patternType": "literal"},
        "operations": operations,
    }


def _unique(items: Iterable[topics.Topic]) -> list[topics.Topic]:
    seen: dict[str, topics.Topic] = {}
    for t in items:
        seen.setdefault(t.name, t)
    return list(seen.values())
