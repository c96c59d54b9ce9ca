"""How a users API route runs: read the body (async, guarded), then the handler in a worker
thread on a pooled connection, then one JSON answer carrying the request id.

A handler is a plain function `(Call) -> Reply`. It authenticates through
`call.caller()`, raises the errors of `errors.py` or the core's `InputError`,
and returns its status and body; the mapping to HTTP lives in `responses.py`.
"""

import logging
import re
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import anyio.to_thread
import psycopg
import psycopg_pool
from psycopg.rows import TupleRow
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from apps.core.errors import InputError
from apps.core.settings.users import UsersSettings
from apps.edge.body import read_body, require_json
from apps.edge.responses import json_response
from apps.store import games
from apps.store.audit import Actor
from apps.store.sessions import Caller
from apps.users import auth, errors
from apps.users.responses import refusal
from apps.users.runtime import Runtime

log = logging.getLogger(__name__)
REQUEST_ID: Final = "X-Request-Id"
_REQUEST_ID_SHAPE: Final = re.compile(r"[A-Za-z0-9._:-]{1,100}")
BodyKind = Literal["none", "json", "optional"]


Connect = Callable[[], Any]
"""A pooled connection's context manager (what a streamed body reads with)."""


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: object = None
    headers: Mapping[str, str] = field(default_factory=dict)
    stream: Callable[[Connect], Iterator[bytes]] | None = None
    """A body sent as it is read, each chunk on a pooled connection of its own (the
    handler's connection is back in the pool by then)."""


@dataclass(slots=True)
class Call:
    """One request as a handler sees it, with its database connection."""

    conn: psycopg.Connection[TupleRow]
    settings: UsersSettings
    request_id: str
    client: str
    authorization: str | None
    accept: str
    path: Mapping[str, str]
    query: Mapping[str, str]
    body: bytes
    _caller: Caller | None = None

    def caller(self) -> Caller:
        if self._caller is None:
            self._caller = auth.authenticate(self.conn, self.authorization)
        return self._caller

    def actor(self) -> Actor:
        return Actor.account(self.caller().account_id, self.request_id)


Handler = Callable[[Call], Reply]


def request_id(sent: str | None) -> str:
    """The client's X-Request-Id when it is a plain token, else a fresh one."""
    if sent is not None and _REQUEST_ID_SHAPE.fullmatch(sent):
        return sent
    return uuid.uuid4().hex


def _run(rt: Runtime, handler: Handler, public: bool, call: dict[str, Any]) -> Reply:
    try:
        with rt.pool.connection() as conn:
            bound = Call(conn=conn, settings=rt.settings, **call)
            if not public:
                bound.caller()  # 401 before anything else is looked at
            return handler(bound)
    except (psycopg.OperationalError, psycopg_pool.PoolTimeout) as e:  # QueryCanceled too
        log.warning("PostgreSQL unavailable: %s", type(e).__name__)
        raise errors.Unavailable("the database is unavailable; retry later") from None
    except games.GameNotFound as e:  # deleted between the role check and the change
        raise errors.NotFound(str(e), "game_id") from None


def endpoint(
    name: str, handler: Handler, body: BodyKind = "none", *, public: bool = False
) -> Callable[..., Any]:
    """The Starlette endpoint running `handler`; `body` says whether it reads a JSON body,
    `public` whether it runs without a session (logging in)."""

    async def run(request: Request) -> Response:
        rt: Runtime = request.app.state.runtime
        started = time.perf_counter()
        rid = request_id(request.headers.get(REQUEST_ID))
        try:
            raw = await _body(request, rt.settings.max_body_bytes, body)
            call = {
                "request_id": rid,
                "client": request.client.host if request.client else "unknown",
                "authorization": request.headers.get("authorization"),
                "accept": request.headers.get("accept", ""),
                "path": dict(request.path_params),
                "query": dict(request.query_params),
                "body": raw,
            }
            reply = await anyio.to_thread.run_sync(_run, rt, handler, public, call)
            response = _response(rt, reply)
        except (errors.UsersError, InputError) as e:
            response = refusal(e)
        response.headers[REQUEST_ID] = rid
        rt.metrics.requests.labels(name, str(response.status_code)).inc()
        rt.metrics.latency.observe(time.perf_counter() - started)
        return response

    return run


def _response(rt: Runtime, reply: Reply) -> Response:
    if reply.stream is not None:
        return StreamingResponse(
            reply.stream(rt.pool.connection), reply.status, headers=dict(reply.headers)
        )
    if reply.body is None:
        return Response(status_code=reply.status, headers=dict(reply.headers))
    return json_response(reply.status, reply.body, dict(reply.headers))


async def _body(request: Request, limit: int, kind: BodyKind) -> bytes:
    if kind == "none":
        return b""
    length = request.headers.get("content-length")
    chunked = "chunked" in request.headers.get("transfer-encoding", "").lower()
    if kind == "json" or (length not in (None, "0") or chunked):
        require_json(request.headers.get("content-type"))
    return await read_body(request.stream(), limit=limit, content_length=length)
