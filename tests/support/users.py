"""The users API on real HTTP for tests, accounts with roles, and logging in."""

import uuid
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from typing import Any

import httpx
import psycopg

from apps.core.roles import Role
from apps.core.settings.users import UsersSettings
from apps.store import accounts, passwords
from apps.users.app import create_app
from tests.support.servers import Endpoints, UvicornThread, serving

PASSWORD = "a long enough test password"
# One hash for every test account: argon2id is slow on purpose, and the tests make many.
_HASH = passwords.hash_password(PASSWORD)


def users_settings(endpoints: Endpoints, **overrides: object) -> UsersSettings:
    # Every test client is 127.0.0.1: the per-address limit is tested with its own server.
    base = UsersSettings(
        postgres_dsn=endpoints.postgres_dsn,
        kafka_bootstrap=endpoints.kafka_bootstrap,
        pool_size=4,
        login_failures_per_address=100_000,
        # Privacy jobs run only on the servers of the tests about them (their processor).
        privacy_runners=0,
    )
    return replace(base, **overrides)  # type: ignore[arg-type]


def running_users(settings: UsersSettings) -> AbstractContextManager[UvicornThread]:
    return serving(create_app(settings))


@dataclass(frozen=True)
class Person:
    account_id: uuid.UUID
    email: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def new_account(dsn: str, roles: dict[uuid.UUID, Role] | None = None) -> tuple[uuid.UUID, str]:
    email = f"person-{uuid.uuid4().hex[:10]}@example.com"
    with psycopg.connect(dsn) as conn:
        account = accounts.create_account(conn, email, "Test Person", _HASH)
        for game_id, role in (roles or {}).items():
            accounts.set_role(conn, game_id, account.account_id, role)
    return account.account_id, email


def log_in(url: str, email: str, password: str = PASSWORD) -> httpx.Response:
    return httpx.post(url + "/v1/sessions", json={"email": email, "password": password}, timeout=30)


def person(url: str, dsn: str, roles: dict[uuid.UUID, Role] | None = None) -> Person:
    """A new account with `roles`, logged in."""
    account_id, email = new_account(dsn, roles)
    r = log_in(url, email)
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return Person(account_id, email, body["token"])
