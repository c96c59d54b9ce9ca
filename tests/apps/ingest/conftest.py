"""A processor for the ingestion tests that follow accepted events into PostgreSQL."""

import pytest

from tests.support.processor import module_processor

processor = pytest.fixture(scope="module", name="processor")(module_processor)
