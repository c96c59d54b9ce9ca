"""A service's settings for a command run beside it: its contract's GAMEMETRICS_* variables,
completed from the local platform's endpoints.json (what `gamemetrics dev` publishes).

The environment wins: with GAMEMETRICS_POSTGRES_DSN (and the rest) set, the command
targets that deployment whatever runs locally.
"""

import os
from pathlib import Path
from typing import Any, Final

from apps.core.services import Service
from apps.core.settings import for_service
from apps.core.settings.contract import Wire
from apps.local.platform import read_endpoints

_PUBLISHED: Final = {
    "postgres_dsn": Wire.POSTGRES_DSN,
    "kafka_bootstrap": Wire.KAFKA_BOOTSTRAP,
    "redis_url": Wire.REDIS_URL,
    "s3_endpoint": Wire.S3_ENDPOINT,
    "archive_bucket": Wire.ARCHIVE_BUCKET,
}


def service_settings(service: Service, data_dir: Path) -> Any:
    """The settings `service` would run with (ConfigError naming what is missing)."""
    from apps.local.servers import S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY

    contract = for_service(service)
    endpoints = read_endpoints(data_dir) or {}
    wires = {wire: endpoints[key] for key, wire in _PUBLISHED.items() if endpoints.get(key)}
    if endpoints.get("s3_credentials") == "embedded":
        wires |= {
            Wire.S3_ACCESS_KEY_ID: S3_ACCESS_KEY_ID,
            Wire.S3_SECRET_ACCESS_KEY: S3_SECRET_ACCESS_KEY,
        }
    return contract.from_env({**contract.wire(wires, complete=False), **os.environ})
