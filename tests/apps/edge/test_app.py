"""The shared edge: probes, metrics and JSON errors, the same for every service."""

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry, Counter
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from apps.core import services
from apps.core.errors import TooLarge, UnsupportedMedia
from apps.edge import probes
from apps.edge.app import service_app
from apps.edge.body import read_body
from apps.edge.probes import Probes, Unready
from apps.edge.responses import json_response

SERVICE = dataclasses.replace(
    services.PROCESSOR, name="demo", liveness_path="/live", readiness_path="/ready"
)


class State:
    def __init__(self) -> None:
        self.stuck = False
        self.postgres_up = True
        self.slow = False
        self.opened = self.closed = 0


async def echo(request: Request) -> Response:
    body = await read_body(
        request.stream(), limit=16, content_length=request.headers.get("content-length")
    )
    return json_response(200, {"bytes": len(body)})


async def boom(_: Request) -> Response:
    raise RuntimeError("secret detail: password=hunter2")


async def refuse(_: Request) -> Response:
    raise UnsupportedMedia("Content-Type", "text/plain; send application/json")


class Client:
    """Requests to the app in process, inside its lifespan (started on enter, ended on exit)."""

    def __init__(self, app: Starlette) -> None:
        self.app = app
        self._loop = asyncio.new_event_loop()
        self._lifespan = app.router.lifespan_context(app)

    def __enter__(self) -> "Client":
        self._loop.run_until_complete(self._lifespan.__aenter__())
        return self

    def __exit__(self, *_: object) -> None:
        self._loop.run_until_complete(self._lifespan.__aexit__(None, None, None))
        self._loop.close()

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        async def send() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://edge") as c:
                return await c.request(method, path, **kwargs)

        return self._loop.run_until_complete(send())

    def get(self, path: str) -> httpx.Response:
        return self._send("GET", path)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self._send("POST", path, **kwargs)


@pytest.fixture
def state() -> State:
    return State()


@pytest.fixture
def client(state: State) -> Iterator[Client]:
    registry = CollectorRegistry()
    Counter("demo_requests", "requests", registry=registry).inc(3)

    async def postgres() -> None:
        if not state.postgres_up:
            raise ConnectionRefusedError

    async def kafka() -> None:
        if state.slow:
            await asyncio.sleep(10)
        raise Unready("all brokers down")

    @contextlib.asynccontextmanager
    async def running(_: Starlette) -> AsyncIterator[Probes]:
        state.opened += 1
        yield Probes(
            registry=registry,
            readiness={"postgres": postgres, "kafka": kafka},
            liveness=lambda: "stuck" if state.stuck else None,
        )
        state.closed += 1

    routes = [
        Route("/echo", echo, methods=["POST"]),
        Route("/boom", boom),
        Route("/refuse", refuse),
    ]
    with Client(service_app(SERVICE, routes, running)) as c:
        yield c


def test_probes_are_served_at_the_declared_paths(client: Client, state: State) -> None:
    assert client.get("/live").json() == {"status": "alive"}
    state.stuck = True
    r = client.get("/live")
    assert (r.status_code, r.json()) == (503, {"status": "stuck"})
    assert client.get("/healthz").status_code == 404  # only where the declaration says


def test_readiness_names_each_check(client: Client, state: State) -> None:
    r = client.get("/ready")
    assert r.status_code == 503
    assert r.json() == {
        "status": "unavailable",
        "checks": {"postgres": "ok", "kafka": "unreachable (all brokers down)"},
    }
    state.postgres_up = False
    assert client.get("/ready").json()["checks"]["postgres"] == (
        "unreachable (ConnectionRefusedError)"
    )


def test_a_hanging_check_is_bounded(
    client: Client, state: State, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(probes, "CHECK_TIMEOUT_S", 0.2)
    state.slow = True
    r = client.get("/ready")
    # Unbounded, the check would answer after its 10 s sleep with "all brokers down".
    assert r.json()["checks"]["kafka"] == "unreachable (TimeoutError)"


def test_metrics_are_the_services_registry(client: Client) -> None:
    r = client.get("/metrics")
    assert r.status_code == 200
    assert "demo_requests_total 3.0" in r.text


def test_errors_are_json_never_a_trace(client: Client, caplog: pytest.LogCaptureFixture) -> None:
    r = client.get("/nowhere")
    assert (r.status_code, r.json()) == (404, {"error": "Not Found"})
    r = client.get("/echo")
    assert (r.status_code, r.headers["allow"], r.json()) == (
        405, "POST", {"error": "Method Not Allowed"}
    )  # fmt: skip
    r = client.get("/refuse")
    assert (r.status_code, r.json()) == (
        415, {"error": "text/plain; send application/json", "field": "Content-Type"}
    )  # fmt: skip
    with caplog.at_level(logging.ERROR):
        r = client.get("/boom")
    assert (r.status_code, r.json()) == (500, {"error": "internal error"})
    assert "hunter2" not in r.text
    assert "unexpected RuntimeError in GET /boom" in caplog.messages


def test_the_body_guard_refuses_past_the_limit(client: Client) -> None:
    assert client.post("/echo", content=b"x" * 16).json() == {"bytes": 16}
    r = client.post("/echo", content=b"x" * 17)
    assert (r.status_code, r.json()["field"]) == (413, "body")
    assert r.json()["error"] == "17 bytes; at most 16 bytes"

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(5):
            yield b"x" * 8

    with pytest.raises(TooLarge, match="more than 16 bytes"):
        asyncio.run(read_body(chunks(), limit=16, content_length=None))


def test_the_running_context_opens_and_closes_with_the_app(state: State) -> None:
    @contextlib.asynccontextmanager
    async def running(_: Starlette) -> AsyncIterator[Probes]:
        state.opened += 1
        yield Probes(registry=CollectorRegistry())
        state.closed += 1

    with Client(service_app(SERVICE, [], running)) as c:
        assert c.get("/ready").json() == {"status": "ready", "checks": {}}
        assert (state.opened, state.closed) == (1, 0)
    assert state.closed == 1
