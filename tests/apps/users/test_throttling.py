"""Login throttling against password guessing: per account and per client address."""

from datetime import timedelta

import httpx
import psycopg

from apps.store import logins
from tests.support.servers import Endpoints, UvicornThread
from tests.support.users import PASSWORD, log_in, new_account, running_users, users_settings


def _refused(r: httpx.Response) -> int:
    assert r.status_code == 429, r.text
    assert "too many failed logins" in r.json()["error"]
    wait = int(r.headers["Retry-After"])
    assert 0 < wait <= 15 * 60
    return wait


def test_an_account_is_locked_after_its_failures_even_for_the_right_password(
    users: UvicornThread, endpoints: Endpoints
) -> None:
    _, email = new_account(endpoints.postgres_dsn)
    for _ in range(5):  # the default: five failures per account per window
        assert log_in(users.url, email, "a wrong password!!").status_code == 401
    wait = _refused(log_in(users.url, email, PASSWORD))
    assert wait > 14 * 60  # the window opened moments ago
    _refused(log_in(users.url, email.upper(), PASSWORD))  # any case of the email
    # Another account from the same address still logs in (the tests' address limit is high).
    _, other = new_account(endpoints.postgres_dsn)
    assert log_in(users.url, other).status_code == 201


def test_an_address_is_slowed_down_across_accounts_until_its_window_ends(
    endpoints: Endpoints,
) -> None:
    window = timedelta(minutes=10)  # far longer than the test: no failure ages out on its own
    settings = users_settings(
        endpoints, login_failures_per_address=3, login_failures_per_account=100,
        login_window=window,
    )  # fmt: skip
    address = logins.Limit("address", "127.0.0.1", 3, window)
    with psycopg.connect(endpoints.postgres_dsn, autocommit=True) as conn:
        # Every test logs in from 127.0.0.1: start from a clean count for it.
        logins.clear(conn, address)
    with running_users(settings) as server:
        for n in range(3):
            _, email = new_account(endpoints.postgres_dsn)
            assert log_in(server.url, email, f"wrong password {n}").status_code == 401
        _, innocent = new_account(endpoints.postgres_dsn)
        wait = _refused(log_in(server.url, innocent))
        assert 9 * 60 < wait <= 10 * 60  # what is left of the address's window
        # The window closes: moved into the past instead of waited for.
        with psycopg.connect(endpoints.postgres_dsn, autocommit=True) as conn:
            moved = conn.execute(
                "UPDATE login_failures SET window_start = window_start - %s"
                " WHERE scope = 'address' AND subject = '127.0.0.1'",
                (window,),
            ).rowcount
        assert moved == 1
        r = log_in(server.url, innocent)
        assert r.status_code == 201, r.text
