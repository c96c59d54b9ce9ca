"""Erasing one player of a game from PostgreSQL (GDPR Art. 17), in one transaction.

The player's events (every partition) and their event-id claims are deleted, and
so are the rows that are the player's alone (players, player_days,
live_players). Every shared rollup row the player touched loses exactly what the
player's events added to it, computed from the deleted events themselves: a row
that held only the player's contribution is deleted (as if it had never been
written), the others are updated. Afterwards every rollup equals a recomputation
from the events that remain (docs/PRIVACY.md, "What is erased where").

One transaction, under the game's exclusive lock (`game_lock`): killed midway it
rolls back and leaves nothing half-erased; run again it erases what is left, and
on a player with nothing stored it changes nothing (not even the game's version).
"""

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

import psycopg
from psycopg.rows import TupleRow

from apps.core.erasers import Erasers
from apps.core.privacy import player_digest
from apps.store import game_lock
from apps.store.live import LIVE_KEPT

ATTEMPTS: Final = 3
"""Tries of the transaction when PostgreSQL aborts it to break a deadlock. Only the
processor's pruning of the live tables (across games, in no set order) can meet an
erasure in one; batches of the game wait for the game's lock instead."""

_SETUP: Final = (
    "CREATE TEMP TABLE erased_events (event_id uuid, event_type text, event_time timestamptz,"
    " received_at timestamptz, platform text, country text, app_version text,"
    " duration_seconds double precision, amount double precision, currency text)"
    " ON COMMIT DROP",
    "CREATE TEMP TABLE erased_days (day date, played boolean, paid boolean) ON COMMIT DROP",
)

# Segment columns as the rollups key them: '' where the event had none.
_EVENTS: Final = """
WITH gone AS (
    DELETE FROM events WHERE game_id = %(game)s AND player_id = %(player)s
    RETURNING event_id, event_type, event_time, received_at, coalesce(platform, ''),
              coalesce(country, ''), coalesce(app_version, ''), duration_seconds, amount,
              currency
)
INSERT INTO erased_events SELECT * FROM gone
"""
_EVENT_KEYS: Final = """
DELETE FROM event_keys k USING erased_events e
WHERE k.game_id = %(game)s AND k.event_id = e.event_id
"""
_PLAYER_DAYS: Final = """
WITH gone AS (
    DELETE FROM player_days WHERE game_id = %(game)s AND player_id = %(player)s
    RETURNING day, played, paid
)
INSERT INTO erased_days SELECT * FROM gone
"""
_PLAYERS: Final = """
DELETE FROM players WHERE game_id = %(game)s AND player_id = %(player)s
RETURNING first_day, platform, country, app_version
"""
_LIVE_PLAYERS: Final = (
    "DELETE FROM live_players WHERE game_id = %(game)s AND player_id = %(player)s"
)
# The data of the player's finished exports (a running export holds the game's lock
# SHARED, so it has either committed, and goes here, or not started reading).
_EXPORTS: Final = """
DELETE FROM privacy_export_parts p USING privacy_jobs j
WHERE j.job_id = p.job_id AND j.game_id = %(game)s AND j.player_digest = %(digest)s
"""
_ARCHIVED_TOTALS: Final = (
    "DELETE FROM player_archived_totals WHERE game_id = %(game)s AND player_id = %(player)s"
)
_OWN: Final = (
    ("events", _EVENTS), ("event_keys", _EVENT_KEYS), ("player_days", _PLAYER_DAYS),
    ("live_players", _LIVE_PLAYERS), ("privacy_export_parts", _EXPORTS),
    ("player_archived_totals", _ARCHIVED_TOTALS),
)  # fmt: skip
_ANALYZE: Final = {"events": "ANALYZE erased_events", "player_days": "ANALYZE erased_days"}
"""Row counts for the planner: joined to a game's whole table (event_keys, the rollups),
a temp table it knows nothing of could make a hash join that reads all of that."""
_VERSION: Final = """
INSERT INTO game_versions AS v (game_id, version, updated_at) VALUES (%(game)s, 1, now())
ON CONFLICT (game_id) DO UPDATE SET version = v.version + 1, updated_at = excluded.updated_at
"""


@dataclass(frozen=True, slots=True)
class _Rollup:
    """A shared rollup: what the erased events added to each of its rows (`delta`, a SELECT
    of `keys` then `values`), and the count column that is 0 in a row that held nothing
    else."""

    table: str
    keys: tuple[str, ...]
    values: tuple[str, ...]
    emptied_by: str
    delta: str

    def statements(self) -> tuple[str, str]:
        """Delete the rows left empty, then subtract from the rest. Both read `delta`
        before either runs (the game's lock keeps the processor from these rows)."""
        cols = self.keys + self.values
        match = " AND ".join(["t.game_id = %(game)s", *(f"t.{k} = d.{k}" for k in self.keys)])
        source = f"({self.delta}) AS d ({', '.join(cols)})"
        # Built from the constants below only: nothing here comes from input.
        emptied = f"t.{self.emptied_by} <= d.{self.emptied_by}"
        delete = f"DELETE FROM {self.table} t USING {source} WHERE {match} AND {emptied}"  # noqa: S608
        subtract = ", ".join(f"{v} = t.{v} - d.{v}" for v in self.values)
        update = f"UPDATE {self.table} t SET {subtract} FROM {source} WHERE {match}"  # noqa: S608
        return delete, update


_SEGMENT: Final = ("platform", "country", "app_version")

ROLLUPS: Final = (
    _Rollup(
        "segment_days", ("day", *_SEGMENT), ("events", "sessions", "session_seconds", "purchases"),
        "events",
        """SELECT (event_time AT TIME ZONE 'UTC')::date, platform, country, app_version, count(*),
                   count(*) FILTER (WHERE event_type = 'session_end'),
                   coalesce(sum(duration_seconds) FILTER (WHERE event_type = 'session_end'), 0),
                   count(*) FILTER (WHERE event_type = 'purchase')
            FROM erased_events GROUP BY 1, 2, 3, 4""",
    ),
    _Rollup(
        "daily_stats", ("day",),
        ("players", "session_players", "paying_players", "events", "sessions",
         "session_seconds", "purchases"),
        "players",
        """SELECT day, (count(d.day) > 0)::int, coalesce(bool_or(d.played), false)::int,
                   coalesce(bool_or(d.paid), false)::int,
                   coalesce(max(e.events), 0), coalesce(max(e.sessions), 0),
                   coalesce(max(e.session_seconds), 0), coalesce(max(e.purchases), 0)
            FROM erased_days d
            FULL JOIN (SELECT (event_time AT TIME ZONE 'UTC')::date AS day, count(*) AS events,
                              count(*) FILTER (WHERE event_type = 'session_end') AS sessions,
                              coalesce(sum(duration_seconds)
                                       FILTER (WHERE event_type = 'session_end'), 0)
                                  AS session_seconds,
                              count(*) FILTER (WHERE event_type = 'purchase') AS purchases
                       FROM erased_events GROUP BY 1) e USING (day)
            GROUP BY day""",
    ),
    # A day of erased_events with no erased_days row (archived events, erased after the
    # player's rows) loses its events only: its players were taken with player_days.
    # The player's cohort is their `players` row (passed as parameters): one player on each
    # of their active days.
    _Rollup(
        "cohort_activity", ("first_day", "day_n", *_SEGMENT), ("players",), "players",
        """SELECT %(first_day)s::date, day - %(first_day)s::date, %(platform)s::text,
                  %(country)s::text, %(app_version)s::text, 1
           FROM (SELECT DISTINCT day FROM erased_days) d
           WHERE %(first_day)s::date IS NOT NULL""",
    ),
    _Rollup(
        "daily_revenue", ("day", *_SEGMENT, "currency"), ("amount", "purchases"), "purchases",
        """SELECT (event_time AT TIME ZONE 'UTC')::date, platform, country, app_version, currency,
                   coalesce(sum(amount), 0), count(*)
            FROM erased_events WHERE event_type = 'purchase' GROUP BY 1, 2, 3, 4, 5""",
    ),
    _Rollup(
        "event_counts", ("minute", "event_type"), ("events",), "events",
        """SELECT date_bin('1 minute', event_time, '2000-01-01 00:00:00+00'), event_type,
                  count(*)
           FROM erased_events GROUP BY 1, 2""",
    ),
    # The processor counts an event here only if it was received within LIVE_KEPT of its
    # write, so every event received within LIVE_KEPT of now was counted; older rows are
    # past the window (pruned within a minute) and left alone.
    _Rollup(
        "live_seconds", ("second",), ("events",), "events",
        """SELECT date_trunc('second', received_at), count(*) FROM erased_events
           WHERE received_at > now() - %(live_kept)s GROUP BY 1""",
    ),
)  # fmt: skip

_OWN_ROWS: Final = (
    "events", "event_keys", "players", "player_days", "live_players", "privacy_export_parts",
    "player_archived_totals",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class ErasureCounts:
    """What one erasure did, per table: rows deleted, and shared rows updated in place."""

    removed: Mapping[str, int]
    recomputed: Mapping[str, int]

    @property
    def nothing(self) -> bool:
        """True when the player had nothing stored: the erasure changed no row."""
        return not any(self.removed.values()) and not any(self.recomputed.values())

    def flat(self) -> dict[str, int]:
        """`table.removed` and `table.recomputed` counts, for an eraser's receipt."""
        out = {f"{t}.removed": n for t, n in self.removed.items()}
        out.update({f"{t}.recomputed": n for t, n in self.recomputed.items()})
        return out


Then = Callable[[psycopg.Connection[TupleRow], "ErasureCounts"], None]


def erase_player(
    conn: psycopg.Connection[TupleRow], game_id: uuid.UUID, player_id: str,
    then: Then | None = None,
) -> ErasureCounts:  # fmt: skip
    """Erase `player_id` of `game_id` in one transaction; returns what it removed and changed.

    Call with no transaction open on `conn` (it commits; ValueError otherwise). Blocks
    while batches of the game are in flight, and holds the processor's batches of the
    game back until it commits. `then(conn, counts)` runs inside the transaction before
    it commits (the privacy job records the counts with the erasure, so a job killed
    after the commit does not recount zero). Raises psycopg errors (a deadlock only
    after ATTEMPTS tries).
    """
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        raise ValueError("erase_player needs a connection with no transaction open")
    for attempt in range(1, ATTEMPTS + 1):
        try:
            with conn.transaction():
                counts = _erase(conn, game_id, player_id)
                if then is not None:
                    then(conn, counts)
                return counts
        except (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure):
            if attempt == ATTEMPTS:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _erase(conn: psycopg.Connection[TupleRow], game_id: uuid.UUID, player_id: str) -> ErasureCounts:
    cur = conn.cursor()
    cur.execute(game_lock.EXCLUSIVE, (game_lock.NAMESPACE, game_lock.game_key(game_id)))
    prepare(cur)
    params: dict[str, object] = {
        "game": game_id, "player": player_id, "live_kept": LIVE_KEPT,
        "digest": player_digest(game_id, player_id),
    }  # fmt: skip
    removed: dict[str, int] = {}
    for table, stmt in _OWN:
        cur.execute(stmt, params)
        removed[table] = cur.rowcount
        if table in _ANALYZE:
            cur.execute(_ANALYZE[table])
    cur.execute(_PLAYERS, params)
    cohort = cur.fetchone()
    removed["players"] = 0 if cohort is None else 1
    first_day, platform, country, app_version = cohort or (None, None, None, None)
    params.update(first_day=first_day, platform=platform, country=country, app_version=app_version)
    shared = subtract(cur, params)
    removed.update(shared.removed)
    counts = ErasureCounts(
        {t: removed[t] for t in (*_OWN_ROWS, *(r.table for r in ROLLUPS))}, shared.recomputed
    )
    if not counts.nothing:
        bump_version(cur, game_id)
    return counts


def prepare(cur: psycopg.Cursor[TupleRow]) -> None:
    """Create the transaction's `erased_events` and `erased_days` (dropped at commit)."""
    for stmt in _SETUP:
        cur.execute(stmt)


def subtract(cur: psycopg.Cursor[TupleRow], params: Mapping[str, object]) -> ErasureCounts:
    """Take what the rows of `erased_events` and `erased_days` added out of every shared
    rollup of the game (`params`: game, live_kept, and the player's cohort: first_day,
    platform, country, app_version, all None when it has none). The caller holds the
    game's lock EXCLUSIVE and the transaction; the archive's eraser fills `erased_events`
    from archived rows and leaves `erased_days` empty (its players went with PostgreSQL's
    erasure), so archived and stored events are taken out by the same statements."""
    removed: dict[str, int] = {}
    recomputed: dict[str, int] = {}
    for rollup in ROLLUPS:
        delete, update = rollup.statements()
        cur.execute(delete, params)
        removed[rollup.table] = cur.rowcount
        cur.execute(update, params)
        recomputed[rollup.table] = cur.rowcount
    return ErasureCounts(removed, recomputed)


def bump_version(cur: psycopg.Cursor[TupleRow], game_id: uuid.UUID) -> None:
    """Cached analytics answers of the game drop."""
    cur.execute(_VERSION, {"game": game_id})


NO_COHORT: Final[Mapping[str, object]] = {
    "first_day": None, "platform": None, "country": None, "app_version": None,
}  # fmt: skip
"""`subtract`'s cohort parameters when only events are taken out."""


POSTGRES: Final = "postgres"
"""The PostgreSQL eraser's name in `apps.core.erasers.Erasers`."""


class PostgresEraser:
    """`erase_player` as an `apps.core.erasers.Eraser`: a connection of its own per call."""

    def __init__(self, dsn: str, connect_timeout: float = 5) -> None:
        self._dsn = dsn
        self._connect_timeout = connect_timeout

    def __call__(self, game_id: uuid.UUID, player_id: str) -> Mapping[str, int]:
        with psycopg.connect(
            self._dsn, autocommit=True, connect_timeout=int(self._connect_timeout)
        ) as conn:
            return erase_player(conn, game_id, player_id).flat()


def register_postgres(erasers: Erasers, dsn: str) -> None:
    """Register PostgreSQL's eraser (under POSTGRES): the first store every erasure reaches."""
    erasers.register(POSTGRES, PostgresEraser(dsn))
