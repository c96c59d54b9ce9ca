"""The S3 section: one declaration of the variables, credentials secret, values round-trip."""

from datetime import timedelta

import pytest

from apps.core.errors import ConfigError
from apps.core.settings.contract import Wire
from apps.core.settings.s3 import S3Settings


def test_credentials_are_secret_and_the_platform_wires_endpoint_and_keys() -> None:
    by_key = {v.key: v for v in S3Settings.variables()}
    assert by_key["GAMEMETRICS_S3_ACCESS_KEY_ID"].secret
    assert by_key["GAMEMETRICS_S3_SECRET_ACCESS_KEY"].secret
    assert not by_key["GAMEMETRICS_S3_ENDPOINT"].secret
    assert S3Settings.wires() == {
        Wire.S3_ENDPOINT, Wire.S3_ACCESS_KEY_ID, Wire.S3_SECRET_ACCESS_KEY,
    }  # fmt: skip
    # Nothing is required: in AWS an empty environment is a working configuration.
    assert all(v.default is not None for v in S3Settings.variables())
    wired = S3Settings.wire(
        {Wire.S3_ENDPOINT: "http://127.0.0.1:1", Wire.S3_ACCESS_KEY_ID: "k"}, secret=True
    )
    assert wired == {"GAMEMETRICS_S3_ACCESS_KEY_ID": "k"}


def test_settings_round_trip_through_the_environment() -> None:
    settings = S3Settings(
        endpoint="https://s3.example.test:9000", region="eu-west-1", access_key_id="k",
        secret_access_key="s", connect_timeout=timedelta(seconds=1.5), max_attempts=3,
    )  # fmt: skip
    assert S3Settings.from_env(settings.env()) == settings
    assert S3Settings.from_env({}) == S3Settings()


@pytest.mark.parametrize(
    ("key", "raw", "reason"),
    [
        ("GAMEMETRICS_S3_MAX_ATTEMPTS", "0", "below the minimum 1"),
        ("GAMEMETRICS_S3_MAX_ATTEMPTS", "many", "not an integer"),
        ("GAMEMETRICS_S3_READ_TIMEOUT_SECONDS", "0", "below the minimum 0.1"),
        ("GAMEMETRICS_S3_CONNECT_TIMEOUT_SECONDS", "nan", "not a finite number"),
    ],
)
def test_bad_values_name_their_variable(key: str, raw: str, reason: str) -> None:
    with pytest.raises(ConfigError, match=f"{key}=.*{reason}"):
        S3Settings.from_env({key: raw})
