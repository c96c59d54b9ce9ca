"""retention: per cohort day, how many of its players came back N days later.

A cohort is the players first seen on a day in range, filtered on their
acquisition attributes (`players`); a player is retained on day N when they
have any event on cohort + N, whatever its attributes.
"""

import uuid
from collections.abc import Sequence
from datetime import date, timedelta

from psycopg import sql

from apps.analytics.queries.common import Conn, fetch_all, segment_condition
from apps.analytics.results import Cohort, RetentionPoint, ratio
from apps.core.periods import Segment

# Sizes, then retained counts per (cohort, N) for the N given (N <= today - cohort only).
# DISTINCT: a player has several player_days rows on a day when their events' segments differ.
_RETENTION = """
WITH cohort AS MATERIALIZED (
    SELECT player_id, first_day FROM players
    WHERE game_id = %(game)s AND first_day BETWEEN %(first)s AND %(last)s{segment}
)
SELECT first_day, -1, count(*) FROM cohort GROUP BY 1
UNION ALL
SELECT c.first_day, d.day - c.first_day, count(DISTINCT c.player_id)
FROM cohort c JOIN player_days d ON d.player_id = c.player_id
WHERE d.game_id = %(game)s AND d.day = ANY(%(active_days)s::date[])
  AND d.day - c.first_day = ANY(%(days)s::int[])
GROUP BY 1, 2
"""


async def retention(
    conn: Conn, game_id: uuid.UUID, first: date, last: date, days: Sequence[int],
    segment: Segment, today: date,
) -> list[Cohort]:  # fmt: skip
    """One cohort per day of `[first, last]`; its points in the order of `days`.

    A point whose day (cohort + N) is after `today` is left out; a cohort of no
    players has rate 0.0 at every point.
    """
    wanted = sorted(set(days))
    returns = {c + timedelta(days=n) for c in _days(first, last) for n in wanted}
    active_days = sorted(d for d in returns if d <= today)
    condition, params = segment_condition(segment)
    rows = await fetch_all(
        conn, sql.SQL(_RETENTION).format(segment=condition),
        {"game": game_id, "first": first, "last": last, "days": wanted,
         "active_days": active_days, **params},
    )  # fmt: skip
    sizes: dict[date, int] = {}
    retained: dict[tuple[date, int], int] = {}
    for cohort_day, n, users in rows:
        if n < 0:
            sizes[cohort_day] = users
        else:
            retained[cohort_day, n] = users
    cohorts: list[Cohort] = []
    for c in _days(first, last):
        size = sizes.get(c, 0)
        points = tuple(
            RetentionPoint(n, retained.get((c, n), 0), ratio(retained.get((c, n), 0), size))
            for n in days
            if c + timedelta(days=n) <= today
        )
        cohorts.append(Cohort(c, size, points))
    return cohorts


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]
