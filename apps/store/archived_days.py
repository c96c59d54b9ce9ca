"""The archive's catalog in PostgreSQL (`archived_days`, migration 0013): which game-days
are in the archive, with which parts, and whether PostgreSQL still holds them.

The retention service writes a day's row in the transaction that deletes its raw
events, so "archived" and "gone from PostgreSQL" commit together; readers consult it
to know which days of a range to read from the archive, and which parts.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final, Literal

import psycopg
from psycopg.rows import TupleRow, tuple_row
from psycopg.types.json import Jsonb

from apps.core.archive import Manifest, Part, combine
from apps.core.retention import DEFAULT_ARCHIVE_DAYS

DayState = Literal["archived", "restored", "pending"]
MAX_PROBLEM_CHARS: Final = 2000


@dataclass(frozen=True, slots=True)
class ArchivedDay:
    game_id: uuid.UUID
    event_date: date
    state: DayState
    rows: int
    bytes: int
    checksum: str
    parts: tuple[Part, ...]
    archived_at: datetime
    restored_until: datetime | None
    problem: str | None

    @property
    def in_postgres(self) -> bool:
        """PostgreSQL holds the day's rows (readers read it there)."""
        return self.state != "archived"


def parts_json(parts: Sequence[Part]) -> list[dict[str, Any]]:
    return [p.as_dict() for p in parts]


def parts_of(doc: Sequence[dict[str, Any]]) -> tuple[Part, ...]:
    return tuple(Part.from_dict(p) for p in doc)


_COLUMNS: Final = (
    "game_id, event_date, state, rows, bytes, checksum, parts, archived_at, restored_until, problem"
)


def _day(row: TupleRow) -> ArchivedDay:
    game, day, state, rows, size, checksum, parts, at, until, problem = row
    return ArchivedDay(game, day, state, rows, size, checksum, parts_of(parts), at, until, problem)


def get(conn: psycopg.Connection[TupleRow], game_id: uuid.UUID, day: date) -> ArchivedDay | None:
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM archived_days WHERE game_id = %s AND event_date = %s",  # noqa: S608
        (game_id, day),
    ).fetchone()
    return _day(row) if row else None


def of_game(
    conn: psycopg.Connection[TupleRow], game_id: uuid.UUID,
    first: date = date.min, last: date = date.max,
) -> list[ArchivedDay]:  # fmt: skip
    """The game's catalogued days in [first, last], oldest first."""
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM archived_days WHERE game_id = %s"  # noqa: S608
        " AND event_date BETWEEN %s AND %s ORDER BY event_date",
        (game_id, first, last),
    ).fetchall()
    return [_day(r) for r in rows]


def all_days(conn: psycopg.Connection[TupleRow]) -> list[ArchivedDay]:
    """Every catalogued day of every game (a pass reads them once)."""
    rows = conn.execute(f"SELECT {_COLUMNS} FROM archived_days").fetchall()  # noqa: S608
    return [_day(r) for r in rows]


def record(
    conn: psycopg.Connection[TupleRow], manifest: Manifest, state: DayState,
    restored_until: datetime | None = None,
) -> None:  # fmt: skip
    """The day as `manifest` lists it, in `state`; clears any problem reported."""
    conn.execute(
        """
        INSERT INTO archived_days (game_id, event_date, state, rows, bytes, checksum, parts,
                                   restored_until)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
        ON CONFLICT (game_id, event_date) DO UPDATE SET
            state = excluded.state, rows = excluded.rows, bytes = excluded.bytes,
            checksum = excluded.checksum, parts = excluded.parts,
            archived_at = CASE WHEN excluded.state = 'archived' THEN now()
                               ELSE archived_days.archived_at END,
            restored_until = excluded.restored_until, problem = NULL, problem_at = NULL
        """,
        (
            manifest.game_id, manifest.event_date, state, manifest.rows, manifest.size,
            combine(p.checksum for p in manifest.parts), Jsonb(parts_json(manifest.parts)),
            restored_until,
        ),
    )  # fmt: skip


def report_problem(
    conn: psycopg.Connection[TupleRow], game_id: uuid.UUID, day: date, problem: str
) -> None:
    """Mark the day as not matching its manifest (a day never catalogued is catalogued as
    pending with no parts: PostgreSQL still holds it)."""
    conn.execute(
        """
        INSERT INTO archived_days (game_id, event_date, state, rows, bytes, checksum, parts,
                                   problem, problem_at)
        VALUES (%s, %s, 'pending', 0, 0, %s, '[]', %s, now())
        ON CONFLICT (game_id, event_date) DO UPDATE SET
            problem = excluded.problem, problem_at = excluded.problem_at
        """,
        (game_id, day, combine([]), problem[:MAX_PROBLEM_CHARS]),
    )


def forget(conn: psycopg.Connection[TupleRow], game_id: uuid.UUID, day: date) -> None:
    conn.execute("DELETE FROM archived_days WHERE game_id = %s AND event_date = %s", (game_id, day))


def problems(conn: psycopg.Connection[TupleRow]) -> int:
    """Days with a problem reported, every game (the retention service's gauge)."""
    row = conn.execute("SELECT count(*) FROM archived_days WHERE problem IS NOT NULL").fetchone()
    return int(row[0]) if row else 0


_ARCHIVED_IN: Final = f"""
SELECT {_COLUMNS},
       coalesce((SELECT archive_days FROM games g WHERE g.game_id = a.game_id), %(default)s)
FROM archived_days a
WHERE game_id = %(game)s AND event_date BETWEEN %(first)s AND %(last)s AND state = 'archived'
ORDER BY event_date
"""  # noqa: S608


async def archived_in(
    conn: psycopg.AsyncConnection[Any], game_id: uuid.UUID, first: date, last: date
) -> tuple[list[ArchivedDay], int]:
    """The game's days in [first, last] that only the archive holds (state 'archived',
    problems included: a reader must refuse those), oldest first, and the game's
    `archive_days` (the default when the game has no row). One primary-key range scan:
    the readers of the analytics API ask it once per answer."""
    async with conn.cursor(row_factory=tuple_row) as cur:
        await cur.execute(
            _ARCHIVED_IN,
            {"game": game_id, "first": first, "last": last, "default": DEFAULT_ARCHIVE_DAYS},
        )
        rows = await cur.fetchall()
    return [_day(r[:-1]) for r in rows], int(rows[0][-1]) if rows else DEFAULT_ARCHIVE_DAYS
