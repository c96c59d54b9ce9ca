"""A game-day's raw events in and out of PostgreSQL as Arrow batches, for the archive.

Out: `COPY (SELECT ...) TO STDOUT (FORMAT csv)` streamed through pyarrow's CSV reader,
so a day of any size flows in bounded memory and every value is parsed in C (times
leave as exact epoch microseconds, `properties` as its jsonb text). In: pyarrow writes
CSV, `COPY FROM` loads it into a temporary table, and only the rows whose event id is
not claimed yet go to `events` (claimed in `event_keys` in the same statement), so a
restore run twice stores each event once.

The caller holds the transaction; the day is the UTC day of `event_time` (the
partitions' and `event_keys.event_day`'s).
"""

import io
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Final

import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
from psycopg import sql
from psycopg.rows import TupleRow

from apps.core.archive import COLUMNS

_TIMES: Final = frozenset(c.name for c in COLUMNS if c.kind == "timestamp")
_SELECT: Final = ", ".join(
    f"(extract(epoch FROM {c.name}) * 1000000)::int8" if c.name in _TIMES
    else "event_id::text" if c.name == "event_id"
    else "properties::text" if c.name == "properties"
    else c.name
    for c in COLUMNS
)  # fmt: skip
_READ_TYPES: Final = {
    c.name: pa.int64() if c.kind == "timestamp" else pa.float64() if c.kind == "double"
    else pa.string()
    for c in COLUMNS
}  # fmt: skip
_BLOCK: Final = 4 << 20


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(), tzinfo=UTC)
    return start, start + timedelta(days=1)


class _CopyStream(io.RawIOBase):
    """The bytes of a running COPY TO, as the file pyarrow's CSV reader reads."""

    def __init__(self, copy: "psycopg.Copy") -> None:
        self._blocks = iter(copy)
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: "memoryview | bytearray") -> int:  # type: ignore[override]
        while not self._pending:
            block = next(self._blocks, None)
            if block is None:
                return 0
            self._pending = memoryview(block)
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


def stream_day(
    conn: psycopg.Connection[TupleRow], game_id: uuid.UUID, day: date
) -> Iterator[pa.RecordBatch]:
    """The game-day's raw events, in no particular order, as batches of the archive's
    columns (timestamps as UTC microseconds)."""
    start, end = day_bounds(day)
    query = sql.SQL(
        "COPY (SELECT {} FROM events WHERE game_id = {} AND event_time >= {} AND event_time < {})"
        " TO STDOUT (FORMAT csv)"
    ).format(sql.SQL(_SELECT), game_id, start, end)
    with conn.cursor().copy(query) as copy:
        stream = io.BufferedReader(_CopyStream(copy), _BLOCK)
        if not stream.peek(1):
            return  # no rows (pyarrow refuses an empty CSV)
        reader = pacsv.open_csv(
            stream,
            read_options=pacsv.ReadOptions(
                column_names=[c.name for c in COLUMNS], use_threads=False, block_size=_BLOCK
            ),
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types=_READ_TYPES, strings_can_be_null=True,
                quoted_strings_can_be_null=False, null_values=[""],
            ),
        )  # fmt: skip
        for batch in reader:
            yield _with_times(batch)
        for _ in copy:  # the reader stops at the end of the data; drain the protocol
            pass


def _with_times(batch: pa.RecordBatch) -> pa.RecordBatch:
    arrays = [
        batch.column(c.name).cast(pa.timestamp("us", tz="UTC")) if c.name in _TIMES
        else batch.column(c.name)
        for c in COLUMNS
    ]  # fmt: skip
    return pa.RecordBatch.from_arrays(arrays, names=[c.name for c in COLUMNS])


# Players' totals of the rows leaving PostgreSQL, with the profile's own expressions
# (apps/store/profiles.py), added to what earlier days folded. `agg` also counts the rows
# per game, so one scan both folds a partition and checks it before it is dropped.
_AGGREGATE: Final = """
SELECT game_id, player_id, currency, count(*) AS n, max(event_time) AS last_seen,
       count(*) FILTER (WHERE event_type = 'session_end') AS sessions,
       sum(duration_seconds::numeric) FILTER (WHERE event_type = 'session_end')
           AS session_seconds,
       count(*) FILTER (WHERE event_type = 'purchase') AS purchases,
       sum(amount::numeric) FILTER (WHERE event_type = 'purchase') AS amount
FROM {source} WHERE {where}
GROUP BY game_id, player_id, currency
"""
_UPSERT: Final = """
INSERT INTO player_archived_totals AS t
    (game_id, player_id, currency, last_seen, sessions, session_seconds, purchases, amount)
SELECT game_id, player_id, currency, last_seen, sessions, session_seconds, purchases, amount
FROM agg
ON CONFLICT (game_id, player_id, currency) DO UPDATE SET
    last_seen = greatest(t.last_seen, excluded.last_seen),
    sessions = t.sessions + excluded.sessions,
    session_seconds = CASE WHEN excluded.session_seconds IS NULL THEN t.session_seconds
                           ELSE coalesce(t.session_seconds, 0) + excluded.session_seconds END,
    purchases = t.purchases + excluded.purchases,
    amount = CASE WHEN excluded.amount IS NULL THEN t.amount
                  ELSE coalesce(t.amount, 0) + excluded.amount END
RETURNING 1
"""
_DELETE_AND_FOLD: Final = """
WITH gone AS (
    DELETE FROM events WHERE game_id = %(game)s AND event_time >= %(start)s
        AND event_time < %(end)s
    RETURNING game_id, event_id, player_id, currency, event_type, event_time,
              duration_seconds, amount
), agg AS ({aggregate}), folded AS ({upsert})
SELECT (SELECT count(*) FROM gone), (SELECT count(*) FROM folded)
"""
_FOLD_ALL: Final = """
WITH agg AS ({aggregate}), folded AS ({upsert})
SELECT game_id, sum(n)::bigint FROM agg GROUP BY game_id
"""


def delete_day(
    conn: psycopg.Connection[TupleRow], game_id: uuid.UUID, day: date,
    folded_before: Sequence[str] | None = (),
) -> int:  # fmt: skip
    """Delete the game-day's raw events and their event-id claims, folding the players'
    totals of those not in `folded_before` (event ids an earlier pass folded, for a day
    that was restored; None: all of them were); the events deleted."""
    start, end = day_bounds(day)
    aggregate = sql.SQL(_AGGREGATE).format(
        source=sql.Identifier("gone"),
        where=sql.SQL(
            "false" if folded_before is None else "NOT (event_id = ANY(%(before)s::uuid[]))"
        ),
    )
    row = conn.execute(
        sql.SQL(_DELETE_AND_FOLD).format(aggregate=aggregate, upsert=sql.SQL(_UPSERT)),
        {"game": game_id, "start": start, "end": end, "before": list(folded_before or ())},
    ).fetchone()
    conn.execute("DELETE FROM event_keys WHERE game_id = %s AND event_day = %s", (game_id, day))
    return int(row[0]) if row else 0


def fold_partition(conn: psycopg.Connection[TupleRow], partition: str) -> dict[uuid.UUID, int]:
    """Fold the players' totals of every row of a daily partition about to be dropped; the
    rows of each game it holds (one scan: the caller checks them before the drop)."""
    aggregate = sql.SQL(_AGGREGATE).format(source=sql.Identifier(partition), where=sql.SQL("true"))
    rows = conn.execute(
        sql.SQL(_FOLD_ALL).format(aggregate=aggregate, upsert=sql.SQL(_UPSERT))
    ).fetchall()
    return dict(rows)


_GAMES_IN: Final = """
WITH RECURSIVE g AS (
    (SELECT game_id FROM {p} ORDER BY game_id LIMIT 1)
    UNION ALL
    SELECT (SELECT game_id FROM {p} WHERE game_id > g.game_id ORDER BY game_id LIMIT 1)
    FROM g WHERE g.game_id IS NOT NULL
)
SELECT game_id FROM g WHERE game_id IS NOT NULL
"""


def games_in(conn: psycopg.Connection[TupleRow], partition: str) -> set[uuid.UUID]:
    """The games with raw events in one daily partition: a skip scan of the
    (game_id, player_id, event_time) index, a few index probes per game whatever the
    day's size (a pass asks this of every partition old enough for some game)."""
    query = sql.SQL(_GAMES_IN).format(p=sql.Identifier(partition))
    return {r[0] for r in conn.execute(query).fetchall()}


_RESTORE_SETUP: Final = (
    "CREATE TEMP TABLE restoring (LIKE events INCLUDING DEFAULTS) ON COMMIT DROP"
)
_RESTORE: Final = """
WITH claimed AS (
    INSERT INTO event_keys (game_id, event_id, event_day)
    SELECT DISTINCT ON (event_id) game_id, event_id, (event_time AT TIME ZONE 'UTC')::date
    FROM restoring ORDER BY event_id
    ON CONFLICT DO NOTHING
    RETURNING event_id
)
INSERT INTO events SELECT r.* FROM restoring r JOIN claimed c USING (event_id)
"""


def restore(conn: psycopg.Connection[TupleRow], game_id: uuid.UUID, table: pa.Table) -> int:
    """Store the archived rows of `table` for the game whose event ids are not stored yet
    (their day's partition must exist); the events stored."""
    conn.execute(_RESTORE_SETUP)
    names = [c.name for c in COLUMNS]
    rows = table.select(names).add_column(
        0, "game_id", pa.array([str(game_id)] * table.num_rows, pa.string())
    )
    body = io.BytesIO()
    pacsv.write_csv(rows, body, write_options=pacsv.WriteOptions(include_header=False))
    columns = sql.SQL(", ").join(sql.Identifier(n) for n in ["game_id", *names])
    with conn.cursor().copy(
        sql.SQL("COPY restoring ({}) FROM STDIN (FORMAT csv)").format(columns)
    ) as copy:
        copy.write(body.getbuffer())
    return conn.execute(_RESTORE).rowcount
