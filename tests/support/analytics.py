"""The analytics API on real HTTP for tests, analyst tokens, and a small GraphQL client."""

import uuid
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import httpx
import psycopg

from apps.analytics.app import create_app
from apps.core.settings.analytics import AnalyticsSettings
from apps.store import tokens
from tests.support.servers import Endpoints, UvicornThread, serving


def analytics_settings(endpoints: Endpoints, **overrides: object) -> AnalyticsSettings:
    base = AnalyticsSettings(
        postgres_dsn=endpoints.postgres_dsn,
        redis_url=endpoints.redis_url,
        pool_size=4,
        statement_timeout=timedelta(seconds=10),
    )
    return replace(base, **overrides)  # type: ignore[arg-type]


def running_analytics(settings: AnalyticsSettings) -> AbstractContextManager[UvicornThread]:
    return serving(create_app(settings))


@dataclass(frozen=True)
class AnalystToken:
    token_id: uuid.UUID
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def analyst_token(dsn: str, game_ids: Sequence[uuid.UUID] | None) -> AnalystToken:
    """A token for `game_ids`, or for all games when None."""
    with psycopg.connect(dsn) as conn:
        issued = tokens.create_token(conn, f"test-{uuid.uuid4().hex[:8]}", game_ids)
    return AnalystToken(issued.token_id, issued.token)


def graphql(
    url: str, query: str, token: AnalystToken | None, variables: dict[str, Any] | None = None
) -> httpx.Response:
    """POST a query to `<url>/graphql` with the token's Authorization header."""
    headers = token.auth if token is not None else {}
    body: dict[str, Any] = {"query": query}
    if variables is not None:
        body["variables"] = variables
    return httpx.post(url + "/graphql", json=body, headers=headers, timeout=30)


def only_error(r: httpx.Response) -> dict[str, Any]:
    """The one GraphQL error of an answer (the test fails if there are more or none)."""
    errors = r.json()["errors"]
    assert len(errors) == 1, errors
    error: dict[str, Any] = errors[0]
    return error
