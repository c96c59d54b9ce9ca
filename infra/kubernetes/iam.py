"""IAM for service accounts (IRSA): trust only one service account, allow only its needs.

A service's S3 permissions come from its declaration (`Service.s3_access` in
apps/core/services.py): the buckets it names, the objects under each bucket's
`key_prefix` (the archive's `events/`), and the storage key for what it does there.
"""

import json
from collections.abc import Mapping
from typing import Any, Final

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


_LIST_BUCKET: Final = ("s3:ListBucket", "s3:GetBucketLocation")
OBJECT_ACTIONS: Final[Mapping[services.S3Access, tuple[str, ...]]] = {
    "read": ("s3:GetObject",),
    "write": ("s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"),
}
"""What each declared access allows on the objects under the bucket's key prefix. No
s3:DeleteObjectVersion: a delete leaves a noncurrent version that the bucket's lifecycle
expires (infra/storage.py), so no pod can erase history faster than the lifecycle does."""
KEY_ACTIONS: Final[Mapping[services.S3Access, tuple[str, ...]]] = {
    "read": ("kms:Decrypt",),
    "write": ("kms:Decrypt", "kms:GenerateDataKey"),
}
"""What each access needs of the buckets' SSE-KMS key (a put asks KMS for a data key)."""


def permissions_policy(
    service: services.Service, storage: ObjectStorage | None
) -> pulumi.Output[str] | None:
    """Exactly what the service's `s3_access` declares, one bucket at a time: list the
    bucket, read or write the objects under its key prefix, and use the buckets' key as
    the access needs. None when it calls no AWS API."""
    if not service.s3_access:
        return None
    if storage is None:
        raise ValueError(f"service {service.name!r} needs s3; no ObjectStorage given")
    declared = sorted(service.s3_access.items(), key=lambda item: item[0].purpose)
    missing = [b.purpose for b, _ in declared if b.purpose not in storage.buckets]
    if missing:
        raise ValueError(
            f"service {service.name!r} uses bucket(s) {', '.join(missing)}; the ObjectStorage "
            f"has {', '.join(sorted(storage.buckets))}"
        )
    names: list[pulumi.Input[str]] = [storage.buckets[b.purpose] for b, _ in declared]
    key: list[pulumi.Input[str]] = [] if storage.kms_key_arn is None else [storage.kms_key_arn]

    def document(values: list[Any]) -> str:
        statements: list[dict[str, Any]] = []
        for (bucket, access), name in zip(declared, values[: len(declared)], strict=True):
            label = bucket.purpose.title().replace("-", "")
            statements += [
                {
                    "Sid": f"List{label}",
                    "Effect": "Allow",
                    "Action": list(_LIST_BUCKET),
                    "Resource": [f"arn:aws:s3:::{name}"],
                },
                {
                    "Sid": f"{access.title()}{label}Objects",
                    "Effect": "Allow",
                    "Action": list(OBJECT_ACTIONS[access]),
                    "Resource": [f"arn:aws:s3:::{name}/{bucket.key_prefix}*"],
                },
            ]
        if key:
            actions = sorted({a for _, access in declared for a in KEY_ACTIONS[access]})
            statements.append(
                {
                    "Sid": "BucketKey",
                    "Effect": "Allow",
                    "Action": actions,
                    "Resource": [str(values[-1])],
                }
            )
        return _dumps({"Version": "2012-10-17", "Statement": statements})

    return pulumi.Output.all(*names, *key).apply(document)


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
