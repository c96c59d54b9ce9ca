"""IAM for service accounts (IRSA): trust only one service account, allow only its needs."""

import json
from typing import Any

import pulumi

from apps.core import services
from infra.kubernetes.backends import Irsa, ObjectStorage


def trust_policy(irsa: Irsa, namespace: str, service_account: str) -> pulumi.Output[str]:
    """Only `system:serviceaccount:<namespace>:<service_account>` may assume the role.

    The same document as `infra.cluster.irsa_trust_policy`; not imported from there so
    that this package does not load pulumi-eks.
    """
    subject = f"system:serviceaccount:{namespace}:{service_account}"

    def document(values: list[Any]) -> str:
        issuer = str(values[1]).removeprefix("https://")
        return _dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Federated": str(values[0])},
                        "Action": "sts:AssumeRoleWithWebIdentity",
                        "Condition": {
                            "StringEquals": {
                                f"{issuer}:sub": subject,
                                f"{issuer}:aud": "sts.amazonaws.com",
                            }
                        },
                    }
                ],
            }
        )

    return pulumi.Output.all(irsa.oidc_provider_arn, irsa.oidc_provider_url).apply(document)


def permissions_policy(
    service: services.Service, storage: ObjectStorage | None
) -> pulumi.Output[str] | None:
    """The statements the service's needs call for; None when it calls no AWS API."""
    if "s3" not in service.needs:
        return None
    if storage is None:
        raise ValueError(f"service {service.name!r} needs s3; no ObjectStorage given")
    buckets = [storage.buckets[role] for role in storage.app_buckets]

    def document(values: list[Any]) -> str:
        names = [str(v) for v in values[: len(buckets)]]
        key = values[len(buckets)] if storage.kms_key_arn is not None else None
        statements: list[dict[str, Any]] = [
            {
                "Sid": "ListBuckets",
                "Effect": "Allow",
                "Action": ["s3:ListBucket", "s3:GetBucketLocation"],
                "Resource": [f"arn:aws:s3:::{n}" for n in names],
            },
            {
                "Sid": "ReadWriteObjects",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
                "Resource": [f"arn:aws:s3:::{n}/*" for n in names],
            },
        ]
        if key is not None:
            statements.append(
                {
                    "Sid": "BucketKey",
                    "Effect": "Allow",
                    "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                    "Resource": [str(key)],
                }
            )
        return _dumps({"Version": "2012-10-17", "Statement": statements})

    inputs: list[pulumi.Input[str]] = list(buckets)
    if storage.kms_key_arn is not None:
        inputs.append(storage.kms_key_arn)
    return pulumi.Output.all(*inputs).apply(document)


def _dumps(doc: dict[str, Any]) -> str:
    return json.dumps(doc, sort_keys=True)
