"""Which players of a game are suppressed (erased, their events refused), cached per game.

A game's digests are loaded on its first request and dropped when a NOTIFY on the
suppressions channel names the game (sent by every change in its transaction), so a
new suppression, or a lifted one, applies at once while the listener is connected.
While it is not, a list is trusted for `_FALLBACK_TTL` only; when PostgreSQL cannot be
asked, the cached list is used however old (no suppression can commit while the
database is down). A game with no suppressions caches an empty set: ingestion then
computes no digest at all.
"""

import logging
import time
import uuid
from typing import Final

import psycopg
from psycopg_pool import AsyncConnectionPool

from apps.core.privacy import SUPPRESSIONS_CHANNEL
from apps.ingest.errors import DependencyDown
from apps.ingest.listen import listen
from apps.store.suppressions import DIGESTS_SQL

log = logging.getLogger(__name__)
_MAX_GAMES: Final = 50_000
_LISTENING_TTL: Final = 300.0
"""A safety net only: while listening, a change drops the game's list at once."""
_FALLBACK_TTL: Final = 5.0
"""How long a list is trusted while the listener is disconnected."""
_NONE: Final[frozenset[bytes]] = frozenset()


class Suppressions:
    """The suppressed digests per game; `run_listener` keeps them current."""

    def __init__(self, pool: AsyncConnectionPool, dsn: str) -> None:
        self._pool, self._dsn = pool, dsn
        self._cache: dict[uuid.UUID, tuple[frozenset[bytes], float]] = {}
        self._listening = False
        self._changes = 0
        """Bumped by every drop: a list read before one is not cached (it may be stale)."""

    async def of_game(self, game_id: uuid.UUID) -> frozenset[bytes]:
        """The game's suppressed digests (usually none). Raises `DependencyDown` when
        PostgreSQL cannot be asked and nothing is cached for the game."""
        now = time.monotonic()
        hit = self._cache.get(game_id)
        if hit is not None and hit[1] > now:
            return hit[0]
        changes = self._changes
        try:
            async with self._pool.connection(timeout=2.0) as conn:
                cur = await conn.execute(DIGESTS_SQL, ([game_id],))
                rows = await cur.fetchall()
        except (psycopg.OperationalError, TimeoutError) as e:
            if hit is not None:
                return hit[0]
            log.warning("suppression lookup failed: %s", type(e).__name__)
            raise DependencyDown("suppression list") from None
        found = frozenset(bytes(row[1]) for row in rows) or _NONE
        if changes == self._changes:
            if len(self._cache) >= _MAX_GAMES:
                self._cache.clear()
            ttl = _LISTENING_TTL if self._listening else _FALLBACK_TTL
            self._cache[game_id] = (found, now + ttl)
        return found

    async def run_listener(self) -> None:
        """LISTEN for suppression changes forever, reconnecting with backoff; cancel to stop."""
        await listen(self._dsn, SUPPRESSIONS_CHANNEL, self._changed, self._listen_state)

    def _changed(self, payload: str) -> None:
        self._changes += 1
        try:
            self._cache.pop(uuid.UUID(payload), None)
        except ValueError:
            self._cache.clear()

    def _listen_state(self, listening: bool) -> None:
        # A change may have been missed while disconnected: start again from PostgreSQL.
        # Disconnected, lists cached from now on expire after the short fallback TTL.
        self._changes += 1
        if listening:
            self._cache.clear()
        else:
            cut = time.monotonic() + _FALLBACK_TTL
            for game_id, (found, until) in list(self._cache.items()):
                self._cache[game_id] = (found, min(until, cut))
        self._listening = listening
