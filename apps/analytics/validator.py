"""Validation of large documents in worker processes, away from the event loop's GIL.

graphql-core's validation of a document at the fields limit takes tens of
milliseconds of CPU. In a thread of the service it holds the GIL that the
event loop needs, and every other request waits its turn
(docs/benchmarks.md, "Hostile queries"). So a document with more than
INLINE_FIELDS fields is validated in a worker process, which takes the query
text and answers the errors; small documents, which validate in well under a
millisecond, stay in the event loop. The queue of the workers is shared:
a flood of large documents delays other large ones, never a small one.
"""

import asyncio
import contextlib
import ctypes
import functools
import logging
import multiprocessing
import os
import signal
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Final, TypeAlias

from graphql import GraphQLError, GraphQLSchema, Source, parse

from apps.analytics import prepare
from apps.analytics.errors import BadUserInput

log = logging.getLogger(__name__)

INLINE_FIELDS: Final = 30
"""Documents up to this many expanded fields validate in the event loop (under 1 ms)."""

_Error: TypeAlias = tuple[str, list[int], str | None]
"""What crosses the process boundary: message, source positions, argument."""


@functools.cache
def _schema() -> GraphQLSchema:
    from apps.analytics.schema import build_schema  # the schema imports prepare, not us

    return build_schema()._schema


def _errors_of(query: str, introspection: bool) -> list[_Error]:
    """In a worker: the validation errors of a document that passed `prepare.measure`."""
    doc = parse(query)
    found = prepare.validation_errors(_schema(), doc, introspection=introspection)
    return [
        (e.message, [n.loc.start for n in e.nodes or () if n.loc is not None], _argument(e))
        for e in found
    ]


def _argument(error: GraphQLError) -> str | None:
    original = error.original_error
    if isinstance(original, BadUserInput) and "argument" in original.extra:
        return str(original.extra["argument"])
    return None


_PR_SET_PDEATHSIG: Final = 1


def _start_worker() -> None:
    """A worker dies with the service (the kernel sends SIGTERM), then builds the schema."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() == 1:  # the service died before the line above ran
        os._exit(0)
    _schema()


def _ready() -> bool:
    return True


class Validator:
    """Validates measured documents: inline when small, in `processes` workers otherwise."""

    def __init__(self, processes: int) -> None:
        self._processes = processes
        self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        # spawn: the service has threads (the connection pool's), which fork would copy badly.
        return ProcessPoolExecutor(
            self._processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
        )

    async def start(self) -> None:
        """Spawn the workers now: a worker takes a second or two to import and build the
        schema, which no request's time budget should pay."""
        loop = asyncio.get_running_loop()
        await asyncio.gather(
            *(loop.run_in_executor(self._pool, _ready) for _ in range(self._processes))
        )

    async def errors(
        self, schema: GraphQLSchema, query: str, measured: prepare.Measured, *, introspection: bool
    ) -> list[GraphQLError]:
        if measured.fields <= INLINE_FIELDS:
            return prepare.validation_errors(schema, measured.document, introspection=introspection)
        loop = asyncio.get_running_loop()
        try:
            found = await loop.run_in_executor(self._pool, _errors_of, query, introspection)
        except BrokenProcessPool:
            # A worker died (killed, out of memory): new workers for the next documents;
            # this one is validated here, which its fields limit keeps short.
            log.warning("a validation worker died; starting new ones")
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = self._new_pool()
            return prepare.validation_errors(schema, measured.document, introspection=introspection)
        source = Source(query)
        return [
            GraphQLError(
                message,
                source=source,
                positions=positions or None,
                original_error=BadUserInput(message, argument=argument),
            )
            for message, positions, argument in found
        ]

    def close(self) -> None:
        """Drop queued documents and wait for the ones being validated (milliseconds)."""
        self._pool.shutdown(wait=True, cancel_futures=True)
