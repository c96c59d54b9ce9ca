"""The sender against a scripted API (httpx.MockTransport): batching, pacing, retries, refusals."""

import asyncio
import json
import time
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import httpx
import pytest

from apps.simulate import sender
from apps.simulate.model import SimEvent
from apps.simulate.sender import SendOptions, Tally


class Numbered:
    """`total` small events (endless if None), stamped with the send times asked for."""

    def __init__(self, total: int | None = None) -> None:
        self.left = total

    def take(self, times: Sequence[datetime]) -> list[SimEvent]:
        n = len(times) if self.left is None else min(len(times), self.left)
        if self.left is not None:
            self.left -= n
        return [
            SimEvent(
                {"event_id": uuid.uuid4(), "type": "ui.click", "player_id": "p", "timestamp": t},
                t,
                t,
            )
            for t in times[:n]
        ]


class API:
    """Answers with the scripted statuses in turn, then 202; records what it was sent."""

    def __init__(self, *script: int | str, retry_after: str = "0") -> None:
        self.script = list(script)
        self.retry_after = retry_after
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[httpx.Headers] = []
        self.arrivals: list[float] = []

    def ids(self, i: int) -> list[str]:
        return [e["event_id"] for e in self.bodies[i]["events"]]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.bodies.append(body)
        self.headers.append(request.headers)
        self.arrivals.append(time.monotonic())
        step = self.script.pop(0) if self.script else 202
        n = len(body["events"])
        match step:
            case "drop":
                raise httpx.ConnectError("connection refused", request=request)
            case 202:
                return httpx.Response(202, json={"accepted": n, "rejected": []})
            case 400:
                rejected = [
                    {"index": i, "field": "timestamp", "error": "too old"} for i in range(n)
                ]
                return httpx.Response(400, json={"accepted": 0, "rejected": rejected})
            case 429 | 503:
                headers = {"Retry-After": self.retry_after}
                return httpx.Response(int(step), json={"error": "busy"}, headers=headers)
        return httpx.Response(int(step), json={"error": "refused", "field": "Authorization"})


def run(traffic: Numbered, api: API, **options: Any) -> Tally:
    opts = SendOptions(url="http://api.test/", key="gmk_test", **{"rate": 10_000.0, **options})
    tally = asyncio.run(sender.send(traffic, opts, transport=httpx.MockTransport(api)))
    assert tally.sent == tally.accepted + tally.rejected + tally.failed
    return tally


def test_events_go_out_in_batches_with_the_key_and_a_client_clock() -> None:
    api = API()
    tally = run(Numbered(250), api, batch_size=100)
    assert (tally.sent, tally.accepted, tally.requests, tally.ok) == (250, 250, 3, True)
    assert [len(b["events"]) for b in api.bodies] == [100, 100, 50]
    assert api.headers[0]["authorization"] == "Bearer gmk_test"
    assert api.headers[0]["content-type"] == "application/json"
    assert all(datetime.fromisoformat(b["sent_at"]).tzinfo for b in api.bodies)
    ids = [i for n in range(3) for i in api.ids(n)]
    assert len(set(ids)) == 250


def test_429_and_503_resend_the_same_batch_after_retry_after() -> None:
    api = API(429, 503, retry_after="1")
    tally = run(Numbered(50), api)
    assert (tally.accepted, tally.retries, tally.ok) == (50, 2, True)
    assert api.ids(0) == api.ids(1) == api.ids(2)
    assert api.arrivals[2] - api.arrivals[0] >= 1.9
    sent_at = [datetime.fromisoformat(b["sent_at"]) for b in api.bodies]
    assert sent_at[0] < sent_at[1] < sent_at[2]  # each attempt says when it was sent


def test_network_errors_are_retried_with_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sender, "BACKOFF_SECONDS", (0.01, 0.05))
    api = API("drop", "drop")
    tally = run(Numbered(30), api)
    assert (tally.accepted, tally.retries, tally.ok) == (30, 2, True)
    assert api.ids(0) == api.ids(2)


def test_a_batch_is_given_up_after_max_attempts() -> None:
    tally = run(Numbered(30), API(503, 503, 503), max_attempts=3)
    assert (tally.accepted, tally.failed, tally.ok) == (0, 30, False)
    [(problem, batches)] = tally.failures.items()
    assert batches == 1
    assert "gave up after 3 attempts" in problem
    assert "503" in problem


def test_rejected_events_are_counted_with_their_reasons() -> None:
    tally = run(Numbered(120), API(400), batch_size=100)
    assert (tally.accepted, tally.rejected, tally.ok) == (20, 100, False)
    assert dict(tally.reasons) == {("timestamp", "too old"): 100}


def test_a_batch_too_large_is_split() -> None:
    api = API(413)
    tally = run(Numbered(100), api)
    assert (tally.accepted, tally.ok) == (100, True)
    assert [len(b["events"]) for b in api.bodies] == [100, 50, 50]


def test_a_refused_key_stops_the_run_at_once() -> None:
    api = API(401)
    started = time.monotonic()
    tally = run(Numbered(), api, rate=1000.0, duration=10.0)
    assert time.monotonic() - started < 3
    assert tally.aborted is not None
    assert "HTTP 401" in tally.aborted
    assert tally.aborted.startswith("POST http://api.test/v1/events")
    assert (tally.accepted, tally.ok) == (0, False)
    assert tally.failed == tally.sent > 0


def test_traffic_is_paced_to_the_rate_and_progress_is_reported() -> None:
    api = API()
    seen: list[int] = []
    opts = SendOptions(
        url="http://api.test", key="gmk_test", rate=200, duration=1.0, batch_size=20,
        progress_seconds=0.2,
    )  # fmt: skip
    tally = asyncio.run(
        sender.send(
            Numbered(), opts, progress=lambda t: seen.append(t.sent),
            transport=httpx.MockTransport(api),
        )
    )  # fmt: skip
    assert 150 <= tally.sent <= 201
    assert tally.accepted == tally.sent
    assert api.arrivals[-1] - api.arrivals[0] >= 0.7  # spread over the second, not one burst
    stamps = [datetime.fromisoformat(e["timestamp"]) for b in api.bodies for e in b["events"]]
    assert stamps == sorted(stamps)
    assert (stamps[-1] - stamps[0]).total_seconds() == pytest.approx(
        (len(stamps) - 1) / 200, abs=0.01
    )
    assert len(seen) >= 3
    assert seen == sorted(seen)
