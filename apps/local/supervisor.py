"""Keeping a set of units (servers and services) running, and stopping them in order.

A unit that dies is reported and started again with exponential backoff;
the backoff resets once it has stayed up for a minute.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

log = logging.getLogger(__name__)
_STABLE_AFTER = 60.0
_MAX_BACKOFF = 30.0


class Unit(Protocol):
    @property
    def name(self) -> str: ...

    def start(self) -> None:
        """Start and block until ready; raise if it cannot."""

    def stop(self, timeout: float) -> None: ...

    def alive(self) -> bool: ...


@dataclass
class _Slot:
    unit: Unit
    after_start: Callable[[], None] | None
    started_at: float = 0.0
    restarts: int = 0
    backoff: float = 1.0
    retry_at: float | None = None


@dataclass
class Supervisor:
    report: Callable[[str], None]
    _slots: list[_Slot] = field(default_factory=list)

    def start(self, unit: Unit, after_start: Callable[[], None] | None = None) -> None:
        """Start a unit now (in order of calls) and supervise it from then on."""
        slot = _Slot(unit, after_start)
        self._launch(slot)
        self._slots.append(slot)

    def _launch(self, slot: _Slot) -> None:
        slot.unit.start()
        if slot.after_start is not None:
            slot.after_start()
        slot.started_at = time.monotonic()
        slot.retry_at = None

    def tick(self) -> None:
        """Check every unit once; restart the ones that died, when their backoff allows."""
        now = time.monotonic()
        for slot in self._slots:
            if slot.retry_at is None:
                if slot.unit.alive():
                    if now - slot.started_at > _STABLE_AFTER:
                        slot.backoff = 1.0
                    continue
                slot.restarts += 1
                slot.retry_at = now + slot.backoff
                self.report(
                    f"{slot.unit.name} exited unexpectedly; restarting in {slot.backoff:.0f} s "
                    f"(restart #{slot.restarts}, log in its log file)"
                )
                slot.backoff = min(slot.backoff * 2, _MAX_BACKOFF)
            elif now >= slot.retry_at:
                try:
                    self._launch(slot)
                    self.report(f"{slot.unit.name} restarted")
                except Exception as e:
                    slot.retry_at = now + slot.backoff
                    self.report(f"{slot.unit.name} failed to restart: {e}")

    def stop(self, unit: Unit, timeout: float) -> None:
        """Stop one unit now and stop supervising it."""
        self._slots = [s for s in self._slots if s.unit is not unit]
        unit.stop(timeout)

    def stop_all(self, budget: float) -> None:
        """Stop units in reverse start order, sharing `budget` seconds between them."""
        deadline = time.monotonic() + budget
        for slot in reversed(self._slots):
            left = max(0.5, (deadline - time.monotonic()) / 2)
            try:
                slot.unit.stop(left)
            except Exception as e:
                log.warning("stopping %s: %s", slot.unit.name, e)
        self._slots.clear()
