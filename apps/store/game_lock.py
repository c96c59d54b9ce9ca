"""The per-game lock that keeps a player's erasure and the processor's batches apart.

Every processor transaction takes the lock SHARED for each game of its batch before
writing anything; an erasure takes it EXCLUSIVE for its game. The erasure therefore
starts once the batches of that game in flight have committed (it sees all their
rows) and no batch of that game writes until it has committed: a player's events
and every rollup row are never half-erased, and the processor's batches never wait
on each other (shared locks do not conflict). Batches take their games' locks in
key order, so two erasures and two batches cannot wait on each other in a cycle.

Games share BUCKETS locks: a batch holds at most that many, whatever number of games
it carries (advisory locks take slots of PostgreSQL's shared lock table, sized by
max_locks_per_transaction; running out fails every transaction that needs one). An
erasure also holds back the batches of the games in its bucket, for as long as it runs.
"""

import contextlib
import uuid
from collections.abc import Iterable, Iterator
from typing import Final

import psycopg
from psycopg.rows import TupleRow

NAMESPACE: Final = 0x65726173
"""First key of the two-key advisory locks ("eras"); two-key locks never meet the
migrations' one-key lock."""

SHARED: Final = "SELECT pg_advisory_xact_lock_shared(%s, k) FROM unnest(%s::int4[]) AS k"
"""Parameters: NAMESPACE and `batch_keys(...)` (sorted: unnest keeps the array's order)."""
EXCLUSIVE: Final = "SELECT pg_advisory_xact_lock(%s, %s)"
"""Parameters: NAMESPACE and `game_key(game_id)`."""


BUCKETS: Final = 64


def game_key(game_id: uuid.UUID) -> int:
    """A game's lock key: its bucket, from the uuid's low bits (random in uuid4 and uuid7)."""
    return game_id.int % BUCKETS


def batch_keys(game_ids: Iterable[uuid.UUID]) -> list[int]:
    """The distinct keys of a batch's games, in the one order every transaction takes them."""
    return sorted({game_key(g) for g in set(game_ids)})  # a key per game, not per row


@contextlib.contextmanager
def held(
    conn: psycopg.Connection[TupleRow], game_id: uuid.UUID, *, exclusive: bool
) -> Iterator[None]:
    """The game's lock at session level, across the transactions and S3 calls of one
    archive day (a restore SHARED, the archive's eraser EXCLUSIVE). Call outside any
    transaction; blocks until the lock is granted; released on exit, even on error (a
    connection that dies releases it too)."""
    kind = "" if exclusive else "_shared"
    key = (NAMESPACE, game_key(game_id))
    conn.execute(f"SELECT pg_advisory_lock{kind}(%s, %s)", key)
    try:
        yield
    finally:
        if not conn.closed:
            if conn.info.transaction_status == psycopg.pq.TransactionStatus.INERROR:
                conn.rollback()
            conn.execute(f"SELECT pg_advisory_unlock{kind}(%s, %s)", key)
