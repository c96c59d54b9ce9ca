"""The S3 client's options (pure) and its behaviour when S3 is down."""

import re
import time
from datetime import timedelta

import pytest
from botocore.exceptions import EndpointConnectionError

from apps.core.errors import ConfigError
from apps.core.settings.s3 import S3Settings
from apps.local.process import free_port
from apps.s3.client import client, client_options, ensure_buckets


def test_a_local_endpoint_gets_path_style_its_keys_and_a_region() -> None:
    options = client_options(
        S3Settings(endpoint="http://127.0.0.1:9000", access_key_id="k", secret_access_key="s")
    )
    assert options["endpoint_url"] == "http://127.0.0.1:9000"
    assert options["region_name"] == "us-east-1"
    assert (options["aws_access_key_id"], options["aws_secret_access_key"]) == ("k", "s")
    assert options["config"].s3 == {"addressing_style": "path"}


def test_aws_uses_the_default_chain_with_bounded_timeouts_and_retries() -> None:
    options = client_options(S3Settings.from_env({"GAMEMETRICS_S3_REGION": "eu-west-1"}))
    assert "endpoint_url" not in options
    assert "aws_access_key_id" not in options
    assert options["region_name"] == "eu-west-1"
    config = options["config"]
    assert (config.connect_timeout, config.read_timeout) == (5.0, 30.0)
    assert config.retries == {"mode": "standard", "max_attempts": 5}


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("ftp://h", "must be an http:// or https:// URL"),
        ("http://", "must be an http:// or https:// URL"),
        ("http://h/bucket", "scheme://host[:port] only"),
        ("http://k:s@h", "scheme://host[:port] only"),
        ("http://h:port", "is not a URL"),
    ],
)
def test_a_bad_endpoint_names_the_variable(raw: str, reason: str) -> None:
    with pytest.raises(ConfigError, match=f"GAMEMETRICS_S3_ENDPOINT=.*{re.escape(reason)}"):
        S3Settings.from_env({"GAMEMETRICS_S3_ENDPOINT": raw})


def test_credentials_come_in_pairs() -> None:
    with pytest.raises(ConfigError, match="GAMEMETRICS_S3_SECRET_ACCESS_KEY"):
        S3Settings.from_env({"GAMEMETRICS_S3_ACCESS_KEY_ID": "k"})


def test_s3_down_fails_fast_instead_of_hanging() -> None:
    down = S3Settings(
        endpoint=f"http://127.0.0.1:{free_port()}", access_key_id="k", secret_access_key="s",
        connect_timeout=timedelta(seconds=0.5), max_attempts=2,
    )  # fmt: skip
    started = time.monotonic()
    with pytest.raises(EndpointConnectionError):
        ensure_buckets(client(down), ["never"])
    assert time.monotonic() - started < 10
