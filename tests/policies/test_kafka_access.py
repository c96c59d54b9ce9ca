"""Kafka access policies: the KafkaUsers' ACLs taken together."""

from typing import Any

import pytest

from policies.offline import EngineResource, OfflineAnalyzer
from tests.policies.harness import Case, check, found, k8s, res

KAFKA_USER = "kubernetes:kafka.strimzi.io/v1:KafkaUser"


def group(name: str, *operations: str, pattern: str = "literal") -> dict[str, Any]:
    return {
        "type": "allow",
        "resource": {"type": "group", "name": name, "patternType": pattern},
        "operations": list(operations),
    }


def topic(name: str, *operations: str) -> dict[str, Any]:
    return {
        "type": "allow",
        "resource": {"type": "topic", "name": name, "patternType": "literal"},
        "operations": list(operations),
    }


def user(name: str, *acls: dict[str, Any], cluster: str = "events") -> EngineResource:
    spec = {"authentication": {"type": "tls"}, "authorization": {"type": "simple", "acls": acls}}
    return res(
        KAFKA_USER,
        name,
        k8s("KafkaUser", "kafka.strimzi.io/v1", name, spec, labels={"strimzi.io/cluster": cluster}),
    )


CONSUMER = user(
    "processor", topic("events", "Read", "Describe"), group("gamemetrics-processor", "Read")
)
FIX = (
    "either can join the group or commit its offsets, moving the other's progress. Fix: grant "
    "Read on a group only to the KafkaUser that consumes in it; one that only waits for the "
    "group's progress needs Describe (OffsetFetch)."
)


def _about(name: str) -> str:
    return f'{KAFKA_USER} "{name}" (KafkaUser apps/{name})'


CASES = [
    Case(
        "kafka-consumer-group-one-reader",
        good=[
            CONSUMER,
            # Waits for the processor's progress: Describe on its group, Read on its topic.
            user(
                "users",
                topic("events", "Read", "Describe"),
                group("gamemetrics-processor", "Describe"),
            ),
            # Another cluster's group of the same name is another group.
            user("mirror", group("gamemetrics-processor", "Read"), cluster="other"),
            # A deny rule grants nothing.
            user("audit", {**group("*", "Read"), "type": "deny"}),
        ],
        bad=[
            CONSUMER,
            user("users", group("gamemetrics-processor", "Describe", "Read")),
            user("tools", group("gamemetrics-", "All", pattern="prefix")),
        ],
        expected=[
            (
                "tools",
                f"{_about('tools')} may Read consumer group gamemetrics-*, as "
                f"{_about('processor')} may (gamemetrics-processor): {FIX}",
            ),
            (
                "users",
                f"{_about('users')} may Read consumer group gamemetrics-processor, as "
                f"{_about('processor')} may (gamemetrics-processor): {FIX}",
            ),
        ],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_policy(analyzer: OfflineAnalyzer, case: Case) -> None:
    check(analyzer, case)


@pytest.mark.parametrize(
    ("granted", "overlaps"),
    [
        (group("*", "Read"), True),
        (group("gamemetrics-proc", "Read", pattern="prefix"), True),
        (group("gamemetrics-processor-2", "Read"), False),
        (group("gamemetrics-processor-", "Read", pattern="prefix"), False),
        (group("gamemetrics-processor", "Describe"), False),
        ({**group("gamemetrics-processor"), "operation": "Read"}, True),  # the older field
    ],
)
def test_a_second_reader_is_found_whatever_pattern_names_the_group(
    analyzer: OfflineAnalyzer, granted: dict[str, Any], overlaps: bool
) -> None:
    hits = found(analyzer, "kafka-consumer-group-one-reader", [CONSUMER, user("z", granted)])
    assert [name for name, _ in hits] == (["z"] if overlaps else [])
