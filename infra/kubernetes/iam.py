"""IAM for service accounts (IRSA): trust only one service account, allow only its needs."""

import json
from typing import Any

import pulumi

from apps.core import services
from infra import irsa as irsa_trust
from infra.kubernetes.backends import Irsa, ObjectStorage


def trust_policy(irsa: Irsa, namespace: str, service_account: str) -> pulumi.Output[str]:
    """Only `system:serviceaccount:<namespace>:<service_account>` may assume the role."""
    return irsa_trust.trust_policy(
        irsa.oidc_provider_arn,
        irsa.oidc_provider_url,
        irsa_trust.service_account_subject(namespace, service_account),
    )


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


def bucket_store_policy(
    bucket: pulumi.Input[str], kms_key_arn: pulumi.Input[str] | None
) -> pulumi.Output[str]:
    """Read, write and delete the objects of one bucket (a store that manages its own
    objects, such as Loki's chunks and index), with the bucket's SSE-KMS key if it has one."""

    def document(values: list[Any]) -> str:
        name = str(values[0])
        statements: list[dict[str, Any]] = [
            {
                "Sid": "ListBucket",
                "Effect": "Allow",
                "Action": ["s3:ListBucket", "s3:GetBucketLocation"],
                "Resource": [f"arn:aws:s3:::{name}"],
            },
            {
                "Sid": "ReadWriteDeleteObjects",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                "Resource": [f"arn:aws:s3:::{name}/*"],
            },
        ]
        if len(values) > 1:
            statements.append(
                {
                    "Sid": "BucketKey",
                    "Effect": "Allow",
                    "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                    "Resource": [str(values[1])],
                }
            )
        return _dumps({"Version": "2012-10-17", "Statement": statements})

    inputs: list[pulumi.Input[str]] = [bucket]
    if kms_key_arn is not None:
        inputs.append(kms_key_arn)
    return pulumi.Output.all(*inputs).apply(document)


def _dumps(doc: dict[str, Any]) -> str:
    return json.dumps(doc, sort_keys=True)
