"""Fixtures shared by the analytics API tests."""

import pytest

from tests.conftest import GameKey
from tests.support.analytics import AnalystToken, analyst_token
from tests.support.servers import Endpoints


@pytest.fixture
def token(endpoints: Endpoints, game: GameKey) -> AnalystToken:
    """An analyst token for the test's own game only."""
    return analyst_token(endpoints.postgres_dsn, [game.game_id])
