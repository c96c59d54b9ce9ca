"""The three stacks' plans, computed once per session (the real program under mocks)."""

import pytest

from stacks.offline.preview import Plan, ensure_event_loop, plan_stack

STACKS = ("dev", "staging", "prod")


@pytest.fixture(autouse=True)
def _event_loop() -> None:
    """Pulumi's mocked runtime needs the thread's event loop, whichever test ran before (a
    finished `asyncio.run` in the same worker leaves none)."""
    ensure_event_loop()


@pytest.fixture(scope="session")
def plans() -> dict[str, Plan]:
    return {stack: plan_stack(stack) for stack in STACKS}


@pytest.fixture(scope="session")
def dev(plans: dict[str, Plan]) -> Plan:
    return plans["dev"]


@pytest.fixture(scope="session")
def staging(plans: dict[str, Plan]) -> Plan:
    return plans["staging"]


@pytest.fixture(scope="session")
def prod(plans: dict[str, Plan]) -> Plan:
    return plans["prod"]
