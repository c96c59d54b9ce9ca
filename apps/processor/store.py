"""Step 3 of the chain: one batch into PostgreSQL in one transaction, idempotently.

The batch is copied (binary COPY) into a temporary table; event ids are
claimed in `event_keys` (ON CONFLICT DO NOTHING); only the events claimed
now — fresh ones — go into `events` and into every rollup. A replayed batch
claims nothing, so it changes nothing.

The common case is a batch of new events: when the claim took every row,
`incoming` itself holds the fresh events and is read directly. Only when
some ids were claimed before (a replay overlapping this batch) are the
fresh ones picked out, by the claims this transaction made. Duplicates
inside one batch are removed before the COPY (the first received wins), so
a claim covers one row per id. Measured per change in docs/benchmarks.md.
"""

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Final

import psycopg
from psycopg.adapt import Dumper
from psycopg.pq import Format
from psycopg.rows import TupleRow

from apps.processor.partitions import Partitions
from apps.processor.records import COLUMNS, COPY_TYPES, EVENT_TIME, Row
from apps.processor.suppressed import drop_suppressed
from apps.store import game_lock, suppressions
from apps.store.live import LIVE_KEPT

_COLS: Final = ", ".join(COLUMNS)
_RECEIVED_AT: Final = COLUMNS.index("received_at")
_PLAYER: Final = COLUMNS.index("player_id")

_SETUP: Final = (
    "CREATE TEMP TABLE IF NOT EXISTS incoming (LIKE events) ON COMMIT DELETE ROWS",
    "CREATE TEMP TABLE IF NOT EXISTS fresh (LIKE events) ON COMMIT DELETE ROWS",
    "CREATE TEMP TABLE IF NOT EXISTS cohort_moves (LIKE cohort_activity) ON COMMIT DELETE ROWS",
)

# Built from the constant column list only: nothing here comes from input.
# In key order: random event ids inserted in index order touch its leaf pages in order;
# the writer took 11-16% less time per row on 300k rows
# (apps/bench/experiments/writer_statements.py).
_CLAIM_NEW: Final = """
INSERT INTO event_keys (game_id, event_id, event_day)
SELECT game_id, event_id, (event_time AT TIME ZONE 'UTC')::date FROM incoming
ORDER BY game_id, event_id
"""
_CLAIM: Final = _CLAIM_NEW + "ON CONFLICT DO NOTHING"
_CAREFUL_BATCHES: Final = 100
"""After a batch met an id claimed before, claim this many with ON CONFLICT (a replay
after a crash or a rebalance comes in runs), then assume new ids again."""

# Some ids were claimed before: the fresh rows are those whose claim this transaction made.
_PICK_FRESH: Final = f"""
INSERT INTO fresh ({_COLS})
SELECT {", ".join("i." + c for c in COLUMNS)} FROM incoming i
WHERE EXISTS (SELECT FROM event_keys k
              WHERE k.game_id = i.game_id AND k.event_id = i.event_id
                AND k.xmin = pg_current_xact_id()::xid)
"""  # noqa: S608

_STORE: Final = f"INSERT INTO events ({_COLS}) SELECT {_COLS} FROM {{source}}"  # noqa: S608

# Each player's earliest event (the smallest event id among equal times). A player whose
# first event moved earlier (a late event) to another day or acquisition segment takes
# their active days stored before this batch (player_days is written next) from the old
# cohort_activity key to the new one: the changes wait in `cohort_moves` so that one
# statement, _PLAYER_DAYS, updates cohort_activity, in key order (concurrent processors
# of a game lock its rows in the same order: no deadlock).
_PLAYERS: Final = """
WITH moved AS (
    INSERT INTO players AS p (game_id, player_id, first_seen, first_day, platform, country,
                              app_version, first_event_id)
    SELECT c.game_id, c.player_id, c.first_seen, c.first_day, c.platform, c.country,
           c.app_version, c.event_id
    FROM (
        SELECT DISTINCT ON (i.game_id, i.player_id)
               i.game_id, i.player_id, i.event_time, (i.event_time AT TIME ZONE 'UTC')::date,
               coalesce(i.platform, ''), coalesce(i.country, ''), coalesce(i.app_version, ''),
               i.event_id
        FROM {candidates}
        ORDER BY i.game_id, i.player_id, i.event_time, i.event_id
    ) AS c (game_id, player_id, first_seen, first_day, platform, country, app_version,
            event_id)
    -- A player known with an earlier first event is only read, never locked: in a stream
    -- that is nearly every player of the batch (the upsert below would lock each one).
    -- An index probe per player (LIMIT: never a hash of all players).
    LEFT JOIN LATERAL (
        SELECT q.first_seen, coalesce(q.first_event_id, c.event_id) AS first_event_id
        FROM players q WHERE q.game_id = c.game_id AND q.player_id = c.player_id LIMIT 1
    ) q ON true
    WHERE q.first_seen IS NULL OR (c.first_seen, c.event_id) < (q.first_seen, q.first_event_id)
    ORDER BY c.game_id, c.player_id
    ON CONFLICT (game_id, player_id) DO UPDATE
    SET first_seen = excluded.first_seen, first_day = excluded.first_day,
        platform = excluded.platform, country = excluded.country,
        app_version = excluded.app_version, first_event_id = excluded.first_event_id
    WHERE (excluded.first_seen, excluded.first_event_id)
          < (p.first_seen, coalesce(p.first_event_id, excluded.first_event_id))
    RETURNING new.game_id, new.player_id, old.first_day AS old_day, old.platform AS old_platform,
              old.country AS old_country, old.app_version AS old_app_version,
              new.first_day, new.platform, new.country, new.app_version
),
past AS (
    -- A skip scan of player_days' primary key: one descent per day from the old first day.
    SELECT m.*, d.day FROM moved m
    CROSS JOIN LATERAL (SELECT DISTINCT d.day FROM player_days d
                        WHERE d.game_id = m.game_id AND d.player_id = m.player_id
                          AND d.day >= m.old_day) d
    WHERE m.old_day IS NOT NULL
      AND (m.old_day, m.old_platform, m.old_country, m.old_app_version)
          IS DISTINCT FROM (m.first_day, m.platform, m.country, m.app_version)
)
INSERT INTO cohort_moves (game_id, first_day, day_n, platform, country, app_version, players)
SELECT game_id, old_day, day - old_day, old_platform, old_country, old_app_version, -1 FROM past
UNION ALL
SELECT game_id, first_day, day - first_day, platform, country, app_version, 1 FROM past
"""

# player_days (who was active on a day in a segment, and whether they played or paid), the
# per-segment sums of segment_days, and from what player_days gained the per-day distinct
# counts of daily_stats and the new active days of cohort_activity. A player-day already
# stored with every flag this batch would set is only read (an index probe): in a stream
# that is nearly all of them, and the upsert would lock and rewrite each. Only a
# player-day where a row appeared, or a row had its first session_end or purchase, can
# gain a distinct player; for those alone the rows stored before this batch (any segment:
# this statement does not see its own changes) are looked up.
_PLAYER_DAYS: Final = """
WITH batch AS (
    SELECT game_id, (event_time AT TIME ZONE 'UTC')::date AS day, player_id,
           coalesce(platform, '') AS platform, coalesce(country, '') AS country,
           coalesce(app_version, '') AS app_version,
           count(*) AS events,
           count(*) FILTER (WHERE event_type = 'session_end') AS sessions,
           coalesce(sum(duration_seconds) FILTER (WHERE event_type = 'session_end'), 0)
               AS session_seconds,
           count(*) FILTER (WHERE event_type = 'purchase') AS purchases
    FROM {source} GROUP BY 1, 2, 3, 4, 5, 6
),
changed AS (
    SELECT b.game_id, b.day, b.player_id, b.platform, b.country, b.app_version,
           b.sessions > 0 AS played, b.purchases > 0 AS paid
    FROM batch b
    -- An index probe per player-day, whatever the planner guesses of the batch's size (a
    -- hash of all of player_days would read the table per batch). LIMIT keeps it one.
    LEFT JOIN LATERAL (
        SELECT d.played, d.paid FROM player_days d
        WHERE d.game_id = b.game_id AND d.day = b.day AND d.player_id = b.player_id
          AND d.platform = b.platform AND d.country = b.country
          AND d.app_version = b.app_version
        LIMIT 1
    ) d ON true
    WHERE d.played IS NULL OR (b.sessions > 0 AND NOT d.played)
       OR (b.purchases > 0 AND NOT d.paid)
),
up AS (
    INSERT INTO player_days AS d (game_id, day, player_id, platform, country, app_version,
                                  played, paid)
    SELECT * FROM changed ORDER BY 1, 2, 3, 4, 5, 6
    ON CONFLICT (game_id, day, player_id, platform, country, app_version) DO UPDATE
    SET played = d.played OR excluded.played, paid = d.paid OR excluded.paid
    RETURNING new.game_id, new.day, new.player_id, new.played, new.paid,
              old.played IS NULL OR (new.played AND NOT old.played)
              OR (new.paid AND NOT old.paid) AS gaining
),
gained AS (
    SELECT c.game_id, c.day, c.player_id, NOT b.existed AS active,
           c.played AND NOT coalesce(b.played, false) AS played,
           c.paid AND NOT coalesce(b.paid, false) AS paid
    FROM (SELECT game_id, day, player_id, bool_or(played) AS played, bool_or(paid) AS paid
          FROM up WHERE gaining GROUP BY 1, 2, 3) c
    CROSS JOIN LATERAL (
        SELECT count(*) > 0 AS existed, bool_or(d.played) AS played, bool_or(d.paid) AS paid
        FROM player_days d
        WHERE d.game_id = c.game_id AND d.day = c.day AND d.player_id = c.player_id
    ) b
),
segments AS (
    INSERT INTO segment_days AS s (game_id, day, platform, country, app_version, events,
                                   sessions, session_seconds, purchases)
    SELECT game_id, day, platform, country, app_version, sum(events), sum(sessions),
           sum(session_seconds), sum(purchases)
    FROM batch GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT (game_id, day, platform, country, app_version) DO UPDATE
    SET events = s.events + excluded.events, sessions = s.sessions + excluded.sessions,
        session_seconds = s.session_seconds + excluded.session_seconds,
        purchases = s.purchases + excluded.purchases
),
cohorts AS (
    INSERT INTO cohort_activity AS c (game_id, first_day, day_n, platform, country,
                                      app_version, players)
    SELECT game_id, first_day, day_n, platform, country, app_version, sum(players)
    FROM (
        SELECT g.game_id, p.first_day, g.day - p.first_day AS day_n, p.platform, p.country,
               p.app_version, 1 AS players
        FROM gained g
        -- A lookup per new player-day, never a scan of players (LIMIT keeps it a subquery).
        CROSS JOIN LATERAL (SELECT first_day, platform, country, app_version FROM players p
                            WHERE p.game_id = g.game_id AND p.player_id = g.player_id
                            LIMIT 1) p
        WHERE g.active
        UNION ALL
        SELECT game_id, first_day, day_n, platform, country, app_version, players
        FROM cohort_moves
    ) AS delta
    GROUP BY 1, 2, 3, 4, 5, 6 HAVING sum(players) <> 0 ORDER BY 1, 2, 3, 4, 5, 6
    ON CONFLICT (game_id, first_day, day_n, platform, country, app_version) DO UPDATE
    SET players = c.players + excluded.players
)
INSERT INTO daily_stats AS s (game_id, day, players, session_players, paying_players, events,
                              sessions, session_seconds, purchases)
SELECT game_id, day, sum(players), sum(session_players), sum(paying_players), sum(events),
       sum(sessions), sum(session_seconds), sum(purchases)
FROM (
    SELECT game_id, day, 0 AS players, 0 AS session_players, 0 AS paying_players, events,
           sessions, session_seconds, purchases
    FROM batch
    UNION ALL
    SELECT game_id, day, active::int, played::int, paid::int, 0, 0, 0, 0 FROM gained
) AS delta
GROUP BY 1, 2 ORDER BY 1, 2
ON CONFLICT (game_id, day) DO UPDATE
SET players = s.players + excluded.players,
    session_players = s.session_players + excluded.session_players,
    paying_players = s.paying_players + excluded.paying_players,
    events = s.events + excluded.events, sessions = s.sessions + excluded.sessions,
    session_seconds = s.session_seconds + excluded.session_seconds,
    purchases = s.purchases + excluded.purchases
"""

_REVENUE: Final = """
INSERT INTO daily_revenue AS r (game_id, day, platform, country, app_version, currency,
                                amount, purchases)
SELECT game_id, (event_time AT TIME ZONE 'UTC')::date,
       coalesce(platform, ''), coalesce(country, ''), coalesce(app_version, ''), currency,
       sum(amount), count(*)
FROM {source} WHERE event_type = 'purchase' GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6
ON CONFLICT (game_id, day, platform, country, app_version, currency) DO UPDATE
SET amount = r.amount + excluded.amount, purchases = r.purchases + excluded.purchases
"""

# date_bin on a UTC origin is date_trunc('minute', event_time, 'UTC') without a time zone.
_COUNTS: Final = """
INSERT INTO event_counts AS c (game_id, minute, event_type, events)
SELECT game_id, date_bin('1 minute', event_time, '2000-01-01 00:00:00+00'), event_type, count(*)
FROM {source} GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
ON CONFLICT (game_id, minute, event_type) DO UPDATE SET events = c.events + excluded.events
"""

# By receive time, for liveStats; older receipts (a backlog, a replay) are of no live interest.
_LIVE_SECONDS: Final = """
INSERT INTO live_seconds AS l (game_id, second, events)
SELECT game_id, date_trunc('second', received_at), count(*)
FROM {source} WHERE received_at > now() - interval '10 minutes'
GROUP BY 1, 2 ORDER BY 1, 2
ON CONFLICT (game_id, second) DO UPDATE SET events = l.events + excluded.events
"""

_LIVE_PLAYERS: Final = """
INSERT INTO live_players AS l (game_id, player_id, last_received)
SELECT game_id, player_id, max(received_at)
FROM {source} WHERE received_at > now() - interval '10 minutes'
GROUP BY 1, 2
ON CONFLICT (game_id, player_id) DO UPDATE
SET last_received = greatest(l.last_received, excluded.last_received)
"""

# Last, so the row lock that concurrent processors of one game queue on is held only
# for the commit.
_VERSIONS: Final = """
INSERT INTO game_versions AS v (game_id, version, updated_at)
SELECT DISTINCT game_id, 1, now() FROM {source} ORDER BY 1
ON CONFLICT (game_id) DO UPDATE SET version = v.version + 1, updated_at = excluded.updated_at
"""

_PRUNE_EVERY: Final = 60.0
_PRUNE: Final = (
    "DELETE FROM live_seconds WHERE second < now() - %s",
    "DELETE FROM live_players WHERE last_received < now() - %s",
)

# With many events per player, sorting only the rows at each player's earliest time (found
# by a hash aggregate) beats sorting the batch: 0.95 -> 0.35 µs/row at 100 events per
# player; at one event per player the aggregate and join are overhead (+0.9 µs/row).
_CANDIDATES: Final = {
    False: "{source} i",
    True: "{source} i JOIN (SELECT game_id, player_id, min(event_time) AS first_seen"
    " FROM {source} GROUP BY 1, 2) f ON f.game_id = i.game_id AND f.player_id = i.player_id"
    " AND f.first_seen = i.event_time",
}


def _statements(source: str, few_players: bool) -> tuple[str, ...]:
    players = _PLAYERS.format(candidates=_CANDIDATES[few_players])
    steps = (
        _STORE, players, _PLAYER_DAYS, _REVENUE, _COUNTS, _LIVE_SECONDS, _LIVE_PLAYERS, _VERSIONS,
    )  # fmt: skip
    return tuple(stmt.format(source=source) for stmt in steps)


_FROM_FRESH: Final = {
    (source, few): _statements(source, few)
    for source in ("incoming", "fresh")
    for few in (False, True)
}


class _JsonText(Dumper):
    """`properties` arrives as JSON text: binary jsonb is a version byte and that text."""

    format = Format.BINARY

    def dump(self, obj: str) -> bytes:
        return b"\x01" + obj.encode()


def prepare_copy(conn: psycopg.Connection[TupleRow]) -> None:
    """Let binary COPY take `properties` as JSON text (only COPY looks dumpers up by oid)."""
    info = conn.adapters.types.get("jsonb")
    if info is None:
        raise RuntimeError("psycopg knows no jsonb type")
    jsonb_oid = info.oid

    class JsonText(_JsonText):
        oid = jsonb_oid

    conn.adapters.register_dumper(None, JsonText)


def copy_rows(cur: psycopg.Cursor[TupleRow], table: str, rows: Sequence[Row]) -> None:
    """COPY `rows` (in `COLUMNS` order) into `table`, binary; `table` is a trusted name."""
    with cur.copy(f"COPY {table} ({_COLS}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(COPY_TYPES)
        for row in rows:
            copy.write_row(row)


def first_received(rows: Sequence[Row]) -> list[Row]:
    """One row per (game_id, event_id): the first received, in the batch's order."""
    kept: dict[tuple[object, object], int] = {}
    out: list[Row] = []
    for row in rows:
        key = (row[0], row[1])
        at = kept.get(key)
        if at is None:
            kept[key] = len(out)
            out.append(row)
        elif row[_RECEIVED_AT] < out[at][_RECEIVED_AT]:  # type: ignore[operator]
            out[at] = row
    return out


def _distinct(rows: Sequence[Row]) -> Sequence[Row]:
    ids: set[uuid.UUID] = {row[1] for row in rows}  # type: ignore[misc]
    # Equal event ids of two games are told apart by `first_received`, which runs then.
    return rows if len(ids) == len(rows) else first_received(rows)


@dataclass(frozen=True, slots=True)
class Written:
    received: int
    stored: int
    """Events stored for the first time; the rest were duplicates, replays or suppressed."""
    suppressed: int = 0
    """Events of suppressed (erased) players, dropped unstored."""


_NO_PARTITION: Final = "no partition of relation"
"""PostgreSQL's message for a row whose day has no partition."""


class BatchWriter:
    """Writes batches over one connection (autocommit off; one transaction per batch)."""

    def __init__(self, conn: psycopg.Connection[TupleRow], partitions: Partitions) -> None:
        self._conn = conn
        self._partitions = partitions
        self._careful = 0
        self._pruned_at = -_PRUNE_EVERY
        conn.autocommit = True
        for stmt in _SETUP:
            conn.execute(stmt)
        prepare_copy(conn)

    def write(self, rows: Sequence[Row]) -> Written:
        """Store a batch; raises psycopg errors (OperationalError: retry; DataError: bad row)."""
        try:
            return self._write_batch(rows)
        except psycopg.errors.CheckViolation as e:
            if _NO_PARTITION not in (e.diag.message_primary or ""):
                raise
            # The retention service dropped a day this writer had created (an event for it
            # came late, the game's late horizon having grown): learn the days again.
            self._partitions.forget()
            return self._write_batch(rows)

    def _write_batch(self, rows: Sequence[Row]) -> Written:
        self._prune()
        unique = _distinct(rows)
        days: set[date] = {row[EVENT_TIME].date() for row in unique}  # type: ignore[attr-defined]
        self._partitions.ensure(self._conn, days)
        few = 2 * len({row[_PLAYER] for row in unique}) <= len(unique)
        if not self._careful:
            try:
                return Written(len(rows), *self._write(unique, _CLAIM_NEW, few))
            except psycopg.errors.UniqueViolation:
                # An id was claimed before (a replay, a client's retry): the transaction
                # rolled back; claim again, skipping what is claimed.
                self._careful = _CAREFUL_BATCHES
        self._careful -= 1
        return Written(len(rows), *self._write(unique, _CLAIM, few))

    def _prune(self) -> None:
        """Drop live rows older than LIVE_KEPT, at most once a minute (autocommit)."""
        if time.monotonic() - self._pruned_at < _PRUNE_EVERY:
            return
        for stmt in _PRUNE:
            self._conn.execute(stmt, (LIVE_KEPT,))
        self._pruned_at = time.monotonic()

    def _write(self, unique: Sequence[Row], claim: str, few_players: bool) -> tuple[int, int]:
        """One transaction; returns how many rows were claimed (and stored) now, and how
        many were dropped as events of suppressed players."""
        with self._conn.transaction():
            cur = self._conn.cursor()
            # Before writing anything: an erasure of a player of these games waits for this
            # batch, or this batch for it (apps/store/game_lock.py).
            games: set[uuid.UUID] = {row[0] for row in unique}  # type: ignore[misc]
            cur.execute(game_lock.SHARED, (game_lock.NAMESPACE, game_lock.batch_keys(games)))
            # Read now, after the batch's records were polled: a record produced after a
            # suppression committed is dropped (apps/processor/suppressed.py).
            erased = suppressions.digests(self._conn, games)
            kept = drop_suppressed(unique, erased)
            dropped = len(unique) - len(kept)
            if not kept:
                return 0, dropped
            copy_rows(cur, "incoming", kept)
            cur.execute(claim)
            stored = cur.rowcount
            if stored == len(kept):
                source = "incoming"
            elif stored:
                cur.execute(_PICK_FRESH)
                source = "fresh"
            else:
                return 0, dropped
            for stmt in _FROM_FRESH[source, few_players]:
                cur.execute(stmt)
        return stored, dropped
