"""Who may do what on Kafka: the ACLs of Strimzi's KafkaUsers, taken together.

Reading a consumer group's committed offsets needs Describe on the group
(OFFSET_FETCH, since KIP-163); joining it and committing need Read. A second
principal with Read on a group can therefore move its owner's progress (commit
an offset past records never stored, or take its partitions), so Read on a
group belongs to the one KafkaUser that consumes in it.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

from pulumi_policy import PolicyResource, ReportViolation, StackValidationArgs

from policies.support import about_resource, dig, items, kind_of, mapping, stack_policy, strings

GROUP_JOINING: Final = frozenset({"Read", "All"})
"""Operations on a group that let a principal join it or commit its offsets."""


@dataclass(frozen=True, slots=True)
class GroupGrant:
    user: PolicyResource
    cluster: str
    name: str
    prefix: bool

    def overlaps(self, other: "GroupGrant") -> bool:
        """Some group name falls under both (a literal `*` is every group)."""
        if self.cluster != other.cluster:
            return False
        if "*" in (self.name, other.name) and not (self.prefix or other.prefix):
            return True
        if self.prefix and other.prefix:
            return self.name.startswith(other.name) or other.name.startswith(self.name)
        if self.prefix:
            return other.name.startswith(self.name) or other.name == "*"
        if other.prefix:
            return self.name.startswith(other.name) or self.name == "*"
        return self.name == other.name

    @property
    def shown(self) -> str:
        return f"{self.name}*" if self.prefix else self.name


def _kafka_users(resources: list[PolicyResource]) -> list[PolicyResource]:
    return [
        r
        for r in resources
        if r.resource_type.startswith("kubernetes:kafka.strimzi.io/")
        and kind_of(r.resource_type) == "KafkaUser"
    ]


def group_grants(user: PolicyResource) -> Iterator[GroupGrant]:
    """The groups a KafkaUser may join or commit to (allow rules with Read or All)."""
    labels = mapping(dig(user.props, "metadata", "labels"))
    cluster = str(labels.get("strimzi.io/cluster", ""))
    for acl in items(dig(user.props, "spec", "authorization", "acls")):
        rule = mapping(acl)
        resource = mapping(rule.get("resource"))
        if rule.get("type", "allow") != "allow" or resource.get("type") != "group":
            continue
        operations = set(strings(rule.get("operations"))) | set(strings(rule.get("operation")))
        if operations & GROUP_JOINING:
            yield GroupGrant(
                user,
                cluster,
                str(resource.get("name", "*")),
                resource.get("patternType", "literal") == "prefix",
            )


def consumer_group_one_reader(args: StackValidationArgs, report: ReportViolation) -> None:
    users = sorted(_kafka_users(list(args.resources)), key=lambda u: u.urn)
    earlier: list[GroupGrant] = []
    for user in users:
        mine = list(group_grants(user))
        for grant in mine:
            owner = next((g for g in earlier if g.overlaps(grant)), None)
            if owner is not None:
                report(
                    f"{about_resource(user)} may Read consumer group {grant.shown}, as "
                    f"{about_resource(owner.user)} may ({owner.shown}): either can join the "
                    "group or commit its offsets, moving the other's progress. Fix: grant "
                    "Read on a group only to the KafkaUser that consumes in it; one that "
                    "only waits for the group's progress needs Describe (OffsetFetch).",
                    user.urn,
                )
        earlier += mine


POLICIES: Final = [
    stack_policy(
        "kafka-consumer-group-one-reader",
        "At most one KafkaUser may Read (join, commit to) each consumer group.",
        consumer_group_one_reader,
    ),
]
