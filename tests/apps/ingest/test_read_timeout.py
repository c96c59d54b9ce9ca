"""Slow, stalled and abandoned bodies over real sockets: 408 or 400, INFO, never a 500."""

import json
import logging
import select
import socket
import time
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import GameKey
from tests.support.factory import batch, event
from tests.support.poll import poll_until
from tests.support.servers import Endpoints, UvicornThread, ingest_settings, running_ingest

READ_TIMEOUT = 1.0


@pytest.fixture(scope="module")
def slow_ingest(endpoints: Endpoints) -> Iterator[UvicornThread]:
    settings = ingest_settings(endpoints, read_timeout=timedelta(seconds=READ_TIMEOUT))
    with running_ingest(settings) as server:
        yield server


def _connect(server: UvicornThread, game: GameKey, body: bytes) -> socket.socket:
    """A connection that has sent the headers announcing `body` and nothing of it yet."""
    url = urlsplit(server.url)
    sock = socket.create_connection((url.hostname, url.port), timeout=10)
    sock.sendall(
        b"POST /v1/events HTTP/1.1\r\nHost: ingest\r\nContent-Type: application/json\r\n"
        b"Authorization: Bearer %s\r\nContent-Length: %d\r\n\r\n" % (game.key.encode(), len(body))
    )
    return sock


def _read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body, read until the server closes the connection."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    head, _, payload = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines)}
    return int(status_line.split()[1]), headers, payload


def _requests_by_status(server: UvicornThread) -> dict[str, float]:
    text = httpx.get(server.url + "/metrics", timeout=10).text
    out = {}
    for line in text.splitlines():
        if line.startswith("gm_ingest_requests_total{"):
            labels, value = line.rsplit(" ", 1)
            out[labels.split('status="')[1].split('"')[0]] = float(value)
    return out


def _body(game_events: int = 3) -> bytes:
    return json.dumps(batch(*[event() for _ in range(game_events)])).encode()


def _no_error_logged(caplog: pytest.LogCaptureFixture) -> None:
    assert [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info] == []


def test_a_stalled_body_gets_408_after_the_read_timeout_and_the_connection_closes(
    slow_ingest: UvicornThread, game: GameKey, caplog: pytest.LogCaptureFixture
) -> None:
    before = _requests_by_status(slow_ingest)
    body = _body()
    with caplog.at_level(logging.INFO):
        sock = _connect(slow_ingest, game, body)
        started = time.monotonic()
        sock.sendall(body[: len(body) // 2])  # then nothing more
        status, headers, payload = _read_response(sock)
        waited = time.monotonic() - started
        sock.close()
    assert status == 408
    assert headers["connection"] == "close"
    assert json.loads(payload) == {
        "error": f"was not received within {READ_TIMEOUT:g} s",
        "field": "body",
    }
    assert READ_TIMEOUT <= waited < READ_TIMEOUT + 5
    after = _requests_by_status(slow_ingest)
    assert after.get("408", 0) == before.get("408", 0) + 1
    assert "500" not in after
    infos = [r for r in caplog.records if r.name == "apps.edge.body"]
    assert [(r.levelno, r.exc_info) for r in infos] == [(logging.INFO, None)]
    _no_error_logged(caplog)


def test_a_trickling_body_gets_408_however_steadily_it_trickles(
    slow_ingest: UvicornThread, game: GameKey
) -> None:
    """The timeout counts from the headers, not from the last byte: a byte every 50 ms
    for 80% of it does not put the answer off."""
    body = _body(200)
    sock = _connect(slow_ingest, game, body)
    started = time.monotonic()
    sent = 0
    # Pacing, not waiting for work. The trickle stops short of the timeout so that no byte
    # reaches a connection the server has closed (that would reset it, answer unread).
    while time.monotonic() - started < 0.8 * READ_TIMEOUT:
        assert not select.select([sock], [], [], 0.05)[0], "answered before the timeout"
        sock.sendall(body[sent : sent + 1])
        sent += 1
    status, _, payload = _read_response(sock)
    waited = time.monotonic() - started
    sock.close()
    assert (status, json.loads(payload)["field"]) == (408, "body")
    # An idle timeout would answer a timeout after the last byte, at 1.8 s or later.
    assert READ_TIMEOUT <= waited < 1.8 * READ_TIMEOUT  # the earliest an idle timeout could answer
    assert sent < len(body)


def test_a_client_gone_mid_body_is_a_400_logged_at_info_not_a_500(
    slow_ingest: UvicornThread, game: GameKey, caplog: pytest.LogCaptureFixture
) -> None:
    before = _requests_by_status(slow_ingest)
    body = _body()
    with caplog.at_level(logging.INFO):
        sock = _connect(slow_ingest, game, body)
        sock.sendall(body[: len(body) // 2])
        sock.close()
        poll_until(
            lambda: _requests_by_status(slow_ingest).get("400", 0) == before.get("400", 0) + 1,
            timeout=10,
            what="the abandoned request to be counted",
        )
    after = _requests_by_status(slow_ingest)
    assert "500" not in after
    assert after.get("408", 0) == before.get("408", 0)
    gone = [r for r in caplog.records if r.name == "apps.edge.body"]
    assert len(gone) == 1
    assert (gone[0].levelno, gone[0].exc_info) == (logging.INFO, None)
    assert "client went away" in gone[0].getMessage()
    _no_error_logged(caplog)


def test_a_body_within_the_timeout_is_still_accepted(
    slow_ingest: UvicornThread, game: GameKey
) -> None:
    r = httpx.post(
        slow_ingest.url + "/v1/events",
        content=_body(),
        headers={**game.auth, "Content-Type": "application/json"},
        timeout=10,
    )
    assert (r.status_code, r.json()["accepted"]) == (202, 3)
