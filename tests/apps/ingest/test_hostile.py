"""The hostile-client review's findings over real HTTP: each a 4xx naming field and reason,
where each was a 500 or a 202 followed by a dead letter."""

import json
from typing import Any

import httpx
import pytest

from apps.core import limits
from tests.conftest import GameKey
from tests.support.factory import batch, event


def _post(client: httpx.Client, game: GameKey, content: bytes) -> httpx.Response:
    return client.post(
        "/v1/events", content=content, headers={**game.auth, "Content-Type": "application/json"}
    )


def _with(raw_fields: bytes, etype: str = "design", **fields: Any) -> bytes:
    """A valid event as JSON text, with `raw_fields` (JSON text) spliced in."""
    text = json.dumps(event(etype, **fields)).encode()
    return b'{"events": [%s, %s]}' % (text[:-1] + b", " + raw_fields + b"}", text)


def _deep(levels: int) -> bytes:
    return b'{"n":' * (levels - 1) + b"{}" + b"}" * (levels - 1)


@pytest.mark.parametrize(
    ("body", "field", "fragment"),
    [
        (_with(b'"timestamp": "9999-12-31T23:59:59-23:59"'), "timestamp", "out of range"),
        (_with(b'"timestamp": "0001-01-01T00:00:00+23:59"'), "timestamp", "out of range"),
        (_with(b'"properties": {"n": 1e400, "pad": "%s"}' % (b"x" * 400)), "properties",
         "beyond a 64-bit float"),
        (_with(b'"properties": {"n": %s}' % (b"9" * 5000)), "properties", "beyond a 64-bit"),
        (_with(b'"properties": {"n": 1e999999}'), "properties", "beyond a 64-bit float"),
        (_with(b'"properties": %s' % _deep(limits.MAX_PROPERTIES_DEPTH + 1)), "properties",
         "levels deep"),
        (_with(b'"amount": 1e308', "purchase"), "amount", "at most 1e+12"),
        (_with(b'"duration_seconds": 1e308', "session_end"), "duration_seconds", "30 days"),
        (_with(b'"level": 2147483648', "progression"), "level", "0..2147483647"),
        (_with(b'"country": "XX"'), "country", "not an assigned ISO 3166-1"),
        (_with(b'"player_id": "p\\u0007"'), "player_id", "control characters"),
        (_with(b'"session_id": "s\\n1"', "session_start"), "session_id", "control characters"),
    ],
)  # fmt: skip
def test_each_finding_is_rejected_with_its_field_while_the_rest_is_accepted(
    client: httpx.Client, game: GameKey, body: bytes, field: str, fragment: str
) -> None:
    r = _post(client, game, body)
    assert r.status_code == 202, r.text
    [rejection] = r.json()["rejected"]
    assert (r.json()["accepted"], rejection["index"], rejection["field"]) == (1, 0, field)
    assert fragment in rejection["error"]


@pytest.mark.parametrize(
    ("body", "field", "fragment"),
    [
        (b'{"events": [%s]}' % (b"[" * 5000 + b"]" * 5000), "body", "nested too deeply"),
        (b'{"events": [{"properties": %s}]}' % (b'{"a":' * 3000 + b"1" + b"}" * 3000), "body",
         "nested too deeply"),
        (json.dumps(batch(event(), sent_at="0001-01-01T00:00:00+23:59")).encode(), "sent_at",
         "out of range"),
        (json.dumps(batch(event(), sent_at="9999-12-31T23:59:59-23:59")).encode(), "sent_at",
         "out of range"),
    ],
)  # fmt: skip
def test_unusable_requests_are_400_with_field_and_reason(
    client: httpx.Client, game: GameKey, body: bytes, field: str, fragment: str
) -> None:
    r = _post(client, game, body)
    assert r.status_code == 400, r.text
    assert (r.json()["accepted"], r.json()["rejected"], r.json()["field"]) == (0, [], field)
    assert fragment in r.json()["error"]
