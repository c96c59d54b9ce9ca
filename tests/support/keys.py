"""Waiting for a running ingestion API to learn that a key was revoked or rotated."""

from collections.abc import Callable

import httpx

from tests.support.poll import poll_until


def refused_soon(attempt: Callable[[], httpx.Response], *, timeout: float = 15) -> httpx.Response:
    """Repeat `attempt` (a request made with the old key) until it is answered 401.

    The API learns of a revocation by PostgreSQL NOTIFY, delivered a moment
    after the commit: a request sent in between is still accepted.
    """
    answers: list[httpx.Response] = []

    def refused() -> bool:
        answers.append(attempt())
        return answers[-1].status_code == 401

    poll_until(refused, timeout=timeout, what="the revoked key to be refused")
    return answers[-1]
