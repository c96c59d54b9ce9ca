"""Watching the processor while a benchmark runs: its RSS from /proc, its counters over HTTP.

`RssSampler` reads `VmRSS` of one process several times a second on a
thread of the benchmark's own process; `processor_metrics` scrapes the
processor's Prometheus endpoint for the counters that say how much was
committed and how far behind it is.
"""

import dataclasses
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

_STORED: Final = 'gm_processor_rows_total{outcome="stored"}'
_DUPLICATE: Final = 'gm_processor_rows_total{outcome="duplicate"}'
_LAG: Final = "gm_processor_lag_records"
_BATCHES: Final = "gm_processor_batches_total"
_REFETCHED: Final = 'gm_processor_offset_gaps_total{outcome="refetched"}'
_ACCEPTED_GAPS: Final = 'gm_processor_offset_gaps_total{outcome="accepted"}'


def vm_rss_bytes(status_text: str) -> int | None:
    """`VmRSS` of a /proc/<pid>/status text in bytes (None if absent: a zombie, a kernel thread)."""
    for line in status_text.splitlines():
        if line.startswith("VmRSS:"):
            value, unit = line.split()[1:3]
            if unit != "kB":
                raise ValueError(f"VmRSS in {unit!r}, expected kB")
            return int(value) * 1024
    return None


def rss_of(pid: int) -> int | None:
    try:
        return vm_rss_bytes(Path(f"/proc/{pid}/status").read_text())
    except OSError:
        return None


@dataclass(frozen=True, slots=True)
class RssSample:
    at: float
    """time.monotonic() of the reading."""
    rss: int
    label: str
    """The phase of the benchmark when it was read."""


class RssSampler:
    """Samples the RSS of whatever pid `pid_of()` returns, every `interval` s, until `stop()`."""

    def __init__(self, pid_of: Callable[[], int | None], interval: float = 0.2) -> None:
        """`pid_of` is asked before each reading: a restarted processor has a new pid."""
        self._pid_of = pid_of
        self._interval = interval
        self._samples: list[RssSample] = []
        self._label = "start"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def start(self) -> "RssSampler":
        self._thread.start()
        return self

    def label(self, phase: str) -> None:
        self._label = phase

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            pid = self._pid_of()
            rss = rss_of(pid) if pid is not None else None
            if rss is not None:
                self._samples.append(RssSample(time.monotonic(), rss, self._label))

    def stop(self) -> list[RssSample]:
        self._stop.set()
        self._thread.join(5)
        return list(self._samples)

    def samples(self) -> list[RssSample]:
        return list(self._samples)


def max_rss(samples: list[RssSample], label: str | None = None) -> int | None:
    values = [s.rss for s in samples if label is None or s.label == label]
    return max(values) if values else None


@dataclass(frozen=True, slots=True)
class ProcessorCounters:
    stored: float
    duplicate: float
    lag: float
    batches: float
    at: float
    """time.monotonic() of the scrape."""
    gaps_refetched: float = 0.0
    """Fetches that skipped offsets and were read again (see apps/processor/gaps.py)."""
    gaps_accepted: float = 0.0
    took: float = 0.0
    """Seconds the scrape took: the counters were read somewhere within them."""


def parse_metrics(text: str, at: float = 0.0) -> ProcessorCounters:
    """The counters the pipeline benchmark needs from the processor's /metrics text.

    Raises ValueError naming the first one that is missing.
    """
    values: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, value = line.rpartition(" ")
        values[name] = float(value)
    names = (_STORED, _DUPLICATE, _LAG, _BATCHES, _REFETCHED, _ACCEPTED_GAPS)
    missing = [n for n in names if n not in values]
    if missing:
        raise ValueError(f"the processor's /metrics has no {missing[0]}")
    return ProcessorCounters(
        values[_STORED], values[_DUPLICATE], values[_LAG], values[_BATCHES], at,
        values[_REFETCHED], values[_ACCEPTED_GAPS],
    )  # fmt: skip


def processor_metrics(url: str) -> ProcessorCounters:
    """Scrape `url`/metrics (loopback; blocks up to 5 s)."""
    asked = time.monotonic()
    with urllib.request.urlopen(url + "/metrics", timeout=5) as r:  # noqa: S310 - loopback
        text = r.read().decode()
    at = time.monotonic()
    return dataclasses.replace(parse_metrics(text, at), took=at - asked)


@dataclass(frozen=True, slots=True)
class PostgresCounters:
    """Cluster-wide write counters (pg_stat_wal, pg_stat_checkpointer; PostgreSQL 17+)."""

    wal_bytes: float
    wal_fpi: int
    wal_buffers_full: int
    checkpoints_requested: int
    checkpoints_timed: int

    def minus(self, before: "PostgresCounters") -> "PostgresCounters":
        return PostgresCounters(
            self.wal_bytes - before.wal_bytes,
            self.wal_fpi - before.wal_fpi,
            self.wal_buffers_full - before.wal_buffers_full,
            self.checkpoints_requested - before.checkpoints_requested,
            self.checkpoints_timed - before.checkpoints_timed,
        )


def postgres_counters(dsn: str) -> PostgresCounters:
    import psycopg

    with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
        row = conn.execute(
            "SELECT w.wal_bytes, w.wal_fpi, w.wal_buffers_full, c.num_requested, c.num_timed"
            " FROM pg_stat_wal w, pg_stat_checkpointer c"
        ).fetchone()
    assert row is not None
    return PostgresCounters(float(row[0]), int(row[1]), int(row[2]), int(row[3]), int(row[4]))
