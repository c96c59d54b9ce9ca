"""SQL pieces shared by the metric queries: segment conditions and bucket expressions.

Every piece is composed from constant SQL and column names; values travel as
named parameters (`%(platform)s`, ...), never inside the text.
"""

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any, Final, TypeAlias

import psycopg
from psycopg import sql
from psycopg.rows import tuple_row

from apps.core.periods import ANY_SEGMENT, Granularity, Segment, buckets

Conn: TypeAlias = psycopg.AsyncConnection[Any]
"""Any async connection: the queries open their own tuple-row cursors."""

SEGMENT_COLUMNS: Final = ("platform", "country", "app_version")
"""`Segment`'s fields, named like the columns that hold them."""


def from_daily_stats(granularity: Granularity, segment: Segment) -> bool:
    """Whether `daily_stats` answers: its distinct counts are per day and for no filter.

    A week's distinct players are not the sum of its days', and a filtered
    distinct count needs the segments of `player_days`.
    """
    return granularity is Granularity.DAY and segment == ANY_SEGMENT


def segment_condition(
    segment: Segment, *, nullable: bool = False
) -> tuple[sql.Composable, dict[str, str]]:
    """` AND col = %(col)s ...` for each attribute the segment sets, and its parameters.

    `nullable`: the columns are raw `events` columns, NULL where the event had no
    value, which the rollups store as '' (so "" matches exactly those).
    """
    parts: list[sql.Composable] = []
    params: dict[str, str] = {}
    for column in SEGMENT_COLUMNS:
        value = getattr(segment, column)
        if value is None:
            continue
        ident = sql.Identifier(column)
        target = sql.SQL("coalesce({}, '')").format(ident) if nullable else ident
        parts.append(sql.SQL(" AND {} = {}").format(target, sql.Placeholder(column)))
        params[column] = value
    return sql.Composed(parts), params


_BUCKET_OF_DAY: Final = {
    Granularity.DAY: "{col}",
    # ISO day of week: Monday is 1, so this is the week's Monday.
    Granularity.WEEK: "({col} - extract(isodow FROM {col})::int + 1)",
    Granularity.MONTH: "({col} - extract(day FROM {col})::int + 1)",
}


def bucket_of(column: str, granularity: Granularity) -> sql.Composable:
    """The first day (a `date`) of the bucket holding the `date` column `column`."""
    return sql.SQL(_BUCKET_OF_DAY[granularity]).format(col=sql.Identifier(column))


async def fetch_all(
    conn: Conn, query: sql.Composed | sql.SQL, params: Mapping[str, Any]
) -> list[tuple[Any, ...]]:
    """Run one parameterised statement on a tuple-row cursor and return its rows."""
    async with conn.cursor(row_factory=tuple_row) as cur:
        await cur.execute(query, params)
        return await cur.fetchall()


def by_bucket(
    rows: Sequence[tuple[Any, ...]], first: date, last: date, granularity: Granularity
) -> list[tuple[date, tuple[Any, ...] | None]]:
    """Every bucket of the range, ascending, with its row (keyed by its first column) or None."""
    found = {row[0]: row for row in rows}
    return [(b, found.get(b)) for b in buckets(first, last, granularity)]
