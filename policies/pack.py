"""The policy pack's contents: its name, its policies (every rule module's), its defaults.

Importing this builds the policies and nothing else; `policies/__main__.py`
turns them into the running `PolicyPack` (which serves the analyzer and never
returns), and `policies.offline` runs them in-process.
"""

from pathlib import Path
from typing import Final

from pulumi_policy import EnforcementLevel, Policy

from policies import (
    aws_archive,
    aws_cluster,
    aws_data,
    aws_network,
    aws_storage,
    aws_tags,
    kafka_access,
    kubernetes_objects,
    kubernetes_pods,
    stack,
)

NAME: Final = "gamemetrics"
DIRECTORY: Final = Path(__file__).resolve().parent
CONFIG_DIRECTORY: Final = DIRECTORY / "config"
"""Per-stack policy configuration: `pulumi preview --policy-pack-config` takes these files."""
ENFORCEMENT_LEVEL: Final = EnforcementLevel.MANDATORY
"""Every policy blocks unless a stack's configuration says otherwise."""

POLICIES: Final[list[Policy]] = [
    *aws_data.POLICIES,
    *aws_storage.POLICIES,
    *aws_archive.POLICIES,
    *aws_network.POLICIES,
    *aws_cluster.POLICIES,
    *aws_tags.POLICIES,
    *kubernetes_pods.POLICIES,
    *kubernetes_objects.POLICIES,
    *stack.POLICIES,
    *kafka_access.POLICIES,
]
