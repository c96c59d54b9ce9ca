"""Offset gaps: records of a partition must arrive at consecutive offsets.

Our producers are idempotent and not transactional and the events topic is
not compacted, so every offset of a partition holds a record and the
consumer sees them in order. A fetch that skips offsets means the broker
answered from a later batch than asked for: the local broker (Tansu 0.6,
memory storage) raises a partition's high watermark before it stores the
batch, so a fetch at the head, while two producers write the same partition,
can list the next producer's batch before this one exists (see
docs/PIPELINE.md). Taking that answer would commit past records that were
never read. So a gap is refetched from the first missing offset; only a gap
that is still there after `retries` refetches (real offsets without records:
a compacted or transactional topic) is accepted, and reported.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

RETRIES: Final = 3


@dataclass(frozen=True, slots=True)
class Gap:
    partition: int
    expected: int
    """The next offset the partition owes us (the first one skipped)."""
    got: int
    refetch: bool
    """True: seek back to `expected` and drop this record; False: a gap given up on, take it."""


@dataclass
class OffsetGaps:
    """Per partition, the next offset owed; pure bookkeeping, the consumer seeks."""

    retries: int = RETRIES
    _next: dict[int, int] = field(default_factory=dict)
    _tries: dict[int, int] = field(default_factory=dict)
    """Refetches of each partition's open gap (one at most: it starts at `_next`)."""

    def start(self, partition: int, offset: int) -> None:
        """The partition is read from `offset` (its committed offset, on assignment)."""
        self._next[partition] = offset

    def forget(self, partitions: Iterable[int]) -> None:
        """The partitions were revoked: whoever reads them next starts afresh."""
        for partition in partitions:
            self._next.pop(partition, None)
            self._tries.pop(partition, None)

    def check(self, partition: int, offset: int) -> Gap | None:
        """None: take the record (it is the next one, or the partition's first); else a Gap."""
        expected = self._next.get(partition)
        if expected is None or offset <= expected:
            # In order; or earlier (a record delivered again: taking it is harmless,
            # the write is idempotent and the committed offset only goes back).
            self._next[partition] = offset + 1
            self._tries.pop(partition, None)
            return None
        tries = self._tries.get(partition, 0)
        if tries < self.retries:
            self._tries[partition] = tries + 1
            return Gap(partition, expected, offset, refetch=True)
        self._tries.pop(partition, None)
        self._next[partition] = offset + 1
        return Gap(partition, expected, offset, refetch=False)
