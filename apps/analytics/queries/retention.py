"""retention: per cohort day, how many of its players came back N days later.

A cohort is the players first seen on a day in range, filtered on their
acquisition attributes; a player is retained on day N when they have any
event on cohort + N, whatever its attributes. `cohort_activity` counts
exactly that per cohort day, N and acquisition segment (N = 0 is the
cohort's size), so any filter is a sum over the segments it matches.
"""

import uuid
from collections.abc import Sequence
from datetime import date, timedelta

from psycopg import sql

from apps.analytics.queries.common import Conn, fetch_all, segment_condition
from apps.analytics.results import Cohort, RetentionPoint, ratio
from apps.core.periods import Segment

# Sizes (day 0: every player is active on their first day) and retained counts per (cohort, N).
_RETENTION = """
SELECT first_day, day_n, sum(players)::bigint FROM cohort_activity
WHERE game_id = %(game)s AND first_day BETWEEN %(first)s AND %(last)s
  AND day_n = ANY(%(days)s::int[]){segment}
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
    condition, params = segment_condition(segment)
    rows = await fetch_all(
        conn, sql.SQL(_RETENTION).format(segment=condition),
        {"game": game_id, "first": first, "last": last, "days": sorted({0, *days}), **params},
    )  # fmt: skip
    counts = {(cohort_day, n): users for cohort_day, n, users in rows}
    cohorts: list[Cohort] = []
    for c in _days(first, last):
        size = counts.get((c, 0), 0)
        points = tuple(
            RetentionPoint(n, counts.get((c, n), 0), ratio(counts.get((c, n), 0), size))
            for n in days
            if c + timedelta(days=n) <= today
        )
        cohorts.append(Cohort(c, size, points))
    return cohorts


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]
