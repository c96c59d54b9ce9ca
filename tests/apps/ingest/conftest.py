"""A processor for the ingestion tests that follow accepted events into PostgreSQL."""

from collections.abc import Iterator

import pytest

from tests.support.processor import ThreadedProcessor, processor_settings, processor_thread
from tests.support.servers import Endpoints


@pytest.fixture(scope="module")
def processor(endpoints: Endpoints) -> Iterator[ThreadedProcessor]:
    settings = processor_settings(endpoints.postgres_dsn, endpoints.kafka_bootstrap)
    with processor_thread(settings) as running:
        yield running
