"""One retention pass over every game: move, drop and expire raw events by their windows.

A pass:

1. takes the retention lock (one pass at a time, whatever the replicas);
2. waits until the processor has stored every event accepted before the pass began
   (apps/kafka/progress.py): a day leaves PostgreSQL only once ingestion refuses it,
   and only once no accepted event of it is still in flight;
3. for each daily partition old enough for some game, oldest first, and each game with
   rows in it whose hot window it has left: archives the game-day (apps/retention/
   archiver.py), or, for a game that keeps no archive or a day already past the archive
   window, deletes it outright. When every game of the partition has left, the
   partition is dropped whole (one transaction: the catalog rows, the day's event-id
   claims and the DROP) instead of deleting its rows game by game;
4. deletes archived days past their game's `archive_days` (objects, then catalog row),
   and objects of days the catalog does not know (what a crash left behind).

A fault of S3, PostgreSQL or Kafka stops the pass (the caller retries with backoff);
a day whose files do not match is reported and skipped; the rest of the pass goes on.
"""

import logging
import time
import uuid
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import islice
from typing import Any, Final

import psycopg
from psycopg import errors, sql
from psycopg.rows import TupleRow

from apps.archive import objects
from apps.core.retention import Retention
from apps.core.settings.retention import RetentionSettings
from apps.kafka.progress import Progress, behind
from apps.retention import archiver
from apps.retention.archiver import Changed, DayProblem, Target
from apps.retention.schedule import GameWindows, windows
from apps.store import archived_days, game_lock, raw_events
from apps.store.archived_days import ArchivedDay

log = logging.getLogger(__name__)

_PASS_LOCK: Final = (0x72657465, 0)
"""Session advisory lock of a pass ("rete"): two replicas never run one at once."""
_PARTITIONS: Final = """
SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = 'events'::regclass AND c.relname ~ '^events_p[0-9]{8}$'
ORDER BY c.relname
"""
_DROP_LOCK_TIMEOUT: Final = "5s"
"""Dropping a partition waits for the queries reading it; past this the pass deletes the
day's rows game by game instead of queueing every writer behind the DROP."""


class ProcessorBehind(Exception):
    """The processor has not stored the events in flight: nothing may leave PostgreSQL."""


class PassBusy(Exception):
    """Another pass holds the retention lock."""


@dataclass(slots=True)
class PassReport:
    started_at: datetime
    seconds: float = 0.0
    days_archived: int = 0
    rows_archived: int = 0
    bytes_written: int = 0
    rows_deleted: int = 0
    days_dropped: int = 0
    """Game-days deleted without archiving (archive_days 0, or already past the archive)."""
    partitions_dropped: int = 0
    days_expired: int = 0
    leftovers_deleted: int = 0
    problems: list[str] = field(default_factory=list)
    retried_later: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "started_at": self.started_at.isoformat(),
            "seconds": round(self.seconds, 3),
            "days_archived": self.days_archived,
            "rows_archived": self.rows_archived,
            "bytes_written": self.bytes_written,
            "rows_deleted": self.rows_deleted,
            "days_dropped": self.days_dropped,
            "partitions_dropped": self.partitions_dropped,
            "days_expired": self.days_expired,
            "leftovers_deleted": self.leftovers_deleted,
            "problems": self.problems,
            "retried_later": self.retried_later,
        }


@dataclass(slots=True)
class _Ready:
    """A partition's game-days as a pass prepared them, waiting for their commit."""

    partition: str
    day: date
    present: set[uuid.UUID]
    """Every game with rows in the partition (the due ones or not)."""
    games: dict[uuid.UUID, "archiver.Prepared | None"] = field(default_factory=dict)
    """The due games: prepared, or None for a day deleted without archiving."""
    restored: dict[uuid.UUID, bool] = field(default_factory=dict)
    """Due games whose day was archived before (back in PostgreSQL): folded already."""


@dataclass(frozen=True, slots=True)
class Game:
    game_id: uuid.UUID
    windows: GameWindows


Hook = Callable[[str, uuid.UUID, date], None]
"""Told each step of a game-day (`uploaded`, `manifest`, `prepared`, `committed`): the crash
tests kill a pass there."""


def _no_hook(step: str, game_id: uuid.UUID, day: date) -> None:
    pass


class Pass:
    """One pass (see the module docstring); `run` does it."""

    def __init__(
        self, settings: RetentionSettings, s3: Any, today: date | None = None,
        hook: Hook = _no_hook, only: frozenset[uuid.UUID] | None = None,
    ) -> None:  # fmt: skip
        """`today` (UTC) dates the windows; `only` limits the pass to some games (the
        others' rows and files are not touched, and their partitions are not dropped)."""
        self._settings = settings
        self._target = Target(
            s3, settings.archive_bucket, settings.rows_per_part, settings.rows_per_group
        )
        self._today = today
        self._hook = hook
        self._only = only
        self.report = PassReport(datetime.now(UTC))

    def run(self) -> PassReport:
        started = time.monotonic()
        with self._connect() as conn:
            conn.autocommit = True
            got = conn.execute("SELECT pg_try_advisory_lock(%s, %s)", _PASS_LOCK).fetchone()
            if not got or not got[0]:
                raise PassBusy("another retention pass is running")
            try:
                self._wait_for_processor()
                conn.autocommit = False
                self._run(conn)
            finally:
                conn.rollback()
                conn.autocommit = True
                conn.execute("SELECT pg_advisory_unlock(%s, %s)", _PASS_LOCK)
        self.report.seconds = time.monotonic() - started
        return self.report

    def _wait_for_processor(self) -> None:
        progress = Progress(self._settings, "gamemetrics-retention")
        ends = progress.end_offsets()
        deadline = time.monotonic() + self._settings.kafka_wait.total_seconds()
        while short := behind(ends, progress.committed(ends)):
            if time.monotonic() > deadline:
                raise ProcessorBehind(
                    f"the processor has not stored the events in flight (records behind by"
                    f" partition: {short}); nothing leaves PostgreSQL until it has"
                )
            time.sleep(0.5)

    def _run(self, conn: psycopg.Connection[TupleRow]) -> None:
        today = self._today or datetime.now(UTC).date()
        games = _games(conn, self._settings.late_horizon, today)
        if self._only is not None:
            games = {g: w for g, w in games.items() if g in self._only}
        catalog = _catalog(conn)
        conn.commit()
        due = []
        for partition in _partitions(conn):
            day = datetime.strptime(partition.removeprefix("events_p"), "%Y%m%d").date()
            if any(g.windows.leaves_postgres(day) for g in games.values()):
                due.append((partition, day))  # else younger than every game's window
        self._partitions_in_order(conn, due, games, catalog)
        self._expire(conn, games, catalog)
        self._sweep(conn, games, catalog)

    def _partitions_in_order(
        self, conn: psycopg.Connection[TupleRow], due: list[tuple[str, date]],
        games: dict[uuid.UUID, Game], catalog: dict[tuple[uuid.UUID, date], ArchivedDay],
    ) -> None:  # fmt: skip
        """Prepare up to `prepare_ahead` partitions at once (each on a connection of its
        own: PostgreSQL's COPY of one day runs while the pass encodes and uploads
        another), and commit them one by one, oldest first, on `conn`."""
        pending: deque[Future[_Ready]] = deque()
        days = iter(due)
        with ThreadPoolExecutor(self._settings.prepare_ahead, "retention-prepare") as pool:
            try:
                for partition, day in islice(days, self._settings.prepare_ahead):
                    pending.append(pool.submit(self._prepare, partition, day, games, catalog))
                while pending:
                    ready = pending.popleft().result()
                    following = next(days, None)
                    if following is not None:
                        pending.append(pool.submit(self._prepare, *following, games, catalog))
                    self._commit_partition(conn, ready)
            finally:
                for future in pending:
                    future.cancel()

    def _prepare(
        self, partition: str, day: date, games: dict[uuid.UUID, Game],
        catalog: dict[tuple[uuid.UUID, date], ArchivedDay],
    ) -> "_Ready":  # fmt: skip
        """Every due game-day of the partition written and verified (nothing deleted)."""
        with self._connect() as conn:
            present = raw_events.games_in(conn, partition)
            conn.commit()
            ready = _Ready(partition, day, present)
            for game_id in sorted(present):
                game = games.get(game_id)
                if game is None or not game.windows.leaves_postgres(day):
                    continue  # an unknown game's rows stay: nothing says how long to keep them
                entry = catalog.get((game_id, day))
                if (
                    entry is not None
                    and entry.state == "restored"
                    and entry.restored_until
                    and (entry.restored_until > datetime.now(UTC))
                ):
                    continue
                if game.windows.expired(day):
                    ready.games[game_id] = None  # deleted without archiving
                    ready.restored[game_id] = entry is not None and entry.in_postgres
                    continue

                def step(name: str, game_id: uuid.UUID = game_id) -> None:
                    self._hook(name, game_id, day)

                try:
                    prepared = archiver.prepare(conn, self._target, game_id, day, entry, step)
                except DayProblem as e:
                    conn.rollback()
                    archiver.report(conn, e)
                    self.report.problems.append(str(e))
                    continue
                step("prepared")
                ready.games[game_id] = prepared
                ready.restored[game_id] = not prepared.first_time
        return ready

    def _commit_partition(self, conn: psycopg.Connection[TupleRow], ready: "_Ready") -> None:
        if not ready.games:
            return
        whole = set(ready.games) == ready.present and not any(ready.restored.values())
        if whole and self._drop(conn, ready.partition, ready.day, ready.games):
            return
        for game_id, done in ready.games.items():
            self._commit_one(conn, game_id, ready.day, done, ready.restored[game_id])

    def _connect(self) -> psycopg.Connection[TupleRow]:
        timeout_ms = int(self._settings.statement_timeout.total_seconds() * 1000)
        return psycopg.connect(
            self._settings.postgres_dsn, options=f"-c statement_timeout={timeout_ms}"
        )

    def _commit_one(
        self, conn: psycopg.Connection[TupleRow], game_id: uuid.UUID, day: date,
        prepared: archiver.Prepared | None, restored: bool,
    ) -> None:  # fmt: skip
        if prepared is None:
            self._delete_unarchived(conn, game_id, day, folded=restored)
            return
        try:
            deleted = archiver.commit(conn, self._target, prepared)
        except Changed as e:
            self.report.retried_later.append(str(e))
            return
        self._count(prepared, deleted)
        self._hook("committed", game_id, day)

    def _count(self, prepared: archiver.Prepared, deleted: int) -> None:
        self.report.days_archived += 1
        self.report.rows_archived += prepared.new_rows
        self.report.bytes_written += prepared.new_bytes
        self.report.rows_deleted += deleted

    def _delete_unarchived(
        self, conn: psycopg.Connection[TupleRow], game_id: uuid.UUID, day: date, folded: bool
    ) -> None:
        """A day that is kept in no archive: its rows, claims, catalog row and objects go
        (the players' totals keep what the rows added, unless `folded` before)."""
        with conn.transaction():
            conn.execute(game_lock.SHARED, (game_lock.NAMESPACE, [game_lock.game_key(game_id)]))
            self.report.rows_deleted += raw_events.delete_day(
                conn, game_id, day, None if folded else ()
            )
            archived_days.forget(conn, game_id, day)
        objects.delete_day(self._target.s3, self._target.bucket, game_id, day)
        self.report.days_dropped += 1

    def _drop(
        self, conn: psycopg.Connection[TupleRow], partition: str, day: date,
        ready: dict[uuid.UUID, archiver.Prepared | None],
    ) -> bool:  # fmt: skip
        """Every game of the partition has left: catalog them all, drop the partition and
        the day's claims in one transaction. False (nothing changed) if a game's rows
        changed meanwhile or the partition is busy past the lock timeout."""
        try:
            with conn.transaction():
                conn.execute(f"SET LOCAL lock_timeout = '{_DROP_LOCK_TIMEOUT}'")
                conn.execute(game_lock.SHARED, (game_lock.NAMESPACE, game_lock.batch_keys(ready)))
                now = raw_events.fold_partition(conn, partition)
                if set(now) != set(ready) or any(
                    p is not None and now[g] != p.pg_rows for g, p in ready.items()
                ):
                    raise Changed(f"partition {partition}: rows changed while archiving")
                for prepared in ready.values():
                    if prepared is not None:
                        archiver.check_unchanged(conn, prepared)
                conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(partition)))
                conn.execute("DELETE FROM event_keys WHERE event_day = %s", (day,))
                for game_id, prepared in ready.items():
                    if prepared is None:
                        archived_days.forget(conn, game_id, day)
                    else:
                        archived_days.record(conn, prepared.manifest, "archived")
        except (Changed, errors.LockNotAvailable) as e:
            log.info("partition %s not dropped whole (%s): deleting game by game", partition, e)
            return False
        self.report.partitions_dropped += 1
        for game_id, prepared in ready.items():
            if prepared is None:
                objects.delete_day(self._target.s3, self._target.bucket, game_id, day)
                self.report.rows_deleted += now[game_id]
                self.report.days_dropped += 1
            else:
                archiver.remove_leftovers(self._target, game_id, day, prepared.leftovers)
                self._count(prepared, now[game_id])
                self._hook("committed", game_id, day)
        return True

    def _expire(
        self, conn: psycopg.Connection[TupleRow], games: dict[uuid.UUID, Game],
        catalog: dict[tuple[uuid.UUID, date], ArchivedDay],
    ) -> None:  # fmt: skip
        for (game_id, day), entry in sorted(catalog.items(), key=lambda kv: kv[0][1]):
            game = games.get(game_id)
            if game is None or not game.windows.archives or not game.windows.expired(day):
                continue
            objects.delete_day(self._target.s3, self._target.bucket, game_id, day)
            with conn.transaction():
                conn.execute(game_lock.SHARED, (game_lock.NAMESPACE, [game_lock.game_key(game_id)]))
                if entry.in_postgres:  # restored: its rows were folded when first archived
                    self.report.rows_deleted += raw_events.delete_day(conn, game_id, day, None)
                archived_days.forget(conn, game_id, day)
            self.report.days_expired += 1

    def _sweep(
        self, conn: psycopg.Connection[TupleRow], games: dict[uuid.UUID, Game],
        catalog: dict[tuple[uuid.UUID, date], ArchivedDay],
    ) -> None:  # fmt: skip
        """Delete the folders of days the catalog does not list and PostgreSQL does not hold
        (a pass killed after writing parts, the day then erased or expired)."""
        fresh = _catalog(conn)
        conn.commit()
        for game_id in games:
            for day in objects.archived_days(self._target.s3, self._target.bucket, game_id):
                if (game_id, day) in fresh or (game_id, day) in catalog:
                    continue
                if _holds(conn, game_id, day):
                    continue  # the next pass archives it and reuses nothing of this
                self.report.leftovers_deleted += objects.delete_day(
                    self._target.s3, self._target.bucket, game_id, day
                )


def _games(
    conn: psycopg.Connection[TupleRow], default_horizon: timedelta, today: date
) -> dict[uuid.UUID, Game]:
    rows = conn.execute(
        "SELECT game_id, hot_days, archive_days, late_horizon_days FROM games"
    ).fetchall()
    return {
        g: Game(
            g,
            windows(
                Retention(hot, kept),
                timedelta(days=horizon) if horizon else default_horizon,
                today,
            ),
        )
        for g, hot, kept, horizon in rows
    }


def _catalog(conn: psycopg.Connection[TupleRow]) -> dict[tuple[uuid.UUID, date], ArchivedDay]:
    return {(d.game_id, d.event_date): d for d in archived_days.all_days(conn)}


def _partitions(conn: psycopg.Connection[TupleRow]) -> list[str]:
    names = [r[0] for r in conn.execute(_PARTITIONS).fetchall()]
    conn.commit()
    return names


def _holds(conn: psycopg.Connection[TupleRow], game_id: uuid.UUID, day: date) -> bool:
    start, end = raw_events.day_bounds(day)
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM events WHERE game_id = %s AND event_time >= %s"
        " AND event_time < %s)",
        (game_id, start, end),
    ).fetchone()
    conn.commit()
    return bool(row and row[0])
