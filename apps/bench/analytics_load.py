"""Loading the analytics benchmark's data through the processor's storage code, once per folder.

Rows from `analytics_data` go to `BatchWriter.write` in batches, as the
processor's consumer hands them over (no HTTP, no Kafka): the same claim,
events and rollup statements. A data folder remembers what it holds in
`analytics-data.json`, so a later run with the same spec reuses it; a folder
holding anything else, or a load that did not finish, is refused rather than
guessed at.
"""

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Final

import msgspec
import psycopg
from psycopg.rows import TupleRow

from apps.bench.analytics_data import GENERATOR_VERSION, DataSpec, Shape, batches, live_rows
from apps.bench.errors import BenchError

MANIFEST: Final = "analytics-data.json"
GAME_NAME: Final = "bench-analytics"
TABLES: Final = ("events", "event_keys", "players", "player_days", "segment_days",
                  "daily_revenue", "event_counts", "live_seconds", "live_players")  # fmt: skip
_PROGRESS_EVERY: Final = 15.0

Say = Callable[[str], None]


class Manifest(msgspec.Struct, frozen=True):
    """What a data folder holds; `complete` only once every row was written."""

    game_id: str
    first_day: date
    events: int
    players: int
    days: int
    seed: int
    generator: int = GENERATOR_VERSION
    complete: bool = False
    load_seconds: float = 0.0
    loaded_at: str = ""
    sessions: int = 0
    purchases: int = 0
    player_days: int = 0
    rows_with_other_attributes: int = 0
    by_type: dict[str, int] = {}
    by_currency: dict[str, int] = {}

    def spec(self) -> DataSpec:
        return DataSpec(uuid.UUID(self.game_id), self.first_day, self.events, self.players,
                        self.days, self.seed)  # fmt: skip

    def same_data(self, events: int, players: int, days: int, seed: int) -> bool:
        return (self.events, self.players, self.days, self.seed) == (events, players, days, seed)


def read_manifest(folder: Path) -> Manifest | None:
    path = folder / MANIFEST
    if not path.exists():
        return None
    return msgspec.json.decode(path.read_bytes(), type=Manifest)


def write_manifest(folder: Path, manifest: Manifest) -> None:
    path = folder / MANIFEST
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(msgspec.json.format(msgspec.json.encode(manifest)))
    tmp.replace(path)


def check_reusable(
    folder: Path, events: int, players: int, days: int, seed: int
) -> Manifest | None:
    """The folder's manifest when it holds exactly this data set, None when the folder is new;
    BenchError when it holds something else or an unfinished load."""
    manifest = read_manifest(folder)
    if manifest is None:
        if (folder / "pg").exists():
            raise BenchError(f"{folder} holds a database but no {MANIFEST}: delete the folder "
                             "or choose another --data-dir")  # fmt: skip
        return None
    if not manifest.complete:
        raise BenchError(f"{folder}: the load of {manifest.events:,} events did not finish; "
                         "delete the folder and run again")  # fmt: skip
    if manifest.generator != GENERATOR_VERSION:
        raise BenchError(f"{folder} was loaded by generator version {manifest.generator}, "
                         f"this is {GENERATOR_VERSION}: delete it or use another")  # fmt: skip
    if not manifest.same_data(events, players, days, seed):
        raise BenchError(
            f"{folder} holds {manifest.events:,} events, {manifest.players:,} players, "
            f"{manifest.days} days, seed {manifest.seed}; asked for {events:,} events, "
            f"{players:,} players, {days} days, seed {seed}: use another --data-dir"
        )
    return manifest


@dataclass(frozen=True, slots=True)
class Loaded:
    events: int
    seconds: float
    batches: int

    @property
    def per_s(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


def load(dsn: str, spec: DataSpec, say: Say, batch: int, shape: Shape) -> Loaded:
    """Generate and store every row of `spec` with `BatchWriter.write`, `batch` rows per call."""
    from apps.processor.partitions import Partitions
    from apps.processor.store import BatchWriter

    with psycopg.connect(dsn) as conn:
        writer = BatchWriter(conn, Partitions())
        stored, calls = 0, 0
        started = time.perf_counter()
        last_said = started
        for rows in batches(spec, batch, shape):
            stored += writer.write(rows).stored
            calls += 1
            now = time.perf_counter()
            if now - last_said >= _PROGRESS_EVERY:
                last_said = now
                say(f"  loaded {stored:,} of {spec.events:,} events "
                    f"({stored / (now - started):,.0f}/s)")  # fmt: skip
        seconds = time.perf_counter() - started
    if stored != shape.events:
        raise BenchError(f"generated {shape.events:,} events but the writer stored {stored:,}")
    return Loaded(stored, seconds, calls)


def write_live(dsn: str, spec: DataSpec, now: datetime, count: int) -> int:
    """Store `count` events received in the 5 minutes before `now` (what liveStats reads)."""
    from apps.processor.partitions import Partitions
    from apps.processor.store import BatchWriter

    with psycopg.connect(dsn) as conn:
        writer = BatchWriter(conn, Partitions())
        return writer.write(live_rows(spec, now, count)).stored


def create_game(dsn: str) -> uuid.UUID:
    from apps.store.games import create_game as create

    with psycopg.connect(dsn) as conn:
        return create(conn, GAME_NAME, rate_limit_eps=10_000_000).game_id


def vacuum_analyze(dsn: str) -> float:
    """VACUUM ANALYZE every table (after a load: visibility maps for index-only scans, stats)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        started = time.perf_counter()
        conn.execute("VACUUM ANALYZE")
        return time.perf_counter() - started


@dataclass(frozen=True, slots=True)
class TableSize:
    table: str
    rows: int
    bytes: int
    """Table, indexes and TOAST (all partitions for `events`)."""


def table_sizes(conn: psycopg.Connection[TupleRow], game_id: uuid.UUID) -> list[TableSize]:
    """Row counts of the game and sizes of the tables the analytics read."""
    out = []
    for table in TABLES:
        rows = conn.execute(
            f"SELECT count(*) FROM {table} WHERE game_id = %s",  # noqa: S608 - constant names
            (game_id,),
        ).fetchone()
        size = conn.execute(
            "SELECT coalesce((SELECT sum(pg_total_relation_size(relid))"
            " FROM pg_partition_tree(%(t)s::regclass)), pg_total_relation_size(%(t)s::regclass))"
            "::bigint",
            {"t": table},
        ).fetchone()
        out.append(TableSize(table, int(rows[0]) if rows else 0, int(size[0]) if size else 0))
    return out


@dataclass(frozen=True, slots=True)
class Activity:
    """Daily active and new players over the data's days, from the rollups."""

    dau_mean: float
    dau_min: int
    dau_max: int
    new_mean: float
    paying_share_of_sessions: float


def activity(
    conn: psycopg.Connection[TupleRow], game_id: uuid.UUID, first: date, last: date
) -> Activity:
    dau = [
        int(r[0])
        for r in conn.execute(
            "SELECT count(DISTINCT player_id) FROM player_days WHERE game_id = %s"
            " AND day BETWEEN %s AND %s GROUP BY day",
            (game_id, first, last),
        )
    ]
    new = conn.execute(
        "SELECT count(*) FROM players WHERE game_id = %s AND first_day BETWEEN %s AND %s",
        (game_id, first, last),
    ).fetchone()
    sessions = conn.execute(
        "SELECT coalesce(sum(sessions), 0), coalesce(sum(purchases), 0) FROM segment_days"
        " WHERE game_id = %s AND day BETWEEN %s AND %s",
        (game_id, first, last),
    ).fetchone()
    days = (last - first).days + 1
    s, p = (int(sessions[0]), int(sessions[1])) if sessions else (0, 0)
    return Activity(
        dau_mean=sum(dau) / days,
        dau_min=min(dau, default=0),
        dau_max=max(dau, default=0),
        new_mean=(int(new[0]) if new else 0) / days,
        paying_share_of_sessions=p / s if s else 0.0,
    )
