"""Pulumi entry point: wiring only. The AWS components arrive with the infrastructure issue;
today the program exports what the apps declare, which is what infra/ will derive from."""

import pulumi

from apps.core import services, topics

_STACKS: dict[str, topics.Stack] = {"dev": "dev", "staging": "staging", "prod": "prod"}

config = pulumi.Config("gamemetrics")
environment = config.require("environment")
if environment not in _STACKS:
    raise ValueError(f"gamemetrics:environment={environment!r}; allowed: dev, staging, prod")
stack = _STACKS[environment]

pulumi.export("services", [s.name for s in services.ALL])
pulumi.export("topics", {t.name: t.partitions_for(stack) for t in topics.ALL})
