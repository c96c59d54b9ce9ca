"""A load generator cheap enough to share two cores with what it measures.

HTTP/1.1 keep-alive over raw asyncio sockets (uvloop when installed): every
request is pre-built bytes, a response is framed by its Content-Length and
its body compared with the expected one, so per request the generator does a
write, a search and a comparison. It runs in separate processes (spawned),
never in the process that supervises the servers.

Closed loop: N connections each send the next request as soon as the answer
to the previous one arrives (maximum throughput). Open loop: requests fall
due at a fixed rate and a request's latency is measured from the time it was
*due*, not from when a free connection could send it, so a server that stalls
is charged for every request it delayed (no coordinated omission).
"""

import array
import asyncio
import math
import multiprocessing
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Final, Protocol, TypeVar, cast

import msgspec

from apps.bench.errors import BenchError

T = TypeVar("T")

_HEAD_END: Final = b"\r\n\r\n"
_CONTENT_LENGTH: Final = b"\r\ncontent-length:"
_CHUNKED: Final = b"\r\ntransfer-encoding:"
_START_SLACK: Final = 2.0
"""Seconds between asking for the worker processes and the first request (spawn + connect)."""


class ProtocolError(Exception):
    """The server's answer is not HTTP/1.1 framed by Content-Length."""


@dataclass(frozen=True, slots=True)
class Frame:
    """Where one complete response lies in a buffer."""

    status: int
    body_start: int
    end: int


def build_request(
    *, host: str, port: int, path: str, body: bytes, headers: Mapping[str, str] | None = None
) -> bytes:
    """A complete `POST` request (keep-alive), ready to be written as is."""
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def parse_response(buf: bytes | bytearray) -> Frame | None:
    """The first response in `buf`, or None while it is incomplete.

    Raises ProtocolError for a malformed status line, a chunked body or a
    missing Content-Length (except on statuses that never have a body).
    """
    head_end = buf.find(_HEAD_END)
    if head_end < 0:
        if len(buf) > 65536:
            raise ProtocolError("no end of headers within 64 KiB")
        return None
    head = bytes(buf[:head_end]).lower()
    if not head.startswith(b"http/1.") or len(head) < 12 or head[12:13] not in (b" ", b"\r", b""):
        raise ProtocolError(f"bad status line {bytes(buf[:40])!r}")
    try:
        status = int(head[9:12])
    except ValueError:
        raise ProtocolError(f"bad status line {bytes(buf[:40])!r}") from None
    body_start = head_end + len(_HEAD_END)
    at = head.find(_CONTENT_LENGTH)
    if at < 0:
        if status < 200 or status in (204, 304):
            return Frame(status, body_start, body_start)
        if head.find(_CHUNKED) >= 0:
            raise ProtocolError("chunked responses are not supported")
        raise ProtocolError(f"HTTP {status} without Content-Length")
    value_end = head.find(b"\r\n", at + len(_CONTENT_LENGTH))
    raw = head[at + len(_CONTENT_LENGTH) : value_end if value_end >= 0 else len(head)]
    try:
        length = int(raw.strip())
    except ValueError:
        raise ProtocolError(f"bad Content-Length {raw!r}") from None
    end = body_start + length
    if len(buf) < end:
        return None
    return Frame(status, body_start, end)


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (`q` in 0..100) of values sorted ascending."""
    if not sorted_values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"q={q}; must be within 0..100")
    rank = math.ceil(q / 100 * len(sorted_values))
    return sorted_values[max(rank, 1) - 1]


class RequestSource(Protocol):
    """Makes each request instead of cycling through `LoadSpec.requests` (must be picklable)."""

    def request(self, process: int, seq: int, slot: int | None = None) -> tuple[bytes, str | None]:
        """Request `seq` of load process `process` (`slot`: the open loop's global number),
        and the id of the marker it carries, if any (its acceptance time is recorded)."""
        ...


@dataclass(frozen=True, slots=True)
class LoadSpec:
    """One scenario. `rate` is requests/s over all processes; None runs the closed loop."""

    host: str
    port: int
    requests: tuple[bytes, ...]
    events_per_request: int
    expected_body: bytes | None
    """The body of a full success; a 202 with another body counts as partial."""
    connections: int
    duration: float
    warmup: float = 2.0
    rate: float | None = None
    processes: int = 1
    timeout: float = 10.0
    ok_status: int = 202
    source: RequestSource | None = None
    """When set, requests come from it (e.g. unique event ids) and `requests` is ignored."""


@dataclass(slots=True)
class Tally:
    """What one load process saw during the measured window."""

    latencies: "array.array[float]" = field(default_factory=lambda: array.array("d"))
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    events: int = 0
    partial: int = 0
    missed: int = 0
    """Open loop: requests that fell due but could not be sent before the deadline."""
    cpu_seconds: float = 0.0
    """CPU time of the load process itself during the window."""
    all_events: int = 0
    """Events accepted at any time, warm-up and the requests in flight at the end included."""
    marks: list[tuple[str, float]] = field(default_factory=list)
    """(marker id, wall time its request was answered with full acceptance), in the window."""

    def merge(self, other: "Tally") -> None:
        self.latencies.extend(other.latencies)
        self.statuses.update(other.statuses)
        self.errors.update(other.errors)
        self.events += other.events
        self.partial += other.partial
        self.missed += other.missed
        self.cpu_seconds += other.cpu_seconds
        self.all_events += other.all_events
        self.marks.extend(other.marks)


@dataclass(frozen=True, slots=True)
class LoadResult:
    spec_rate: float | None
    duration: float
    connections: int
    ok: int
    events: int
    statuses: dict[int, int]
    errors: dict[str, int]
    partial: int
    missed: int
    latencies: tuple[float, ...]
    """Sorted ascending, in seconds."""
    load_cpu_seconds: float
    all_events: int = 0
    marks: tuple[tuple[str, float], ...] = ()

    @classmethod
    def from_tally(cls, spec: LoadSpec, tally: Tally) -> "LoadResult":
        return cls(
            spec_rate=spec.rate,
            duration=spec.duration,
            connections=spec.connections,
            ok=tally.statuses.get(spec.ok_status, 0),
            events=tally.events,
            statuses=dict(sorted(tally.statuses.items())),
            errors=dict(tally.errors),
            partial=tally.partial,
            missed=tally.missed,
            latencies=tuple(sorted(tally.latencies)),
            load_cpu_seconds=tally.cpu_seconds,
            all_events=tally.all_events,
            marks=tuple(tally.marks),
        )

    @property
    def requests_per_s(self) -> float:
        return self.ok / self.duration

    @property
    def events_per_s(self) -> float:
        return self.events / self.duration

    @property
    def failed(self) -> int:
        """Responses other than the success status, plus requests that got no response."""
        return sum(self.statuses.values()) - self.ok + sum(self.errors.values())

    def latency(self, q: float) -> float | None:
        return percentile(self.latencies, q) if self.latencies else None


def run_load(spec: LoadSpec, probe: Callable[[], T]) -> tuple[LoadResult, T, T]:
    """Run `spec` in `spec.processes` spawned processes; block until they finish.

    Raises BenchError when a load process cannot connect to the target.

    `probe` is called in this process when the measured window opens and when
    it closes (after the warm-up, then `duration` later), e.g. to read CPU
    counters; its two results are returned with the merged result.
    """
    ctx = multiprocessing.get_context("spawn")
    start_wall = time.time() + _START_SLACK
    with ProcessPoolExecutor(max_workers=spec.processes, mp_context=ctx) as pool:
        futures = [pool.submit(run_process, spec, i, start_wall) for i in range(spec.processes)]
        _sleep_until(start_wall + spec.warmup)
        first = probe()
        _sleep_until(start_wall + spec.warmup + spec.duration)
        last = probe()
        tally = Tally()
        for future in futures:
            try:
                tally.merge(future.result(timeout=spec.timeout + 60))
            except OSError as e:
                raise BenchError(f"load generator: {spec.host}:{spec.port}: {e}") from e
    return LoadResult.from_tally(spec, tally), first, last


def _sleep_until(wall: float) -> None:
    delay = wall - time.time()
    if delay > 0:
        time.sleep(delay)


def run_process(spec: LoadSpec, index: int, start_wall: float) -> Tally:
    """The body of load process `index` (of `spec.processes`); starts at `start_wall`."""
    return _run_loop(_Worker(spec, index).run(start_wall))


def _run_loop(coro: Coroutine[Any, Any, T]) -> T:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


class _Connection(asyncio.Protocol):
    """One keep-alive connection with at most one request in flight."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._buf = bytearray()
        self._waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self._transport: asyncio.Transport | None = None
        self.busy_since = 0.0
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        buf = self._buf
        buf += data
        try:
            frame = parse_response(buf)
        except ProtocolError as e:
            self.abort(e)
            return
        if frame is None:
            return
        waiter = self._waiter
        if waiter is None:
            self.abort(ProtocolError("a response arrived with no request in flight"))
            return
        body = bytes(buf[frame.body_start : frame.end])
        del buf[: frame.end]
        self._waiter = None
        self.busy_since = 0.0
        if not waiter.done():
            waiter.set_result((frame.status, body))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._settle_error(exc or ConnectionResetError("closed by the server"))

    def abort(self, exc: Exception) -> None:
        self._settle_error(exc)
        if self._transport is not None:
            self._transport.abort()

    def _settle_error(self, exc: Exception) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)

    def exchange(self, request: bytes, now: float) -> "asyncio.Future[tuple[int, bytes]]":
        if self.closed or self._transport is None:
            raise ConnectionResetError("connection is closed")
        waiter = self._loop.create_future()
        self._waiter = waiter
        self.busy_since = now
        self._transport.write(request)
        return waiter


class _Worker:
    def __init__(self, spec: LoadSpec, index: int) -> None:
        self.spec = spec
        self.index = index
        self.tally = Tally()
        share, extra = divmod(spec.connections, spec.processes)
        self.n_connections = max(1, share + (1 if index < extra else 0))
        self.measure_from = self.end = 0.0
        self.next_slot = 0
        self.next_seq = 0
        self.conns: list[_Connection] = []
        self._expected = spec.expected_body
        self._decode = msgspec.json.Decoder(dict[str, Any]).decode

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        _, conn = await loop.create_connection(
            lambda: _Connection(loop), self.spec.host, self.spec.port
        )
        return conn

    async def _replace(self, slot: int, error: BaseException, *, count: bool) -> _Connection | None:
        """Count the failure and reconnect; None when the server stays unreachable past the end."""
        if count:
            self.tally.errors[type(error).__name__] += 1
        await asyncio.sleep(0.01)  # a server that keeps failing fast must not spin the generator
        while True:
            try:
                conn = await self._connect()
            except OSError as e:
                if count:
                    self.tally.errors[f"connect: {type(e).__name__}"] += 1
                if time.perf_counter() > self.end + self.spec.timeout:
                    return None
                await asyncio.sleep(0.1)
                continue
            self.conns[slot] = conn
            return conn

    async def run(self, start_wall: float) -> Tally:
        self.conns = [await self._connect() for _ in range(self.n_connections)]
        delay = start_wall - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        start = time.perf_counter()
        self.measure_from = start + self.spec.warmup
        self.end = self.measure_from + self.spec.duration
        watchdog = asyncio.create_task(self._watchdog())
        meter = asyncio.create_task(self._cpu_meter())
        if self.spec.rate is None:
            loops = [self._closed(slot) for slot in range(len(self.conns))]
        else:
            loops = [self._open(slot, start) for slot in range(len(self.conns))]
        try:
            await asyncio.gather(*loops)
            await meter
        finally:
            watchdog.cancel()
            meter.cancel()
            for conn in self.conns:
                conn.abort(ConnectionAbortedError("load finished"))
        return self.tally

    async def _cpu_meter(self) -> None:
        await asyncio.sleep(max(0.0, self.measure_from - time.perf_counter()))
        used = time.process_time()
        await asyncio.sleep(max(0.0, self.end - time.perf_counter()))
        self.tally.cpu_seconds += time.process_time() - used

    async def _watchdog(self) -> None:
        timeout = self.spec.timeout
        while True:
            await asyncio.sleep(0.25)
            now = time.perf_counter()
            for conn in self.conns:
                if conn.busy_since and now - conn.busy_since > timeout:
                    conn.abort(TimeoutError(f"no response within {timeout} s"))

    def _record(
        self, latency: float, status: int, body: bytes, *, measured: bool = True,
        marker: str | None = None,
    ) -> None:  # fmt: skip
        tally = self.tally
        if measured:
            tally.latencies.append(latency)
            tally.statuses[status] += 1
        if status != self.spec.ok_status:
            return
        if body == self._expected or self._expected is None:
            tally.all_events += self.spec.events_per_request
            if measured:
                tally.events += self.spec.events_per_request
                if marker is not None:
                    tally.marks.append((marker, time.time()))
            return
        try:
            accepted = self._decode(body).get("accepted", 0)
        except msgspec.DecodeError:
            accepted = 0
        accepted = accepted if isinstance(accepted, int) else 0
        tally.all_events += accepted
        if measured:
            tally.partial += 1
            tally.events += accepted

    def _make(self, i: int, slot: int | None) -> tuple[bytes, str | None]:
        """The next request: from the source (numbered per process), else `requests[i]`."""
        source = self.spec.source
        if source is None:
            return self.spec.requests[i], None
        seq = self.next_seq
        self.next_seq += 1
        return source.request(self.index, seq, slot)

    async def _closed(self, slot: int) -> None:
        n = max(len(self.spec.requests), 1)
        i = (self.index * 7919 + slot * 31) % n
        conn = self.conns[slot]
        perf = time.perf_counter
        measure_from, end = self.measure_from, self.end
        request, _ = self._make(i, None)
        while True:
            sent = perf()
            if sent >= end:
                return
            try:
                status, body = await conn.exchange(request, sent)
            except (OSError, ProtocolError) as e:
                replaced = await self._replace(slot, e, count=sent >= measure_from)
                if replaced is None:
                    return
                conn = replaced
                continue  # the same request again: a retry, as a client would
            i = i + 1 if i + 1 < n else 0
            self._record(perf() - sent, status, body, measured=sent >= measure_from)
            request, _ = self._make(i, None)

    async def _open(self, slot: int, start: float) -> None:
        spec = self.spec
        assert spec.rate is not None
        interval = spec.processes / spec.rate
        first_due = start + self.index / spec.rate
        n = max(len(spec.requests), 1)
        conn = self.conns[slot]
        perf = time.perf_counter
        measure_from, end = self.measure_from, self.end
        give_up = end + spec.timeout
        while True:
            k = self.next_slot
            self.next_slot += 1
            due = first_due + k * interval
            if due >= end:
                return
            now = perf()
            if now > give_up:
                if due >= measure_from:
                    self.tally.missed += 1
                continue
            if due > now:
                await asyncio.sleep(due - now)
            request, marker = self._make(k % n, k * spec.processes + self.index)
            try:
                status, body = await conn.exchange(request, perf())
            except (OSError, ProtocolError) as e:
                replaced = await self._replace(slot, e, count=due >= measure_from)
                if replaced is None:
                    return
                conn = replaced
                continue
            self._record(perf() - due, status, body, measured=due >= measure_from, marker=marker)
