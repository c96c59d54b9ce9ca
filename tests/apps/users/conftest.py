"""The users API on real HTTP, shared by the package's tests (they isolate by game)."""

from collections.abc import Iterator

import pytest

from tests.support.servers import Endpoints, UvicornThread
from tests.support.users import running_users, users_settings


@pytest.fixture(scope="session")
def users(endpoints: Endpoints) -> Iterator[UvicornThread]:
    with running_users(users_settings(endpoints)) as server:
        yield server
