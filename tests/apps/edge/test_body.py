"""The body guard's read timeout and a client gone mid-body: 4xx, INFO, no traceback."""

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest
from starlette.requests import ClientDisconnect

from apps.edge.body import read_body
from apps.edge.errors import BodyTimeout, ClientGone
from apps.edge.responses import input_error_response


async def _stalls_after(first: bytes) -> AsyncIterator[bytes]:
    yield first
    await asyncio.Event().wait()  # the rest never comes
    yield b""


async def _trickles() -> AsyncIterator[bytes]:
    while True:  # a byte every 10 ms: never idle, never done
        yield b"x"
        await asyncio.sleep(0.01)


async def _disconnects_after(first: bytes) -> AsyncIterator[bytes]:
    yield first
    raise ClientDisconnect


@pytest.mark.parametrize("trickle", [False, True])
def test_a_body_not_complete_within_the_read_timeout_is_a_body_timeout(
    trickle: bool, caplog: pytest.LogCaptureFixture
) -> None:
    chunks = _trickles() if trickle else _stalls_after(b'{"events"')
    with (
        caplog.at_level(logging.INFO, logger="apps.edge.body"),
        pytest.raises(BodyTimeout) as info,
    ):
        asyncio.run(read_body(chunks, limit=1 << 20, content_length=None, read_timeout=0.2))
    assert (info.value.field, info.value.reason) == ("body", "was not received within 0.2 s")
    [record] = caplog.records
    assert (record.levelno, record.exc_info) == (logging.INFO, None)
    assert "incomplete after 0.2 s" in record.getMessage()
    response = input_error_response(info.value)
    assert response.status_code == 408
    assert response.headers["connection"] == "close"
    assert response.body == b'{"error":"was not received within 0.2 s","field":"body"}'


def test_a_client_gone_mid_body_is_client_gone(caplog: pytest.LogCaptureFixture) -> None:
    with (
        caplog.at_level(logging.INFO, logger="apps.edge.body"),
        pytest.raises(ClientGone) as info,
    ):
        asyncio.run(read_body(_disconnects_after(b"12345"), limit=100, content_length="10"))
    assert info.value.field == "body"
    [record] = caplog.records
    assert (record.levelno, record.exc_info) == (logging.INFO, None)
    assert "after 5 bytes" in record.getMessage()
    assert input_error_response(info.value).status_code == 400
