"""One analyzer for the session (reconfigured by each test), and the three stacks' plans."""

import pytest

from policies.offline import OfflineAnalyzer, Report
from stacks.offline.policy_check import check_plan
from stacks.offline.preview import Plan, plan_stack

STACKS = ("dev", "staging", "prod")


@pytest.fixture(scope="session")
def analyzer() -> OfflineAnalyzer:
    return OfflineAnalyzer()


@pytest.fixture(scope="session")
def plans() -> dict[str, Plan]:
    return {stack: plan_stack(stack) for stack in STACKS}


@pytest.fixture(scope="session")
def reports(plans: dict[str, Plan]) -> dict[str, Report]:
    """Each stack's plan through the pack, with the stack's policy configuration."""
    return {stack: check_plan(plan) for stack, plan in plans.items()}
