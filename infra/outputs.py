"""Typed helpers over pulumi.Output."""

import pulumi


def secret(value: pulumi.Input[str]) -> pulumi.Output[str]:
    """`pulumi.Output.secret` for strings (mypy cannot infer its type from an Output[str])."""
    return pulumi.Output.secret(value)
