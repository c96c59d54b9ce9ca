"""Streaming: Strimzi, the KRaft cluster per stack, topics and users from the declarations."""

from typing import Any

import pytest

from apps.core import services, topics
from infra.kubernetes import kafka
from infra.kubernetes.placement import NodePlacement
from infra.kubernetes.streaming import Streaming, StreamingArgs
from stacks.offline.preview import Plan
from stacks.offline.validate import validate_objects
from tests.infra.kubernetes import harness

EXPECTED: dict[str, tuple[int, int, int]] = {
    "dev": (1, 1, 1),
    "staging": (3, 3, 2),
    "prod": (3, 3, 2),
}


@pytest.mark.parametrize("stack", harness.STACKS)
def test_brokers_replication_and_min_insync_per_stack(stack: topics.Stack) -> None:
    program = harness.platform(stack)
    brokers, factor, min_insync = EXPECTED[stack]
    pool = program.one("KafkaNodePool", "dual-role", "kafka")
    assert pool.spec["replicas"] == brokers
    assert pool.spec["roles"] == ["controller", "broker"]
    assert pool.inputs["metadata"]["labels"]["strimzi.io/cluster"] == "gamemetrics"
    config = program.one("Kafka", "gamemetrics", "kafka").spec["kafka"]["config"]
    assert config["default.replication.factor"] == factor
    assert config["offsets.topic.replication.factor"] == factor
    assert config["min.insync.replicas"] == min_insync
    assert config["auto.create.topics.enable"] is False
    for topic in program.kind("KafkaTopic", "kafka"):
        assert topic.spec["replicas"] == factor
        assert topic.spec["config"]["min.insync.replicas"] == min_insync


@pytest.mark.parametrize("brokers", [1, 2, 3, 5])
def test_replication_never_exceeds_brokers_and_tolerates_one_down(brokers: int) -> None:
    r = kafka.Replication.for_brokers(brokers)
    assert 1 <= r.min_insync <= r.factor <= brokers
    assert r.factor == min(3, brokers)
    if brokers >= 3:
        assert r.factor - r.min_insync == 1


def test_zero_brokers_is_refused() -> None:
    with pytest.raises(ValueError, match="brokers=0"):
        kafka.Replication.for_brokers(0)


def test_cluster_is_kraft_with_a_mutual_tls_listener_and_acls() -> None:
    spec = harness.platform("prod").one("Kafka", "gamemetrics", "kafka").spec
    (listener,) = spec["kafka"]["listeners"]
    assert listener == {
        "name": "tls",
        "port": 9093,
        "type": "internal",
        "tls": True,
        "authentication": {"type": "tls"},
    }
    assert spec["kafka"]["authorization"] == {"type": "simple"}
    assert "zookeeper" not in spec
    assert spec["kafka"]["rack"] == {"topologyKey": "topology.kubernetes.io/zone"}
    assert spec["entityOperator"]["userOperator"]["watchedNamespace"] == "gamemetrics"
    assert spec["clusterCa"] == {"generateCertificateAuthority": False}
    assert "rack" not in harness.platform("dev").one("Kafka", "gamemetrics").spec["kafka"]


def test_the_cluster_ca_is_given_to_kafka_and_to_the_apps() -> None:
    program = harness.platform("dev")
    objects = {
        (o["metadata"].get("namespace"), o["metadata"]["name"]): o for o in program.objects()
    }
    cert = objects[("kafka", "gamemetrics-cluster-ca-cert")]
    key = objects[("kafka", "gamemetrics-cluster-ca")]
    apps = objects[("gamemetrics", kafka.CLUSTER_CA_SECRET)]
    assert cert["stringData"]["ca.crt"] == apps["stringData"]["ca.crt"]
    assert "BEGIN PRIVATE KEY" in key["stringData"]["ca.key"]
    assert "ca.key" not in apps["stringData"]
    assert cert["metadata"]["labels"]["strimzi.io/cluster"] == "gamemetrics"


@pytest.mark.parametrize("stack", harness.STACKS)
def test_a_kafka_topic_per_declared_topic_with_its_partitions(stack: topics.Stack) -> None:
    declared = {t.name: t for t in topics.ALL}
    found = {t.spec["topicName"]: t.spec for t in harness.platform(stack).kind("KafkaTopic")}
    assert set(found) == set(declared)
    for name, spec in found.items():
        topic = declared[name]
        assert spec["partitions"] == topic.partitions[stack]
        assert spec["config"]["retention.ms"] == str(int(topic.retention.total_seconds() * 1000))
        assert spec["config"]["compression.type"] == topic.compression


def _acl(spec: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {
        (rule["resource"]["type"], rule["resource"]["name"], op)
        for rule in spec["authorization"]["acls"]
        for op in rule["operations"]
    }


@pytest.mark.parametrize("service", services.ALL, ids=lambda s: s.name)
def test_kafka_users_have_exactly_the_acls_of_what_they_produce_consume_and_await(
    service: services.Service,
) -> None:
    program = harness.platform("prod")
    users = {u.object_name: u for u in program.kind("KafkaUser", "gamemetrics")}
    if not kafka.needs_user(service):
        assert service.name not in users
        return
    spec = users[service.name].spec
    assert spec["authentication"] == {"type": "tls"}
    expected = {("topic", t.name, op) for t in service.produces for op in ("Write", "Describe")}
    expected |= {("topic", t.name, op) for t in service.consumes for op in ("Read", "Describe")}
    if service.consumes:
        expected.add(("group", service.consumer_group, "Read"))
    for awaited in service.awaits:
        expected |= {("topic", t.name, op) for t in awaited.consumes for op in ("Read", "Describe")}
        expected.add(("group", awaited.consumer_group, "Describe"))
    assert _acl(spec) == expected
    # One rule per resource: Strimzi would accept duplicates, a reader should not have to.
    rules = spec["authorization"]["acls"]
    resources = [(r["resource"]["type"], r["resource"]["name"]) for r in rules]
    assert len(resources) == len(set(resources))


def test_users_watches_the_processors_progress_and_cannot_move_it() -> None:
    """OffsetFetch needs Describe on the group, the watermark fetch Read on the topic; Read
    on the group (join, commit) stays the processor's alone."""
    spec = harness.platform("dev").one("KafkaUser", "users").spec
    assert _acl(spec) == {
        ("topic", "gm.events.v1", "Read"),
        ("topic", "gm.events.v1", "Describe"),
        ("group", "gamemetrics-processor", "Describe"),
    }
    readers = {
        user.object_name
        for user in harness.platform("prod").kind("KafkaUser", "gamemetrics")
        if ("group", "gamemetrics-processor", "Read") in _acl(user.spec)
    }
    assert readers == {"processor"}


def test_a_topic_consumed_and_awaited_is_one_rule_and_the_group_of_each_is_its_own() -> None:
    watcher = services.Service(
        name="watcher", app="x:y", port=9001, public=False, needs=frozenset({"kafka"}),
        consumes=(topics.EVENTS,), awaits=(services.PROCESSOR,),
    )  # fmt: skip
    assert kafka.acls(watcher) == [
        {
            "type": "allow",
            "resource": {"type": "topic", "name": "gm.events.v1", "patternType": "literal"},
            "operations": ["Read", "Describe"],
        },
        {
            "type": "allow",
            "resource": {"type": "group", "name": "gamemetrics-watcher", "patternType": "literal"},
            "operations": ["Read"],
        },
        {
            "type": "allow",
            "resource": {
                "type": "group",
                "name": "gamemetrics-processor",
                "patternType": "literal",
            },
            "operations": ["Describe"],
        },
    ]


def test_processor_reads_events_writes_dead_letters_and_nothing_else() -> None:
    spec = harness.platform("dev").one("KafkaUser", "processor").spec
    assert _acl(spec) == {
        ("topic", "gm.events.v1", "Read"),
        ("topic", "gm.events.v1", "Describe"),
        ("topic", "gm.events.dlq.v1", "Write"),
        ("topic", "gm.events.dlq.v1", "Describe"),
        ("group", "gamemetrics-processor", "Read"),
    }


def test_strimzi_operator_is_a_helm_release_watching_the_apps_namespace() -> None:
    release = harness.platform("dev").releases()["strimzi-kafka-operator"].inputs
    assert release["namespace"] == "kafka"
    assert release["repositoryOpts"]["repo"].startswith("https://")
    assert release["values"]["watchNamespaces"] == ["gamemetrics"]
    assert {"name": "STRIMZI_POD_SECURITY_PROVIDER_CLASS", "value": "restricted"} in release[
        "values"
    ]["extraEnvs"]


def test_topics_and_users_come_only_from_the_declarations_given() -> None:
    extra = topics.Topic(
        name="gm.extra.v1",
        partitions={"local": 1, "dev": 2, "staging": 4, "prod": 8},
        retention=topics.EVENTS.retention,
        purpose="synthetic",
    )
    only = services.Service(
        name="reader", app="x:y", port=9000, public=False, needs=frozenset({"kafka"}),
        consumes=(extra,), scaling={"staging": services.Scaling(1, 1)},
    )  # fmt: skip
    program = harness.run(
        lambda: Streaming(
            "s",
            StreamingArgs(
                provider=harness.provider(),
                stack="staging",
                brokers=3,
                declared_topics=(extra,),
                declared_services=(only,),
            ),
        )
    )
    (topic,) = program.kind("KafkaTopic")
    assert (topic.spec["topicName"], topic.spec["partitions"]) == ("gm.extra.v1", 4)
    (user,) = program.kind("KafkaUser")
    assert _acl(user.spec) == {
        ("topic", "gm.extra.v1", "Read"),
        ("topic", "gm.extra.v1", "Describe"),
        ("group", "gamemetrics-reader", "Read"),
    }
    (component,) = program.of_type("gamemetrics:infra:Streaming")
    assert all(
        r.parent == component.urn for r in program if r.type.startswith(("kubernetes:", "tls:"))
    )
    validate_objects(program.objects())


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_brokers_run_on_the_kafka_node_group_where_the_stack_has_one(
    plans: dict[str, Plan], stack: str
) -> None:
    plan = plans[stack]
    pool = plan.one("kubernetes:kafka.strimzi.io/v1:KafkaNodePool").plain["spec"]
    groups = plan.settings.cluster.pool("kafka")
    assert bool(groups) == (stack == "prod")  # Pulumi.prod.yaml's `kafka` node group
    if not groups:
        assert "template" not in pool
        return
    (group,) = groups
    pod = pool["template"]["pod"]
    (term,) = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"
    ]
    assert term["matchExpressions"] == [
        {"key": "gamemetrics.io/pool", "operator": "In", "values": ["kafka"]}
    ]
    # The node group carries the label the brokers require, and the taint they tolerate.
    nodes = plan.one("eks:index:ManagedNodeGroup", f"cluster-{group.name}").plain
    assert nodes["labels"]["gamemetrics.io/pool"] == "kafka"
    (taint,) = nodes["taints"]
    assert taint == {"key": "gamemetrics.io/pool", "value": "kafka", "effect": "NO_SCHEDULE"}
    assert pod["tolerations"] == [
        {
            "key": "gamemetrics.io/pool",
            "operator": "Equal",
            "value": "kafka",
            "effect": "NoSchedule",
        }
    ]
    # Nothing else tolerates it: the other node groups keep the services and operators.
    general = plan.one("eks:index:ManagedNodeGroup", "cluster-general").plain
    assert "taints" not in general


def test_placement_without_taints_sets_only_the_affinity_and_validates() -> None:
    placement = NodePlacement(node_labels={"gamemetrics.io/pool": "kafka", "zone-class": "a"})
    program = harness.run(
        lambda: Streaming(
            "s",
            StreamingArgs(
                provider=harness.provider(), stack="prod", brokers=3, placement=placement
            ),
        )
    )
    pod = program.one("KafkaNodePool", "dual-role").spec["template"]["pod"]
    assert "tolerations" not in pod
    (term,) = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"
    ]
    assert [e["key"] for e in term["matchExpressions"]] == ["gamemetrics.io/pool", "zone-class"]
    validate_objects(program.objects())
    with pytest.raises(ValueError, match="at least one node label"):
        NodePlacement(node_labels={})
