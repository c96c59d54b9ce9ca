"""What the managed data stores (Database, Cache) share: who may connect, and where their
credentials are kept."""

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.outputs import secret


def client_security_group(
    resource: str, *, vpc_id: pulumi.Input[str], port: int, client_cidrs: Sequence[str],
    description: str, rule: str, tags: Mapping[str, str], opts: pulumi.ResourceOptions,
) -> aws.ec2.SecurityGroup:  # fmt: skip
    """The store's port open to `client_cidrs` (the pods' subnets), nothing else."""
    return aws.ec2.SecurityGroup(
        resource,
        vpc_id=vpc_id,
        description=description,
        ingress=[
            aws.ec2.SecurityGroupIngressArgs(
                protocol="tcp",
                from_port=port,
                to_port=port,
                cidr_blocks=list(client_cidrs),
                description=rule,
            )
        ],
        tags=dict(tags),
        opts=opts,
    )


def json_secret(
    resource: str, *, name: str, description: str, kms_key_arn: pulumi.Input[str],
    values: list[pulumi.Input[Any]], document: Callable[[list[Any]], dict[str, Any]],
    tags: Mapping[str, str], opts: pulumi.ResourceOptions, **secret_args: Any,
) -> aws.secretsmanager.Secret:  # fmt: skip
    """A Secrets Manager secret, encrypted with the store's key, holding the JSON
    `document` built from the resolved `values` (kept a Pulumi secret throughout)."""
    kept = aws.secretsmanager.Secret(
        resource,
        name=name,
        description=description,
        kms_key_id=kms_key_arn,
        tags=dict(tags),
        opts=opts,
        **secret_args,
    )
    aws.secretsmanager.SecretVersion(
        resource,
        secret_id=kept.id,
        secret_string=secret(pulumi.Output.all(*values).apply(lambda v: json.dumps(document(v)))),
        opts=opts,
    )
    return kept
