"""A service's settings for a command run beside it: its contract's GAMEMETRICS_* variables,
completed from the local platform's endpoints.json (what `gamemetrics dev` publishes).

The environment wins: with GAMEMETRICS_POSTGRES_DSN (and the rest) set, the command
targets that deployment whatever runs locally.
"""

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from apps.core import buckets
from apps.core.services import Service
from apps.core.settings import for_service
from apps.core.settings.contract import Wire
from apps.core.settings.s3 import S3Settings
from apps.local.platform import read_endpoints

_PUBLISHED: Final = {
    "postgres_dsn": Wire.POSTGRES_DSN,
    "kafka_bootstrap": Wire.KAFKA_BOOTSTRAP,
    "redis_url": Wire.REDIS_URL,
    "s3_endpoint": Wire.S3_ENDPOINT,
    "archive_bucket": Wire.ARCHIVE_BUCKET,
}


def _platform_env(contract: Any, data_dir: Path, env: Mapping[str, str]) -> dict[str, str]:
    """`env` over what the local platform in `data_dir` wires for `contract`."""
    from apps.local.servers import S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY

    endpoints = read_endpoints(data_dir) or {}
    wires = {wire: endpoints[key] for key, wire in _PUBLISHED.items() if endpoints.get(key)}
    if endpoints.get("s3_credentials") == "embedded":
        wires |= {
            Wire.S3_ACCESS_KEY_ID: S3_ACCESS_KEY_ID,
            Wire.S3_SECRET_ACCESS_KEY: S3_SECRET_ACCESS_KEY,
        }
    return {**contract.wire(wires, complete=False), **env}


def service_settings(service: Service, data_dir: Path) -> Any:
    """The settings `service` would run with (ConfigError naming what is missing)."""
    contract = for_service(service)
    return contract.from_env(_platform_env(contract, data_dir, os.environ))


def archive_settings(data_dir: Path, env: Mapping[str, str] = os.environ) -> tuple[S3Settings, str]:
    """How a command reaches the archive, as the retention service would (its S3 section and
    bucket), needing nothing else of its contract (no Kafka, no database)."""
    from apps.core.settings.retention import RetentionSettings

    merged = _platform_env(RetentionSettings, data_dir, env)
    bucket = merged.get(RetentionSettings.key("archive_bucket"), buckets.ARCHIVE.local_name)
    return S3Settings.from_env(merged), bucket
