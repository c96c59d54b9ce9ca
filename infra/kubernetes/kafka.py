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


# What each role needs, from Kafka's "Operations and Resources on Protocols" table
# (docs/security.html, apache/kafka): PRODUCE needs Write on the topic; FETCH needs Read on
# the topic; METADATA and LIST_OFFSETS need Describe on the topic; FIND_COORDINATOR needs
# Describe on the group; OFFSET_FETCH needs Describe on the group and on the topic (KIP-163
# lowered it from Read in Kafka 1.0); JOIN_GROUP, SYNC_GROUP, HEARTBEAT and OFFSET_COMMIT
# need Read on the group.
PRODUCER_TOPIC_OPERATIONS: Final = ("Write", "Describe")
CONSUMER_TOPIC_OPERATIONS: Final = ("Read", "Describe")
CONSUMER_GROUP_OPERATIONS: Final = ("Read",)
AWAITER_TOPIC_OPERATIONS: Final = ("Read", "Describe")
"""A service that awaits a consumer learns the high watermarks of its topics from fetch
responses (assign and poll: Tansu's ListOffsets undercounts, apps/processor/assignment.py),
and FETCH needs Read. It sees nothing new there: the events it could read are the ones it
already reads from PostgreSQL. ListOffsets alone would need Describe only."""
AWAITER_GROUP_OPERATIONS: Final = ("Describe",)
"""OffsetFetch and FindCoordinator, nothing more: Read on the group would let the awaiting
service join it or commit its offsets, moving the consumer's progress; the broker refuses
both (GROUP_AUTHORIZATION_FAILED), so the awaiting client must not auto-commit."""


def needs_user(service: services.Service) -> bool:
    return "kafka" in service.needs or bool(service.produces or service.consumes or service.awaits)


def acls(service: services.Service) -> list[dict[str, Any]]:
    """Least privilege from the declaration: write what it produces, read what it consumes,
    look at the progress of the consumers it awaits.

    One rule per resource, its operations merged (a topic produced and awaited is one rule)."""
    grants: dict[tuple[str, str], list[str]] = {}

    def grant(kind: str, name: str, operations: Iterable[str]) -> None:
        held = grants.setdefault((kind, name), [])
        held += [op for op in operations if op not in held]

    for topic in service.produces:
        grant("topic", topic.name, PRODUCER_TOPIC_OPERATIONS)
    for topic in service.consumes:
        grant("topic", topic.name, CONSUMER_TOPIC_OPERATIONS)
    if service.consumes:
        grant("group", service.consumer_group, CONSUMER_GROUP_OPERATIONS)
    for awaited in service.awaits:
        for topic in awaited.consumes:
            grant("topic", topic.name, AWAITER_TOPIC_OPERATIONS)
        grant("group", awaited.consumer_group, AWAITER_GROUP_OPERATIONS)
    return [_rule(kind, name, operations) for (kind, name), operations in grants.items()]


def user_spec(service: services.Service) -> dict[str, Any]:
    return {
        "authentication": {"type": "tls"},
        "authorization": {"type": "simple", "acls": acls(service)},
    }


def _rule(kind: str, name: str, operations: list[str]) -> dict[str, Any]:
    return {
        "type": "allow",
        "resource": {"type": kind, "name": name, "patternType": "literal"},
        "operations": operations,
    }
