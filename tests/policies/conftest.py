"""One analyzer for the session (reconfigured by each test), and the three stacks' plans."""

import pytest

from infra.policy_check import check_plan
from infra.preview import Plan, plan_stack
from policies.offline import OfflineAnalyzer, Report

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
