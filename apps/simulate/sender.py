"""Sending simulated traffic through the public ingestion API, paced and retried.

A pacing loop asks the traffic for as many events as `rate` allows so far,
batches them and hands each batch, once full or `flush_seconds` old, to one
of `concurrency` workers; when all are busy the loop waits (backpressure). A
worker resends a batch answered 429 or 503 after its Retry-After, and after
a network error or another 5xx with backoff: the same event ids go out
again, which is safe because storage is idempotent on event_id. Every
attempt carries its own `sent_at`, the client clock at send time.
"""

import asyncio
import contextlib
import math
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Final

import httpx
import msgspec

from apps.simulate.model import SimEvent, Traffic

EVENTS_PATH: Final = "/v1/events"
TICK_SECONDS: Final = 0.01
"""Shortest pause of the pacing loop."""
MAX_CATCH_UP_SECONDS: Final = 1.0
"""After the API held the loop back, at most this much of the missed pace is caught up."""
MAX_RETRY_AFTER_SECONDS: Final = 60.0
BACKOFF_SECONDS: Final = (0.5, 10.0)
FATAL_STATUSES: Final = frozenset({401, 403, 404, 405, 415})
"""Answers that every further request would get too: the run stops."""

_jitter = random.Random()


@dataclass(frozen=True, slots=True)
class SendOptions:
    url: str
    key: str
    rate: float
    """Events per second, in total."""
    duration: float | None = None
    """Seconds to generate traffic for; None: until the traffic ends or `stop` is set."""
    batch_size: int = 100
    concurrency: int = 8
    max_attempts: int = 8
    flush_seconds: float = 1.0
    """A batch not yet full goes out once its oldest event is this old."""
    progress_seconds: float = 5.0
    timeout_seconds: float = 30.0


@dataclass(slots=True)
class Tally:
    """What happened so far. Each event handed out (`sent`) ends accepted, rejected or failed."""

    sent: int = 0
    accepted: int = 0
    rejected: int = 0
    failed: int = 0
    late: int = 0
    retries: int = 0
    requests: int = 0
    elapsed: float = 0.0
    reasons: Counter[tuple[str, str]] = field(default_factory=Counter)
    """(field, error) of rejected events, in the order first seen."""
    failures: Counter[str] = field(default_factory=Counter)
    """Why batches finally failed, in the order first seen."""
    aborted: str | None = None

    @property
    def ok(self) -> bool:
        return self.rejected == 0 and self.failed == 0 and self.aborted is None

    @property
    def events_per_second(self) -> float:
        return self.sent / self.elapsed if self.elapsed > 0 else 0.0


class _Rejected(msgspec.Struct):
    index: int
    field: str
    error: str


class _Answer(msgspec.Struct):
    """The body of 202 and 400 answers (400 has `error` when the whole request was refused)."""

    accepted: int = 0
    rejected: list[_Rejected] = msgspec.field(default_factory=list)
    error: str | None = None
    field: str | None = None


async def send(
    traffic: Traffic,
    options: SendOptions,
    *,
    progress: Callable[[Tally], None] | None = None,
    stop: asyncio.Event | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Tally:
    """Send `traffic` until it ends, `duration` has passed or `stop` is set.

    Returns once every batch handed out is settled (accepted, rejected or
    given up on); what the API answers and network errors end up in the
    tally, never as exceptions. `progress` is called every
    `progress_seconds` with the tally so far.
    """
    run = _Run(traffic, options, progress, stop or asyncio.Event())
    async with httpx.AsyncClient(
        base_url=options.url.rstrip("/"),
        headers={"Authorization": f"Bearer {options.key}", "Content-Type": "application/json"},
        timeout=options.timeout_seconds,
        limits=httpx.Limits(
            max_connections=options.concurrency, max_keepalive_connections=options.concurrency
        ),
        transport=transport,
    ) as client:
        return await run.run(client)


class _Run:
    def __init__(
        self,
        traffic: Traffic,
        options: SendOptions,
        progress: Callable[[Tally], None] | None,
        stop: asyncio.Event,
    ) -> None:
        self.traffic, self.options, self.progress, self.stop = traffic, options, progress, stop
        self.tally = Tally()
        self.queue: asyncio.Queue[list[SimEvent] | None] = asyncio.Queue(options.concurrency)
        self.started = time.monotonic()
        self.wall_started = datetime.now(UTC)

    def wall(self, monotonic: float) -> datetime:
        """The client clock at a monotonic instant: never steps back during a run."""
        return self.wall_started + timedelta(seconds=monotonic - self.started)

    async def run(self, client: httpx.AsyncClient) -> Tally:
        async with asyncio.TaskGroup() as group:
            workers = [
                group.create_task(self.work(client)) for _ in range(self.options.concurrency)
            ]
            reporter = group.create_task(self.report())
            await self.produce()
            for _ in workers:
                await self.queue.put(None)
            await asyncio.gather(*workers)
            reporter.cancel()
        self.tally.elapsed = time.monotonic() - self.started
        return self.tally

    async def produce(self) -> None:
        o, tally = self.options, self.tally
        rate = o.rate
        epoch = self.started  # when event 0 was due; moves on if the API held us back
        end = math.inf if o.duration is None else epoch + o.duration
        catch_up = max(o.batch_size, math.ceil(rate * MAX_CATCH_UP_SECONDS))
        made = 0
        batch: list[SimEvent] = []
        batch_since = epoch
        ended = False
        while not (ended or self.stop.is_set() or tally.aborted) and time.monotonic() < end:
            now = time.monotonic()
            if (now - epoch) * rate + 1 > made + catch_up:
                epoch = now - (made + catch_up - 1) / rate
            wanted = min(math.floor((now - epoch) * rate) + 1 - made, o.batch_size - len(batch))
            if wanted > 0:
                times = [self.wall(epoch + (made + i) / rate) for i in range(wanted)]
                events = self.traffic.take(times)
                if not batch:
                    batch_since = now
                batch += events
                made += len(events)
                ended = len(events) < wanted
            if batch and (
                ended or len(batch) >= o.batch_size or now - batch_since >= o.flush_seconds
            ):
                await self.hand_over(batch)
                batch = []
                continue
            wake = min(epoch + made / rate, end, batch_since + o.flush_seconds if batch else end)
            await self.pause(max(TICK_SECONDS, wake - time.monotonic()))
        if batch and not tally.aborted:
            await self.hand_over(batch)

    async def pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop.wait(), seconds)

    async def hand_over(self, batch: list[SimEvent]) -> None:
        self.tally.sent += len(batch)
        self.tally.late += sum(e.late for e in batch)
        await self.queue.put(batch)

    async def work(self, client: httpx.AsyncClient) -> None:
        while (batch := await self.queue.get()) is not None:
            if self.tally.aborted:
                self.tally.failed += len(batch)  # handed out, never sent
            else:
                await self.deliver(client, batch)

    async def deliver(self, client: httpx.AsyncClient, batch: list[SimEvent]) -> None:
        tally = self.tally
        events = msgspec.json.encode([e.body for e in batch])
        attempt = 0
        while True:
            attempt += 1
            sent_at = msgspec.json.encode(self.wall(time.monotonic()))
            tally.requests += 1
            try:
                response = await client.post(
                    EVENTS_PATH, content=b'{"sent_at":%b,"events":%b}' % (sent_at, events)
                )
            except httpx.TransportError as e:
                wait, problem = _backoff(attempt), f"network error: {type(e).__name__} {e}"
            else:
                status = response.status_code
                answer = _answer(response)
                if status == 202 or (status == 400 and answer and answer.rejected):
                    self.settle(batch, answer)
                    return
                if status == 413 and len(batch) > 1:
                    half = len(batch) // 2
                    await self.deliver(client, batch[:half])
                    await self.deliver(client, batch[half:])
                    return
                problem = f"HTTP {status}: {_error_text(response, answer)}"
                if status in FATAL_STATUSES:
                    self.abort(batch, problem)
                    return
                if status in (429, 503):
                    wait = _retry_after(response)
                elif status >= 500:
                    wait = _backoff(attempt)
                else:
                    self.fail(batch, problem)
                    return
            if attempt >= self.options.max_attempts:
                self.fail(batch, f"gave up after {attempt} attempts; last: {problem}")
                return
            tally.retries += 1
            await asyncio.sleep(wait)

    def settle(self, batch: list[SimEvent], answer: _Answer | None) -> None:
        accepted = answer.accepted if answer else 0
        rejected = answer.rejected if answer else []
        self.tally.accepted += accepted
        self.tally.rejected += len(rejected)
        self.tally.reasons.update((r.field, r.error) for r in rejected)
        unaccounted = len(batch) - accepted - len(rejected)
        if unaccounted:
            self.tally.failed += unaccounted
            self.tally.failures[f"the API accounted for {len(batch) - unaccounted} of"
                                f" {len(batch)} events"] += 1  # fmt: skip

    def fail(self, batch: list[SimEvent], problem: str) -> None:
        self.tally.failed += len(batch)
        self.tally.failures[problem] += 1

    def abort(self, batch: list[SimEvent], problem: str) -> None:
        self.fail(batch, problem)
        if not self.tally.aborted:
            self.tally.aborted = f"POST {self.options.url.rstrip('/')}{EVENTS_PATH}: {problem}"

    async def report(self) -> None:
        if self.progress is None:
            return
        while True:
            await asyncio.sleep(self.options.progress_seconds)
            self.tally.elapsed = time.monotonic() - self.started
            self.progress(self.tally)


def _answer(response: httpx.Response) -> _Answer | None:
    try:
        return msgspec.json.decode(response.content, type=_Answer)
    except msgspec.DecodeError:  # ValidationError is one
        return None


def _error_text(response: httpx.Response, answer: _Answer | None) -> str:
    if answer and answer.error:
        return f"{answer.field}: {answer.error}" if answer.field else answer.error
    return response.text[:200] or response.reason_phrase


def _retry_after(response: httpx.Response) -> float:
    """Seconds the API asked to wait (delta-seconds or HTTP date); 1 if it did not say."""
    value = response.headers.get("retry-after", "")
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds()
        except (TypeError, ValueError):
            seconds = 1.0
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)


def _backoff(attempt: int) -> float:
    first, most = BACKOFF_SECONDS
    return min(most, first * math.pow(2, attempt - 1)) * _jitter.uniform(0.5, 1.0)
