"""The retention tests' settings: the session's servers, a bucket and a quiet events topic
of each module's own."""

import uuid

import pytest

from apps.core.settings.retention import RetentionSettings
from apps.local.servers import EmbeddedS3
from tests.support.retention import retention_settings
from tests.support.servers import Endpoints


@pytest.fixture(scope="module")
def settings(endpoints: Endpoints, s3: EmbeddedS3) -> RetentionSettings:
    return retention_settings(endpoints, s3, f"retention-{uuid.uuid4().hex[:8]}")
