"""Simulated game traffic: which players play when, and when their events reach the API.

Pure: no clock, no I/O. Every draw comes from the `random.Random` the caller
seeds and every time is an argument, so one seed gives the same players,
sessions and event ids on every run. `Backfill` replays days of history in
the order devices would have delivered it; `LiveTraffic` advances concurrent
sessions one event at a time, at the times the sender's clock passes in.
Both hand out `SimEvent`s through `take`, which is all the sender needs.
"""

import heapq
import itertools
import math
import random
from bisect import bisect
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Protocol

from apps.simulate.players import Player, catch_up
from apps.simulate.sessions import Body, Session, emit, millis, new_session, play, session_length

DAY: Final = timedelta(days=1)
HORIZON_MARGIN: Final = timedelta(hours=1)
"""A backfill starts this much less than `days` ago: its oldest events must still be
inside the late-event horizon when they arrive, seconds to minutes after `now`."""
LIVE_HISTORY_DAYS: Final = 30
"""Live traffic: the players were acquired over the days up to today."""
LIVE_SECONDS_PER_EVENT: Final = 10.0
"""Live: aimed gap between two events of one session; sizes how many are online."""
LATE_AFTER: Final = timedelta(minutes=1)
"""An event delivered this long after its timestamp counts as late."""
OFFLINE_SESSION_SHARE: Final = 0.04
"""Sessions played offline and delivered minutes to hours after they ended."""
OFFLINE_DELAY_SECONDS: Final = (120.0, 8 * 3600.0)
MAX_SESSIONS_PER_DAY: Final = 6


@dataclass(frozen=True, slots=True)
class SimEvent:
    """One event as the wire carries it, and when its device hands it over."""

    body: Body
    timestamp: datetime
    deliver_at: datetime

    @property
    def late(self) -> bool:
        return self.deliver_at - self.timestamp >= LATE_AFTER


class Traffic(Protocol):
    def take(self, times: Sequence[datetime]) -> list[SimEvent]:
        """The next events, one per send time given; fewer once the traffic has ended."""
        ...


class Backfill:
    """`days` of history ending at `now`, in the order the devices delivered it.

    What would still be on a device at `now` (offline play not yet synced,
    the rest of a session in progress) is left out, as in a real history.
    Days are generated one at a time, so memory stays at about a day's events.
    """

    def __init__(
        self, rng: random.Random, players: Sequence[Player], *, days: int, now: datetime
    ) -> None:
        self._events = _history(rng, players, days, now)

    def __iter__(self) -> Iterator[SimEvent]:
        return self._events

    def take(self, times: Sequence[datetime]) -> list[SimEvent]:
        return list(itertools.islice(self._events, len(times)))


def backfill_start(days: int, now: datetime) -> datetime:
    return now - days * DAY + HORIZON_MARGIN


def _history(
    rng: random.Random, players: Sequence[Player], days: int, now: datetime
) -> Iterator[SimEvent]:
    start = backfill_start(days, now)
    hour_cum = _diurnal_cum(start)
    pending: list[tuple[datetime, int, SimEvent]] = []
    order = itertools.count()
    for day in range(days):
        day_start = start + day * DAY
        for player in players:
            if player.acquired_day > day or rng.random() >= player.return_chance(day):
                continue
            for ev in _day_played(rng, player, day_start, hour_cum):
                if ev.deliver_at <= now:
                    heapq.heappush(pending, (ev.deliver_at, next(order), ev))
        # What later days add is timestamped, so delivered, after this day.
        released = day_start + DAY
        while pending and pending[0][0] < released:
            yield heapq.heappop(pending)[2]
    while pending:
        yield heapq.heappop(pending)[2]


def _diurnal_cum(day_start: datetime) -> tuple[float, ...]:
    """Cumulative weights of the 24 hours after `day_start`: evenings (UTC) busiest."""
    hours = ((day_start.hour + h) % 24 for h in range(24))
    return tuple(
        itertools.accumulate(1 + 0.6 * math.cos(2 * math.pi * (h - 20) / 24) for h in hours)
    )


def _day_played(
    rng: random.Random, player: Player, day_start: datetime, hour_cum: Sequence[float]
) -> list[SimEvent]:
    count = 1
    while count < MAX_SESSIONS_PER_DAY and rng.random() < player.more_sessions:
        count += 1
    starts = sorted(
        day_start
        + timedelta(hours=rng.choices(range(24), cum_weights=hour_cum)[0])
        + timedelta(seconds=rng.uniform(0, 3600))
        for _ in range(count)
    )
    out: list[SimEvent] = []
    free_from = day_start
    for wanted in starts:
        start = max(wanted, free_from)  # one session at a time
        length = session_length(rng)
        deliver_at = None
        if rng.random() < OFFLINE_SESSION_SHARE:
            deliver_at = start + timedelta(seconds=length + _offline_delay(rng))
        out += (SimEvent(body, t, deliver_at or t) for t, body in play(rng, player, start, length))
        free_from = start + timedelta(seconds=length + 60)
    return out


class LiveTraffic:
    """Concurrent sessions of the population, one event per call, stamped with its time.

    `rate` (events/s) sizes how many sessions are online so that each sends
    an event about every LIVE_SECONDS_PER_EVENT seconds (with few players,
    sessions run faster). Sessions already in progress at `now` are set up
    mid-way, so the mix of events is steady from the first call. Some new
    sessions come with offline play delivered in one go: late events. The
    players' progress is advanced to `today` (they are mutated).
    """

    def __init__(
        self,
        rng: random.Random,
        players: Sequence[Player],
        *,
        now: datetime,
        rate: float,
        today: int = LIVE_HISTORY_DAYS - 1,
    ) -> None:
        if not players or rate <= 0:
            raise ValueError("live traffic needs at least one player and a positive rate")
        self._rng = rng
        self._players = players
        for player in players:
            catch_up(rng, player, today)
        self._cum = list(
            itertools.accumulate(p.return_chance(today) * (1 + p.more_sessions) for p in players)
        )
        self._busy: set[int] = set()
        self._backlog: deque[SimEvent] = deque()
        slots = min(max(1, round(rate * LIVE_SECONDS_PER_EVENT)), max(1, len(players) // 2))
        gap = slots / rate
        now = millis(now)
        self._online: list[tuple[int, Session]] = []
        for _ in range(slots):
            index, session = self._begin(now, offline=False)
            position = rng.randint(0, session.steps + 1)
            if position:
                session.start = millis(now - timedelta(seconds=position * gap))
                session.next_step = position
            self._online.append((index, session))

    def take(self, times: Sequence[datetime]) -> list[SimEvent]:
        return [self.next_event(t) for t in times]

    def next_event(self, now: datetime) -> SimEvent:
        """The next event; `now` must not go backwards between calls."""
        if self._backlog:
            return self._backlog.popleft()
        now = millis(now)
        slot = self._rng.randrange(len(self._online))
        index, session = self._online[slot]
        body = emit(self._rng, session, now)
        if session.done:
            self._busy.discard(index)
            self._online[slot] = self._begin(now, offline=True)
        return SimEvent(body, now, now)

    def _begin(self, now: datetime, *, offline: bool) -> tuple[int, Session]:
        """A new online session; maybe, too, offline play that a device delivers now."""
        rng = self._rng
        index = self._pick()
        assert index is not None  # at most half the players are online
        self._busy.add(index)
        session = new_session(rng, self._players[index], session_length(rng))
        if offline and rng.random() < OFFLINE_SESSION_SHARE:
            self._offline_play(now)
        return index, session

    def _offline_play(self, now: datetime) -> None:
        rng = self._rng
        index = self._pick()
        if index is None:
            return
        length, delay = session_length(rng), _offline_delay(rng)
        start = now - timedelta(seconds=length + delay)
        played = play(rng, self._players[index], start, length)
        self._backlog.extend(SimEvent(body, t, now) for t, body in played)

    def _pick(self) -> int | None:
        """A player not in a session, the likelier the more they play today."""
        rng, cum, busy = self._rng, self._cum, self._busy
        for _ in range(32):
            index = min(bisect(cum, rng.random() * cum[-1]), len(cum) - 1)
            if index not in busy:
                return index
        free = [i for i in range(len(cum)) if i not in busy]
        return rng.choice(free) if free else None


def _offline_delay(rng: random.Random) -> float:
    """Seconds between the end of offline play and its delivery: log-uniform."""
    lo, hi = OFFLINE_DELAY_SECONDS
    return math.exp(rng.uniform(math.log(lo), math.log(hi)))
