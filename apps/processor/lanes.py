"""Lanes: partition p is written by lane p % writers, one batch in flight per lane.

Each lane has a writer thread (of one pool) and its own connection
(`writing.LaneWriter`). While a lane's batch is in flight, the consuming
thread gathers the lane's next one (`pending`), so the processor decodes
while PostgreSQL writes, and the lanes' backends work in parallel. One batch
in flight per lane keeps each partition's batches written, and committed, in
order. Memory is bounded by two batches per lane.

Every call is made on the consuming thread:

- `gather(...)` fills the pending batches until one should start, finishing
  the writes that end meanwhile: a batch never waits for the next one to fill,
  nor a writer for a decode. Blocks for up to the batch wait (longer while a
  full batch waits for its lane, or while finishing a batch blocks).
- `start()` submits each free lane's pending batch to the pool and gives the
  lane a new pending batch; it never blocks. A batch with no rows (only dead
  letters) is in flight with nothing to write: it is done at once.
- `idle()`: no batch pending or in flight; never blocks.
- `join()` blocks until every write in flight ends, without finishing them (no
  offsets committed: their batches are replayed); `close()` then closes the
  lanes' connections.

Finishing a lane's batch is the caller's (`finish`): its write's future
holds the `WriteResult`, or the `DATABASE_DOWN` error to wait out (`outage`);
then come the dead letters and the offsets, and `lane.writing` is set back to
None.
"""

import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from dataclasses import dataclass, field

from confluent_kafka import Message

from apps.processor.dlq import DeadLetter
from apps.processor.partitions import Partitions
from apps.processor.records import Row
from apps.processor.writing import LaneWriter, WriteResult

_WRITE_POLL_SECONDS = 0.002
"""How often the consuming thread looks whether the batch being written is done."""


@dataclass
class Batch:
    """What one transaction stores, and the offsets committed after it."""

    rows: list[Row] = field(default_factory=list)
    sources: list[Message] = field(default_factory=list)
    """The record of each row, to dead-letter it if the database rejects it."""
    letters: list[DeadLetter] = field(default_factory=list)
    next_offsets: dict[int, int] = field(default_factory=dict)
    consumed: int = 0
    """Records taken from the consumer (rows and letters): what fills the batch."""


@dataclass(frozen=True, slots=True)
class Writing:
    """A batch whose rows a writer thread is writing (`future`; None: no rows)."""

    batch: Batch
    started: float
    future: "Future[WriteResult] | None"

    def done(self) -> bool:
        return self.future is None or self.future.done()


@dataclass
class Lane:
    """One writer: the partitions p with p % lanes == index, its connection, at most one
    batch in flight, and the batch gathered for it meanwhile."""

    index: int
    db: LaneWriter
    pending: Batch = field(default_factory=Batch)
    writing: Writing | None = None


class Lanes:
    """The lanes of one processor and their writer pool (see the module's contract)."""

    def __init__(self, writers: int, dsn: str) -> None:
        partitions = Partitions()  # which days exist is the database's, shared by the lanes
        self.all = [Lane(i, LaneWriter(dsn, partitions)) for i in range(writers)]
        # Writer threads write batches while the consuming thread decodes the next: the
        # processor's CPU overlaps PostgreSQL's, and each lane's backend works in parallel.
        self._pool = ThreadPoolExecutor(writers, thread_name_prefix="processor-write")

    def gather(
        self, max_batch: int, wait: float,
        fetch: Callable[[int, float], None], finish: Callable[[Lane], None],
    ) -> None:  # fmt: skip
        """Fill the pending batches until one should start: a free lane has records (or no
        write is in flight), and `wait` s have passed (as `consume` waits for a batch to
        fill) or a pending batch is full. `fetch(room, timeout)` consumes at most `room`
        records into them, waiting at most `timeout` s; `finish(lane)` is called for each
        lane whose write ended meanwhile."""
        deadline = time.monotonic() + wait
        while True:
            for lane in self._done():
                finish(lane)
            busy = self._busy()
            room = max_batch - self._fullest()
            left = deadline - time.monotonic()
            if (self._ready() or not busy) and (left <= 0 or room <= 0):
                return
            if room <= 0:  # a busy lane's batch is full: wait for a write to end
                self._wait()
                continue
            # While a write is in flight, look every few ms whether it ended.
            fetch(room, _WRITE_POLL_SECONDS if busy else left)

    def start(self) -> bool:
        """Submit every free lane's pending batch; True if any was."""
        started = False
        for lane in self.all:
            batch = lane.pending
            if lane.writing is None and (batch.rows or batch.letters):
                started = True
                rows = batch.rows
                future = self._pool.submit(lane.db.write, rows, batch.sources) if rows else None
                lane.writing = Writing(batch, time.perf_counter(), future)
                lane.pending = Batch()
        return started

    def idle(self) -> bool:
        """No batch pending or in flight: everything consumed is stored and committed."""
        return all(lane.writing is None and not lane.pending.consumed for lane in self.all)

    def join(self) -> None:
        """Block until the writes in flight end (a write ends before its connection closes)."""
        self._pool.shutdown(wait=True)

    def close(self) -> None:
        for lane in self.all:
            lane.db.disconnect()

    def _done(self) -> Iterator[Lane]:
        """The lanes whose write has ended, each looked at when the previous is finished."""
        for lane in self.all:
            if lane.writing is not None and lane.writing.done():
                yield lane

    def _busy(self) -> bool:
        """A batch is in flight."""
        return any(lane.writing is not None for lane in self.all)

    def _ready(self) -> bool:
        """A free lane has records waiting: a batch to start."""
        return any(lane.writing is None and lane.pending.consumed for lane in self.all)

    def _fullest(self) -> int:
        """Records in the fullest pending batch (what bounds the next fetch)."""
        return max(lane.pending.consumed for lane in self.all)

    def _wait(self) -> None:
        """Block until a write in flight ends."""
        writes = [lane.writing.future for lane in self.all if lane.writing is not None]
        wait_for([f for f in writes if f is not None], return_when=FIRST_COMPLETED)
