"""The policy pack against a stack's offline plan: what `gamemetrics policy check` runs.

`engine_resources` turns the plan's recorded registrations into what the
engine hands an analyzer: the same property names (the provider schema's, as
the SDK sent them), secrets in the engine's secret envelope, unknowns as the
engine's sentinel, references to other resources as their URNs.
"""

from collections.abc import Mapping
from pathlib import Path

from policies.offline import (
    UNKNOWN,
    EngineResource,
    OfflineAnalyzer,
    Report,
    config_file,
    read_config,
    secret,
)
from stacks.offline.preview import COMPUTED, Plan, ResourceRef, Secret, plan_stack


def _wire(value: object) -> object:
    if isinstance(value, Secret):
        return secret(_wire(value.value))
    if isinstance(value, ResourceRef):
        return value.urn
    if isinstance(value, Mapping):
        return {str(k): _wire(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_wire(v) for v in value]
    if value == COMPUTED:
        return UNKNOWN
    return value


def engine_resources(plan: Plan) -> list[EngineResource]:
    resources = []
    for r in plan.resources:
        properties = _wire(r.inputs)
        assert isinstance(properties, dict)
        resources.append(
            EngineResource(
                urn=r.urn,
                type=r.type,
                name=r.name,
                custom=r.custom,
                properties=properties,
                parent=r.parent,
                provider=r.provider,
                dependencies=r.dependencies,
                protect=r.protect,
            )
        )
    return resources


def check_plan(plan: Plan, policy_config: Path | None = None) -> Report:
    """Analyze the plan with the stack's policy configuration (or the given file).

    Raises PolicyConfigError when the configuration is missing or invalid.
    """
    path = policy_config or config_file(plan.stack, plan.settings.environment)
    analyzer = OfflineAnalyzer(config=read_config(path))
    return analyzer.analyze(engine_resources(plan))


def check_stack(
    stack: str, config_file: Path | None = None, policy_config: Path | None = None
) -> tuple[Plan, Report]:
    """The plan of `stack` (from its Pulumi.<stack>.yaml or `config_file`) and its report."""
    plan = plan_stack(stack, config_file)
    return plan, check_plan(plan, policy_config)
