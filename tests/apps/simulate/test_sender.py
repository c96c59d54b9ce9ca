"""The sender against the real ingestion API: batching, pacing, retries, refusals.

Every answer the sender handles is one the API really gives: 413 for more than
1,000 events, 400 with each event's reason, 429 from a game's token bucket,
503 while the broker is down, 401 for an unknown key, and connection errors
while nothing listens yet. What was accepted is read back from Kafka.
"""

import asyncio
import itertools
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from apps.kafka.admin import ensure_topics
from apps.local.process import free_port
from apps.local.servers import Tansu
from apps.simulate import sender
from apps.simulate.model import SimEvent
from apps.simulate.sender import SendOptions, Tally
from tests.conftest import GameKey, new_game
from tests.support.poll import poll_until
from tests.support.servers import Endpoints, UvicornThread, ingest_settings, running_ingest
from tests.support.topic import events_of_game


class Numbered:
    """`total` small events (endless if None), stamped with the send times asked for; the
    first `invalid` have an empty player id, which the API rejects."""

    def __init__(self, total: int | None = None, *, invalid: int = 0) -> None:
        self.left = total
        self.invalid = invalid
        self.ids: list[str] = []

    def take(self, times: Sequence[datetime]) -> list[SimEvent]:
        n = len(times) if self.left is None else min(len(times), self.left)
        if self.left is not None:
            self.left -= n
        out = []
        for t in times[:n]:
            player = "" if len(self.ids) < self.invalid else "p"
            self.ids.append(str(uuid.uuid4()))
            body = {
                "event_id": self.ids[-1],
                "type": "ui.click",
                "player_id": player,
                "timestamp": t,
            }
            out.append(SimEvent(body, t, t))
        return out


def options(url: str, key: str, **overrides: Any) -> SendOptions:
    return SendOptions(url=url, key=key, **{"rate": 10_000.0, **overrides})


def run(traffic: Numbered, opts: SendOptions) -> Tally:
    tally = asyncio.run(sender.send(traffic, opts))
    assert tally.sent == tally.accepted + tally.rejected + tally.failed
    return tally


class Background:
    """The sender on a thread of its own, so the test can change the world meanwhile."""

    def __init__(self, traffic: Numbered, opts: SendOptions) -> None:
        self.retried = threading.Event()
        self.result: list[Tally] = []

        def progress(tally: Tally) -> None:
            if tally.retries:
                self.retried.set()

        def send() -> None:
            self.result.append(asyncio.run(sender.send(traffic, opts, progress=progress)))

        self.thread = threading.Thread(target=send, daemon=True)
        self.thread.start()

    def wait_for_a_retry(self) -> None:
        poll_until(self.retried.is_set, timeout=30, what="the sender to retry")

    def finish(self, timeout: float = 90) -> Tally:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), f"the sender did not finish within {timeout} s"
        [tally] = self.result
        assert tally.sent == tally.accepted + tally.rejected + tally.failed
        return tally


def stored_ids(bootstrap: str, game: GameKey) -> list[str]:
    return [str(e.event_id) for e in events_of_game(bootstrap, game.game_id)]


def test_events_go_out_in_batches_with_the_key_and_a_client_clock(
    ingest: UvicornThread, game: GameKey, endpoints: Endpoints
) -> None:
    traffic = Numbered(250)
    tally = run(traffic, options(ingest.url + "/", game.key, batch_size=100))
    assert (tally.sent, tally.accepted, tally.requests, tally.ok) == (250, 250, 3, True)
    stored = events_of_game(endpoints.kafka_bootstrap, game.game_id)
    assert sorted(str(e.event_id) for e in stored) == sorted(traffic.ids)
    # Each request carried sent_at, so the API corrected a clock skew of about nothing
    # (the time between stamping the request and receiving it).
    assert all(timedelta(0) <= e.event_time - e.client_time < timedelta(seconds=1) for e in stored)


def test_429_resends_the_same_batch_after_retry_after(
    ingest: UvicornThread, endpoints: Endpoints
) -> None:
    """100 events/s, a bucket of 1,000: 1,400 events at once drain it, then batches are
    refused with Retry-After 1 and resent until the bucket has refilled enough."""
    game = new_game(endpoints.postgres_dsn, rate_limit_eps=100)
    traffic = Numbered(1_400)
    tally = run(traffic, options(ingest.url, game.key, max_attempts=30))
    assert (tally.accepted, tally.ok) == (1_400, True)
    assert tally.retries >= 1
    assert tally.elapsed >= 1.0  # at least one Retry-After was waited out
    # Refused requests produced nothing; resent ones the same ids, each once.
    stored = events_of_game(endpoints.kafka_bootstrap, game.game_id)
    assert sorted(str(e.event_id) for e in stored) == sorted(traffic.ids)
    # Every attempt stamped its own sent_at: a resend stamped with the first attempt's
    # clock would look a second or more behind.
    assert max(e.event_time - e.client_time for e in stored) < timedelta(seconds=1)


def test_503_while_the_broker_is_down_is_resent_once_it_is_back(
    endpoints: Endpoints, own_broker: Tansu
) -> None:
    game = new_game(endpoints.postgres_dsn)
    traffic = Numbered(50)
    settings = ingest_settings(endpoints, kafka_bootstrap=own_broker.url)
    with running_ingest(settings) as server:
        own_broker.stop(5)
        background = Background(traffic, options(server.url, game.key, max_attempts=60))
        background.wait_for_a_retry()
        own_broker.start()
        ensure_topics(own_broker.url, "local")
        tally = background.finish()
    assert (tally.accepted, tally.ok) == (50, True)
    assert tally.retries >= 1
    assert tally.elapsed >= 1.0  # Retry-After: 1
    # The broker came back empty: what it holds is what was acknowledged after it did.
    assert sorted(stored_ids(own_broker.url, game)) == sorted(traffic.ids)


def test_network_errors_are_retried_with_backoff(
    endpoints: Endpoints, game: GameKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sender, "BACKOFF_SECONDS", (0.05, 0.5))
    port = free_port()
    traffic = Numbered(30)
    background = Background(
        traffic,
        options(f"http://127.0.0.1:{port}", game.key, max_attempts=200, progress_seconds=0.05),
    )
    background.wait_for_a_retry()  # nothing listens on the port yet: connection refused
    with running_ingest(ingest_settings(endpoints), port=port):
        tally = background.finish()
    assert (tally.accepted, tally.ok) == (30, True)
    assert tally.retries >= 1
    assert sorted(stored_ids(endpoints.kafka_bootstrap, game)) == sorted(traffic.ids)


@contextmanager
def broker_unreachable(endpoints: Endpoints) -> Iterator[UvicornThread]:
    nowhere = f"127.0.0.1:{free_port()}"
    settings = ingest_settings(
        endpoints, kafka_bootstrap=nowhere, delivery_timeout=timedelta(seconds=0.5)
    )
    with running_ingest(settings) as server:
        yield server


def test_a_batch_is_given_up_after_max_attempts(endpoints: Endpoints, game: GameKey) -> None:
    with broker_unreachable(endpoints) as server:
        tally = run(Numbered(30), options(server.url, game.key, max_attempts=3))
    assert (tally.accepted, tally.failed, tally.retries, tally.ok) == (0, 30, 2, False)
    [(problem, batches)] = tally.failures.items()
    assert batches == 1
    assert problem.startswith("gave up after 3 attempts; last: HTTP 503: ")
    assert "nothing was accepted" in problem


def test_rejected_events_are_counted_with_their_reasons(
    ingest: UvicornThread, game: GameKey, endpoints: Endpoints
) -> None:
    traffic = Numbered(120, invalid=100)
    tally = run(traffic, options(ingest.url, game.key, batch_size=100))
    assert (tally.accepted, tally.rejected, tally.requests, tally.ok) == (20, 100, 2, False)
    assert dict(tally.reasons) == {("player_id", "must be a string of 1..128 characters"): 100}
    assert sorted(stored_ids(endpoints.kafka_bootstrap, game)) == sorted(traffic.ids[100:])


def test_a_batch_too_large_is_split(
    ingest: UvicornThread, game: GameKey, endpoints: Endpoints
) -> None:
    traffic = Numbered(1_500)
    tally = run(traffic, options(ingest.url, game.key, batch_size=1_500))
    # 413 for more than 1,000 events, then two halves of 750.
    assert (tally.accepted, tally.requests, tally.retries, tally.ok) == (1_500, 3, 0, True)
    assert sorted(stored_ids(endpoints.kafka_bootstrap, game)) == sorted(traffic.ids)


def test_a_refused_key_stops_the_run_at_once(ingest: UvicornThread, game: GameKey) -> None:
    wrong = "gmk_" + "x" * 43
    # An hour of endless traffic: returning at all shows the first 401 ended the run.
    tally = run(Numbered(), options(ingest.url + "/", wrong, rate=1000.0, duration=3600.0))
    assert tally.aborted is not None
    assert "HTTP 401" in tally.aborted
    assert "unknown or revoked ingest key" in tally.aborted
    assert tally.aborted.startswith(f"POST {ingest.url}/v1/events: ")
    assert (tally.accepted, tally.ok) == (0, False)
    assert tally.failed == tally.sent > 0


def test_traffic_is_paced_to_the_rate_and_progress_is_reported(
    ingest: UvicornThread, game: GameKey, endpoints: Endpoints
) -> None:
    seen: list[int] = []
    opts = options(
        ingest.url, game.key, rate=200, duration=1.0, batch_size=20, progress_seconds=0.1
    )
    tally = asyncio.run(sender.send(Numbered(), opts, progress=lambda t: seen.append(t.sent)))
    # Never above the rate; below it only if a slow machine held the pacing back.
    assert 0 < tally.sent <= 201
    assert tally.accepted == tally.sent
    stored = sorted(
        events_of_game(endpoints.kafka_bootstrap, game.game_id), key=lambda e: e.client_time
    )
    assert len(stored) == tally.sent
    stamps = [e.client_time for e in stored]
    assert all(
        b - a >= timedelta(seconds=1 / 200) - timedelta(microseconds=2)
        for a, b in itertools.pairwise(stamps)
    )
    # Paced, not one burst: no event reached the API before the time it was due.
    assert all(e.received_at >= e.client_time - timedelta(milliseconds=5) for e in stored)
    assert len(seen) >= 2  # a run of over a second, reported every 0.1 s
    assert seen == sorted(seen)
    assert seen[-1] <= tally.sent


def _answer(retry_after: str | None) -> httpx.Response:
    headers = {} if retry_after is None else {"Retry-After": retry_after}
    return httpx.Response(429, headers=headers)


def test_retry_after_in_seconds_or_as_a_date_within_bounds() -> None:
    """What the API does not send (an HTTP date, nonsense) is still read safely."""
    assert sender._retry_after(_answer("3")) == 3.0
    assert sender._retry_after(_answer("0.5")) == 0.5
    assert sender._retry_after(_answer("-4")) == 0.0
    assert sender._retry_after(_answer("86400")) == sender.MAX_RETRY_AFTER_SECONDS
    assert sender._retry_after(_answer(None)) == 1.0
    assert sender._retry_after(_answer("soon")) == 1.0
    assert sender._retry_after(_answer("Wed, 21 Oct 2015 07:28:00 GMT")) == 0.0  # past
