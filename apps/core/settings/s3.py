"""How a service reaches S3: one section every service that needs S3 embeds.

Locally `gamemetrics dev` wires the embedded store's endpoint and credentials;
in AWS nothing but the bucket is wired, and boto3's default chain (the pod's
IRSA role, AWS_REGION) does the rest. `apps/s3/client.py` builds the client.
"""

from dataclasses import dataclass, field
from datetime import timedelta

from apps.core.errors import ConfigError
from apps.core.settings import common
from apps.core.settings.contract import Settings, env, spec_of


@dataclass(frozen=True, slots=True, kw_only=True)
class S3Settings(Settings):
    """Where S3 is and how patiently to talk to it: every call is bounded in time, so a
    slow or dead store makes the caller fail (and retry its own work), never hang."""

    endpoint: str | None = field(default=None, metadata=common.S3_ENDPOINT)
    region: str | None = field(default=None, metadata=common.S3_REGION)
    access_key_id: str | None = field(default=None, metadata=common.S3_ACCESS_KEY_ID)
    secret_access_key: str | None = field(default=None, metadata=common.S3_SECRET_ACCESS_KEY)
    connect_timeout: timedelta = field(
        default=timedelta(seconds=5),
        metadata=env("S3_CONNECT_TIMEOUT_SECONDS", "per connection attempt", minimum=0.1),
    )
    read_timeout: timedelta = field(
        default=timedelta(seconds=30),
        metadata=env(
            "S3_READ_TIMEOUT_SECONDS", "per response read (a part of a multipart upload too)",
            minimum=0.1,
        ),
    )  # fmt: skip
    max_attempts: int = field(
        default=5,
        metadata=env(
            "S3_MAX_ATTEMPTS", "tries of one call, throttling and 5xx included (standard mode)",
            minimum=1, maximum=20,
        ),
    )  # fmt: skip

    def __post_init__(self) -> None:
        if (self.access_key_id is None) != (self.secret_access_key is None):
            keys = [spec_of(m).key for m in (common.S3_ACCESS_KEY_ID, common.S3_SECRET_ACCESS_KEY)]
            raise ConfigError(
                f"S3 credentials come in pairs: set both {keys[0]} and {keys[1]}, or neither "
                "(then the AWS default chain signs requests)"
            )
