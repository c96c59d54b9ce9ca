"""One processor for the processor tests, consuming the session's shared events topic."""

import pytest

from tests.support.processor import module_processor

processor = pytest.fixture(scope="module", name="processor")(module_processor)
