"""Pipeline throughput windows beside background work: the same open-loop load measured
without the work, with it, and without it again (the privacy and retention benchmarks).

A window is one run of the pipeline benchmark's load (`pipeline._Bench.window`): events
accepted and stored per second, the processor's lag at both ends, the longest time its
stored counter stood still, and the CPU each component used. The background work is a
`During`: told when the measured window opens and closes, then joined (it may run on
after the window closed; the next window waits for it and for the processor to drain).
"""

import contextlib
import threading
import time
from dataclasses import dataclass
from typing import Final, Protocol

from apps.bench import report, watch
from apps.bench.errors import BenchError
from apps.bench.pipeline import _Bench, _Window
from apps.bench.scenarios import SETTLE, outcome

SCRAPE_EVERY: Final = 0.1


class During(Protocol):
    """Work that runs while a window is measured."""

    def __call__(self, opening: bool) -> None:
        """Called as the measured window opens (True) and as it closes (False); must not
        block (start a thread or a process)."""

    def join(self) -> None:
        """Wait until the work has finished; raises BenchError if it failed."""


@dataclass(frozen=True, slots=True)
class WindowResult:
    name: str
    ingested_per_s: float
    stored_per_s: float
    lag_start: int
    lag_end: int
    stall_s: float
    """The longest time the processor's stored counter did not move in the measured window
    (scraped every SCRAPE_EVERY s): how long its batches waited at worst. Its lag
    would not show it: it counts records not yet consumed, and the processor keeps
    consuming while a batch waits for the game's lock."""
    failed: int
    cores: dict[str, float]
    note: str


def window(bench: _Bench, name: str, phase: int, during: During | None = None) -> WindowResult:
    """One window of the bench's load (event-id `phase`), with `during` running; then waits
    for `during` and for the processor to store the backlog."""
    o, say = bench.options, bench.say
    time.sleep(SETTLE)
    kind = "closed loop" if o.open_rate_eps is None else f"open loop at {o.open_rate_eps:,.0f} ev/s"
    say(f"{name}: {kind}, {o.connections} connections, {o.warmup:g}+{o.duration:g} s...")
    rate = None if o.open_rate_eps is None else o.open_rate_eps / o.batch_size
    with _Stalls(bench.processor_url) as stalls:

        def probe(opening: bool) -> None:
            stalls.probe(opening)
            if during is not None:
                during(opening)

        w: _Window = bench.window(bench.spec(phase, o.duration, o.warmup, rate), on_probe=probe)
    if during is not None:
        during.join()
    drained_in, _ = bench.drain(f"after {name.split()[0]}")
    say(f"  ingested {w.load.events_per_s:,.0f}/s, stored {w.stored_per_s:,.0f}/s, lag "
        f"{w.lag_start:,} -> {w.lag_end:,}; caught up {drained_in:.1f} s later")  # fmt: skip
    if w.load.events == 0:
        raise BenchError(f"{name}: no events accepted: {outcome(w.load)}")
    return WindowResult(name, w.load.events_per_s, w.stored_per_s, w.lag_start, w.lag_end,
                        stalls.longest, w.load.failed, w.cores,
                        f"{outcome(w.load)}; missed {w.load.missed}; caught up {drained_in:.1f} s "
                        "after")  # fmt: skip


def ratio(without: tuple[WindowResult, WindowResult], during: WindowResult) -> float:
    """Stored events/s of the window with the work over the mean of the two without."""
    base = (without[0].stored_per_s + without[1].stored_per_s) / 2
    return during.stored_per_s / base if base else 0.0


class _Stalls:
    """The longest time the processor's stored counter stood still within the measured
    window (between `probe(True)` and `probe(False)`), scraped every SCRAPE_EVERY s."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.longest = 0.0
        self.measuring = threading.Event()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._sample, name="stalls", daemon=True)

    def probe(self, opening: bool) -> None:
        if opening:
            self.measuring.set()
        else:
            self.measuring.clear()
            self.stop.set()

    def _sample(self) -> None:
        self.measuring.wait()
        stored, since = -1.0, time.monotonic()
        while not self.stop.wait(SCRAPE_EVERY):
            with contextlib.suppress(OSError, ValueError):
                c = watch.processor_metrics(self.url)
                if not self.measuring.is_set():
                    break
                if c.stored != stored:
                    if stored >= 0:
                        self.longest = max(self.longest, c.at - since)
                    stored, since = c.stored, c.at
        if stored >= 0:  # a stall still going on when the window closed counts too
            self.longest = max(self.longest, time.monotonic() - since)

    def __enter__(self) -> "_Stalls":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.measuring.set()  # the window never opened: let the thread end
        self.stop.set()
        self.thread.join()


HEADER: Final = ("window", "ingested ev/s", "stored ev/s", "lag start", "lag end",
                 "longest stall s", "failed", "CPU cores used", "notes")  # fmt: skip


def table(windows: tuple[WindowResult, ...]) -> str:
    num = report.num
    rows = [
        (w.name, num(w.ingested_per_s), num(w.stored_per_s), num(w.lag_start), num(w.lag_end),
         f"{w.stall_s:.2f}", str(w.failed), report.cores_text(w.cores), w.note)
        for w in windows
    ]  # fmt: skip
    return report.grid(HEADER, rows, left={0, 7, 8})
