"""Serving an ASGI app with one or more worker processes on one port.

Each worker binds its own SO_REUSEPORT socket, so the kernel spreads
connections across workers (a shared accept queue lets one worker take most
keep-alive connections). The parent forwards SIGTERM/SIGINT, and if a worker
dies it stops the others and exits non-zero, so the supervisor (`gamemetrics
dev`, Kubernetes) restarts the whole unit.
"""

import contextlib
import ctypes
import multiprocessing
import os
import signal
import socket
import sys
from collections.abc import Callable
from multiprocessing.connection import wait
from typing import Any, TypeVar

import uvicorn

S = TypeVar("S")
AppFactory = Callable[[S], Any]
_PR_SET_PDEATHSIG = 1


def serve(factory: "AppFactory[S]", settings: S, *, host: str, port: int, workers: int) -> int:
    """Run until SIGTERM/SIGINT; returns the exit code. `factory` must be importable (picklable)."""
    if workers <= 1:
        _run_worker(factory, settings, host, port)
        return 0
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(target=_run_worker, args=(factory, settings, host, port), name=f"worker-{i}")
        for i in range(workers)
    ]
    for proc in procs:
        proc.start()

    def forward(signum: int, _frame: object) -> None:
        for proc in procs:
            if proc.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    wait([p.sentinel for p in procs])  # the first worker to exit ends the unit
    forward(signal.SIGTERM, None)
    for proc in procs:
        proc.join(10)
        if proc.is_alive():
            proc.kill()
    codes = [p.exitcode or 0 for p in procs]
    return max(codes, key=abs)


def _run_worker(factory: "AppFactory[S]", settings: S, host: str, port: int) -> None:
    if sys.platform == "linux":
        with contextlib.suppress(OSError):
            ctypes.CDLL("libc.so.6").prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    config = uvicorn.Config(
        factory(settings),
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=3,
        server_header=False,
    )
    uvicorn.Server(config).run(sockets=[sock])
