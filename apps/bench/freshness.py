"""Freshness: from the 202 of a request to its marker event being visible in the rollups.

A marker is an event whose player id is new (`unique.marker_id`), so the
`players` row it creates appears exactly when the transaction that stored
it commits. The load generator records the wall time of each marker's 202;
`poll_markers`, in its own process, queries `players` for the phase's
markers every few milliseconds and records when each first appeared. The
poll period bounds the error (a marker is charged up to one period late).
"""

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event
from typing import Final

from apps.bench.loadgen import percentile
from apps.bench.unique import marker_bounds, marker_id

POLL_INTERVAL: Final = 0.005
_WINDOW: Final = 2000
"""Markers below the newest seen minus this are no longer asked for (one lost or failed
marker must not make every poll return every marker after it)."""
_POLL: Final = (
    "SELECT player_id FROM players WHERE game_id = %s AND player_id >= %s AND player_id < %s"
)


@dataclass(frozen=True, slots=True)
class Freshness:
    seconds: tuple[float, ...]
    """Sorted ascending: seen in `players` minus answered 202, per marker."""
    missing: int
    """Markers answered 202 but never seen before the poller stopped."""

    def quantile(self, q: float) -> float | None:
        """Percentile over every marker; a missing marker counts as infinitely late."""
        n = len(self.seconds) + self.missing
        if n == 0:
            return None
        values = [*self.seconds, *([float("inf")] * self.missing)]
        return percentile(values, q)


def number_of(marker: str, phase: int) -> int | None:
    low, _ = marker_bounds(phase)
    if not marker.startswith(low) or not marker[len(low) :].isdigit():
        return None
    return int(marker[len(low) :])


def freshness(
    accepted: Iterable[tuple[str, float]], seen: Mapping[int, float], phase: int
) -> Freshness:
    """Pair each accepted marker (id, wall time of its 202) with when it was seen."""
    late: list[float] = []
    missing = 0
    for marker, at in accepted:
        number = number_of(marker, phase)
        if number is None:
            raise ValueError(f"{marker!r} is not a marker of phase {phase}")
        when = seen.get(number)
        if when is None:
            missing += 1
        else:
            late.append(when - at)
    return Freshness(tuple(sorted(late)), missing)


def poll_markers(dsn: str, game_id: str, phase: int, stop: Event, out: Connection) -> None:
    """Process target: poll `players` for the markers of `phase` until `stop`, one more
    time after it, then send {marker number: wall time first seen} through `out`."""
    import psycopg

    seen: dict[int, float] = {}
    low, newest = 0, -1
    _, high = marker_bounds(phase)
    with psycopg.connect(dsn, autocommit=True) as conn:
        cur = conn.cursor()
        while True:
            last = stop.is_set()
            asked = time.time()
            cur.execute(_POLL, (game_id, marker_id(phase, low), high), prepare=True)
            for (player,) in cur.fetchall():
                number = number_of(player, phase)
                if number is not None and number not in seen:
                    seen[number] = asked
                    newest = max(newest, number)
            while low in seen:
                low += 1
            low = max(low, newest - _WINDOW)
            if last:
                break
            time.sleep(POLL_INTERVAL)
    out.send(seen)
    out.close()
