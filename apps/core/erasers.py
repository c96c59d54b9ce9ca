"""The stores a player's erasure must reach, each with its eraser: one list the job runs.

Each store that keeps player data registers an eraser under its name (PostgreSQL's
first; archives and recommendation vectors when they come). The erasure job runs
every eraser, and fails naming each store whose eraser failed: a receipt is never
written for an erasure that missed a store.
"""

import re
import uuid
from collections.abc import Mapping
from typing import Final, Protocol

from apps.core.errors import GameMetricsError

_NAME: Final = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class Eraser(Protocol):
    """Erases one player of one game from one store; returns counts for the receipt.

    Called by the erasure job, maybe again after it was killed midway: erasing what
    is already erased must succeed and change nothing. May block on its store; raises
    whatever its store raises."""

    def __call__(self, game_id: uuid.UUID, player_id: str) -> Mapping[str, int]: ...


class ErasureFailed(GameMetricsError):
    """One or more erasers failed; `failed` maps each store to its error, `done` holds the
    counts of the stores that succeeded (running the job again erases the rest)."""

    def __init__(
        self, failed: Mapping[str, BaseException], done: Mapping[str, Mapping[str, int]]
    ) -> None:
        stores = "; ".join(f"{name}: {type(e).__name__}: {e}" for name, e in failed.items())
        super().__init__(f"erasure failed in {len(failed)} store(s): {stores}")
        self.failed = dict(failed)
        self.done = dict(done)


class Erasers:
    """Registered erasers, run in registration order."""

    def __init__(self) -> None:
        self._erasers: dict[str, Eraser] = {}

    def register(self, name: str, eraser: Eraser) -> None:
        """Add a store's eraser; a name is lower-case letters, digits and '_', once each."""
        if not _NAME.match(name):
            raise ValueError(f"eraser name {name!r}: lower-case letters, digits and '_' only")
        if name in self._erasers:
            raise ValueError(f"eraser name {name!r}: registered already")
        self._erasers[name] = eraser

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._erasers)

    def __getitem__(self, name: str) -> Eraser:
        return self._erasers[name]

    def erase(self, game_id: uuid.UUID, player_id: str) -> dict[str, Mapping[str, int]]:
        """Run every eraser (a failure does not stop the others); their counts per store.

        Raises ErasureFailed naming each store that failed, and LookupError when no
        eraser is registered (an erasure that reaches no store proves nothing)."""
        if not self._erasers:
            raise LookupError("no eraser is registered")
        done: dict[str, Mapping[str, int]] = {}
        failed: dict[str, BaseException] = {}
        for name, eraser in self._erasers.items():
            try:
                done[name] = eraser(game_id, player_id)
            except Exception as e:
                failed[name] = e
        if failed:
            raise ErasureFailed(failed, done)
        return done
