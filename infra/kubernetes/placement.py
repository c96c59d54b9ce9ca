"""Nodes reserved for one workload: the labels its pods require, the taints they tolerate."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

TaintEffect = Literal["NoSchedule", "PreferNoSchedule", "NoExecute"]


@dataclass(frozen=True, slots=True)
class Taint:
    key: str
    value: str
    effect: TaintEffect = "NoSchedule"


@dataclass(frozen=True, slots=True)
class NodePlacement:
    """Pods placed with this run only on nodes with all of `node_labels`, and tolerate `taints`
    (those of the node groups that carry the labels, so that nothing else runs there)."""

    node_labels: Mapping[str, str]
    taints: tuple[Taint, ...] = ()

    def __post_init__(self) -> None:
        if not self.node_labels:
            raise ValueError("a NodePlacement needs at least one node label to require")

    def affinity(self) -> dict[str, Any]:
        """A required node affinity (Kubernetes `Affinity`, camelCase)."""
        expressions = [
            {"key": key, "operator": "In", "values": [value]}
            for key, value in sorted(self.node_labels.items())
        ]
        return {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [{"matchExpressions": expressions}]
                }
            }
        }

    def tolerations(self) -> list[dict[str, str]]:
        return [
            {"key": t.key, "operator": "Equal", "value": t.value, "effect": t.effect}
            for t in self.taints
        ]
