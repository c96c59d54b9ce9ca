"""boto3 clients from `S3Settings`, and the buckets a platform must have.

`client_options` is pure (what the client will be), `client` does the I/O; so a
test can check the options and every service gets the same timeouts and retries.
With an endpoint (the local store) requests go there with path-style addressing
(`http://host:port/bucket/key`, no DNS per bucket); without one boto3 finds AWS
S3 and its credentials (the pod's IRSA role) itself.
"""

from collections.abc import Iterable
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from apps.core.settings.s3 import S3Settings


def client_options(settings: S3Settings) -> dict[str, Any]:
    """The keyword arguments of `boto3.client("s3", ...)` for these settings."""
    addressing = "path" if settings.endpoint else "auto"
    options: dict[str, Any] = {
        "config": Config(
            connect_timeout=settings.connect_timeout.total_seconds(),
            read_timeout=settings.read_timeout.total_seconds(),
            retries={"mode": "standard", "max_attempts": settings.max_attempts},
            s3={"addressing_style": addressing},
        )
    }
    if settings.endpoint:
        options["endpoint_url"] = settings.endpoint
        # Any region signs for a custom endpoint; boto3 refuses none at all.
        options["region_name"] = settings.region or "us-east-1"
    elif settings.region:
        options["region_name"] = settings.region
    if settings.access_key_id is not None:
        options["aws_access_key_id"] = settings.access_key_id
        options["aws_secret_access_key"] = settings.secret_access_key
    return options


def client(settings: S3Settings) -> Any:
    """An S3 client (thread-safe; share one per process). No request is made yet."""
    return boto3.session.Session().client("s3", **client_options(settings))


def ensure_buckets(s3: Any, names: Iterable[str]) -> list[str]:
    """Create the buckets that do not exist yet; returns the ones created.

    Idempotent: a bucket this account already owns is left as it is.
    Raises botocore's ClientError for any other refusal (a name taken by another
    account, access denied) and EndpointConnectionError when S3 cannot be reached."""
    region = s3.meta.region_name
    # us-east-1 is the one region that takes no location constraint.
    where = (
        {}
        if region in (None, "us-east-1")
        else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    )
    created = []
    for name in names:
        try:
            s3.create_bucket(Bucket=name, **where)
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") != "BucketAlreadyOwnedByYou":
                raise
        else:
            created.append(name)
    return created
