"""Customer-managed KMS keys: one per purpose, rotated yearly, with an alias people can read."""

import json
from collections.abc import Mapping

import pulumi
import pulumi_aws as aws


def encryption_key(
    name: str,
    *,
    alias: str,
    description: str,
    tags: Mapping[str, str],
    parent: pulumi.Resource,
    logs: tuple[pulumi.Input[str], str] | None = None,
) -> aws.kms.Key:
    """A symmetric key with rotation on, its alias a child of it.

    Without `logs` the key keeps the default key policy: the account administers it and the
    services (EKS, RDS, ElastiCache, S3, Secrets Manager) use it through grants and IAM.
    CloudWatch Logs uses a key on its own behalf, so a key for log groups (`logs=(account_id,
    region)`) names it in the key policy, scoped to that account's log groups in that region.
    """
    policy = (
        None
        if logs is None
        else pulumi.Output.from_input(logs[0]).apply(lambda account: _logs_policy(account, logs[1]))
    )
    key = aws.kms.Key(
        name,
        description=description,
        enable_key_rotation=True,
        deletion_window_in_days=30,
        policy=policy,
        tags=dict(tags),
        opts=pulumi.ResourceOptions(parent=parent),
    )
    aws.kms.Alias(
        f"{name}-alias",
        name=f"alias/{alias}",
        target_key_id=key.key_id,
        opts=pulumi.ResourceOptions(parent=key),
    )
    return key


def _logs_policy(account_id: str, region: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AccountAdministers",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                },
                {
                    "Sid": "CloudWatchLogsEncrypts",
                    "Effect": "Allow",
                    "Principal": {"Service": f"logs.{region}.amazonaws.com"},
                    "Action": [
                        "kms:Encrypt*",
                        "kms:Decrypt*",
                        "kms:ReEncrypt*",
                        "kms:GenerateDataKey*",
                        "kms:Describe*",
                    ],
                    "Resource": "*",
                    "Condition": {
                        "ArnLike": {
                            "kms:EncryptionContext:aws:logs:arn": (
                                f"arn:aws:logs:{region}:{account_id}:*"
                            )
                        }
                    },
                },
            ],
        }
    )
