"""The load generator's framing, percentiles and accounting, and one short run against a stub."""

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Iterator

import pytest

from apps.bench.loadgen import (
    Frame,
    LoadResult,
    LoadSpec,
    ProtocolError,
    Tally,
    build_request,
    parse_response,
    percentile,
    run_process,
)

OK_BODY = b'{"accepted":100,"rejected":[]}'
OK = b"HTTP/1.1 202 Accepted\r\ncontent-length: %d\r\ncontent-type: application/json\r\n\r\n%s" % (
    len(OK_BODY),
    OK_BODY,
)


def test_request_is_complete_keep_alive_post() -> None:
    body = b'{"events":[]}'
    request = build_request(
        host="127.0.0.1", port=8080, path="/v1/events", body=body,
        headers={"Authorization": "Bearer gmk_x", "Content-Type": "application/json"},
    )  # fmt: skip
    head, _, rest = request.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"POST /v1/events HTTP/1.1"
    assert b"Host: 127.0.0.1:8080" in lines
    assert b"Authorization: Bearer gmk_x" in lines
    assert b"Content-Length: 13" in lines
    assert rest == body


def test_response_framed_by_content_length() -> None:
    frame = parse_response(OK)
    assert frame == Frame(202, len(OK) - len(OK_BODY), len(OK))
    assert OK[frame.body_start : frame.end] == OK_BODY


def test_incomplete_response_waits() -> None:
    assert parse_response(OK[:20]) is None
    assert parse_response(OK[:-1]) is None
    assert parse_response(b"") is None


def test_second_response_stays_in_buffer() -> None:
    frame = parse_response(bytearray(OK + OK[:10]))
    assert frame is not None
    assert frame.end == len(OK)


def test_header_names_are_case_insensitive() -> None:
    response = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 2\r\n\r\n{}"
    assert parse_response(response) == Frame(400, len(response) - 2, len(response))


def test_bodyless_status_needs_no_length() -> None:
    response = b"HTTP/1.1 204 No Content\r\nserver: x\r\n\r\n"
    assert parse_response(response) == Frame(204, len(response), len(response))


@pytest.mark.parametrize(
    "response",
    [
        b"HTTP/1.1 202 Accepted\r\ntransfer-encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
        b"HTTP/1.1 202 Accepted\r\nserver: x\r\n\r\n",
        b"HTTP/1.1 2x2 Accepted\r\ncontent-length: 0\r\n\r\n",
        b"SSH-2.0-OpenSSH\r\n\r\n",
        b"HTTP/1.1 202 Accepted\r\ncontent-length: ten\r\n\r\n",
    ],
)
def test_malformed_responses_are_refused(response: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse_response(response)


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 99.9) == 100.0
    assert percentile(values, 100) == 100.0
    assert percentile(values, 0) == 1.0
    assert percentile([7.0], 99) == 7.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.0
    assert percentile([float(v) for v in range(1, 11)], 25) == 3.0


def test_percentile_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)
    with pytest.raises(ValueError, match=r"within 0\.\.100"):
        percentile([1.0], 101)


def _spec(rate: float | None = None, duration: float = 10.0, port: int = 1) -> LoadSpec:
    return LoadSpec(
        host="127.0.0.1", port=port, requests=(b"x",), events_per_request=100,
        expected_body=OK_BODY, connections=4, duration=duration, warmup=0.0, rate=rate,
    )  # fmt: skip


def test_result_counts_only_success_as_throughput() -> None:
    tally = Tally(statuses=Counter({202: 50, 429: 5}), errors=Counter({"TimeoutError": 2}))
    tally.events = 4_950
    tally.latencies.extend([0.003, 0.001, 0.002])
    result = LoadResult.from_tally(_spec(), tally)
    assert result.requests_per_s == 5.0
    assert result.events_per_s == 495.0
    assert result.failed == 7
    assert result.latencies == (0.001, 0.002, 0.003)
    assert result.latency(50) == 0.002


@pytest.fixture
def stub_port() -> Iterator[int]:
    """An HTTP/1.1 keep-alive server on loopback that answers every request 202, in a thread."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    writers: set[asyncio.StreamWriter] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.add(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.lower().split(b"\r\n")
                    if line.startswith(b"content-length:")
                )
                await reader.readexactly(length)
                writer.write(OK)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writers.discard(writer)
            writer.close()

    async def start() -> asyncio.Server:
        return await asyncio.start_server(handle, "127.0.0.1", 0)

    async def stop(server: asyncio.Server) -> None:
        server.close()
        for writer in list(writers):
            writer.close()
        await server.wait_closed()

    thread.start()
    server = asyncio.run_coroutine_threadsafe(start(), loop).result(5)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        asyncio.run_coroutine_threadsafe(stop(server), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


def _request(port: int) -> bytes:
    return build_request(host="127.0.0.1", port=port, path="/v1/events", body=b'{"events":[]}')


def test_closed_loop_against_a_stub(stub_port: int) -> None:
    spec = LoadSpec(
        host="127.0.0.1", port=stub_port, requests=(_request(stub_port),), events_per_request=100,
        expected_body=OK_BODY, connections=4, duration=0.5, warmup=0.1,
    )  # fmt: skip
    tally = run_process(spec, 0, time.time())
    # How many fit in the window depends on the machine's speed; the accounting does not.
    assert tally.statuses[202] > 0
    assert tally.events == 100 * tally.statuses[202]
    assert not tally.errors
    assert tally.partial == 0
    assert len(tally.latencies) == tally.statuses[202]


def test_open_loop_keeps_the_rate_and_counts_partial_bodies(stub_port: int) -> None:
    spec = LoadSpec(
        host="127.0.0.1", port=stub_port, requests=(_request(stub_port),), events_per_request=200,
        expected_body=b'{"accepted":200,"rejected":[]}', connections=4, duration=1.0, warmup=0.2,
        rate=100.0,
    )  # fmt: skip
    tally = run_process(spec, 0, time.time())
    # Every slot due in the 1 s window is sent, late if the machine is slow (missed only
    # past the 10 s timeout): 100 slots, give or take one at each edge of the window.
    assert 99 <= tally.statuses[202] <= 101
    # the stub accepts 100 of the 200 events: partial, counted from its body
    assert tally.partial == tally.statuses[202]
    assert tally.events == 100 * tally.statuses[202]
    assert tally.missed == 0


class _Numbered:
    """A request source that remembers what it was asked for (runs in this process here)."""

    def __init__(self, port: int, marker_every: int = 0) -> None:
        self.request_bytes = _request(port)
        self.asked: list[tuple[int, int, int | None]] = []
        self.marker_every = marker_every

    def request(self, process: int, seq: int, slot: int | None = None) -> tuple[bytes, str | None]:
        self.asked.append((process, seq, slot))
        due = self.marker_every and slot is not None and slot % self.marker_every == 0
        return self.request_bytes, f"m{slot}" if due else None


def test_closed_loop_numbers_each_request_from_the_source(stub_port: int) -> None:
    source = _Numbered(stub_port)
    spec = LoadSpec(
        host="127.0.0.1", port=stub_port, requests=(), events_per_request=100,
        expected_body=OK_BODY, connections=4, duration=0.3, warmup=0.2, source=source,
    )  # fmt: skip
    tally = run_process(spec, 3, time.time())
    seqs = [seq for _, seq, _ in source.asked]
    assert seqs == list(range(len(seqs)))  # each request new, numbered per process
    assert {process for process, _, _ in source.asked} == {3}
    # the warm-up's events are accepted too, but only the window's are throughput
    assert tally.all_events > tally.events > 0
    assert not tally.marks


def test_open_loop_records_when_each_marker_was_accepted(stub_port: int) -> None:
    source = _Numbered(stub_port, marker_every=5)
    spec = LoadSpec(
        host="127.0.0.1", port=stub_port, requests=(), events_per_request=100,
        expected_body=OK_BODY, connections=4, duration=0.5, warmup=0.1, rate=100.0,
        processes=2, source=source,
    )  # fmt: skip
    before = time.time()
    tally = run_process(spec, 1, time.time())
    slots = [slot for _, _, slot in source.asked]
    assert slots
    assert all(slot is not None and slot % 2 == 1 for slot in slots)  # process 1 of 2
    assert tally.marks
    assert all(name == f"m{int(name[1:])}" and int(name[1:]) % 5 == 0 for name, _ in tally.marks)
    assert all(before <= at <= time.time() for _, at in tally.marks)
