"""revenue: purchases per bucket, converted to USD when read, with ARPDAU and ARPPU.

Filters on each event's own attributes. Amounts are kept per currency in
`daily_revenue` (major units), so the rate table applies to all history.
Daily active and paying players come from `daily_stats` per day without a
filter, from `player_days` otherwise. Amounts are summed as numeric: a float8
sum of stored amounts may overflow, which PostgreSQL refuses; a sum beyond a
double becomes infinite here, and the API saturates it (apps/analytics/types.py).
"""

import uuid
from collections import defaultdict
from collections.abc import Mapping
from datetime import date

from psycopg import sql

from apps.analytics.queries.common import (
    Conn,
    bucket_of,
    by_bucket,
    fetch_all,
    from_daily_stats,
    segment_condition,
)
from apps.analytics.results import RevenuePoint, ratio
from apps.core.numbers import finite
from apps.core.periods import Granularity, Segment

_AMOUNTS = """
SELECT {bucket}, currency, sum(amount::numeric), sum(purchases)::bigint FROM daily_revenue
WHERE game_id = %(game)s AND day BETWEEN %(first)s AND %(last)s{segment}
GROUP BY 1, 2
"""

# Per bucket: the sum over its days of that day's distinct active players (ARPDAU's
# divisor), and the distinct players with a purchase in the bucket.
_PLAYERS = """
SELECT {bucket}, count(*), count(DISTINCT player_id) FILTER (WHERE paid)
FROM (SELECT day, player_id, bool_or(paid) AS paid FROM player_days
      WHERE game_id = %(game)s AND day BETWEEN %(first)s AND %(last)s{segment}
      GROUP BY day, player_id) AS player_day
GROUP BY 1
"""
_PLAYERS_DAILY = """
SELECT {bucket}, players, paying_players FROM daily_stats
WHERE game_id = %(game)s AND day BETWEEN %(first)s AND %(last)s{segment}
"""


class UnknownCurrency(LookupError):
    """Stored purchases are in a currency the rate table does not list."""


async def revenue(
    conn: Conn, game_id: uuid.UUID, first: date, last: date, granularity: Granularity,
    segment: Segment, usd_per_unit: Mapping[str, float],
) -> list[RevenuePoint]:  # fmt: skip
    """One point per bucket; raises UnknownCurrency if a stored currency has no rate."""
    condition, params = segment_condition(segment)
    args = {"game": game_id, "first": first, "last": last, **params}
    bucket = bucket_of("day", granularity)
    amounts = await fetch_all(
        conn, sql.SQL(_AMOUNTS).format(bucket=bucket, segment=condition), args
    )
    template = _PLAYERS_DAILY if from_daily_stats(granularity, segment) else _PLAYERS
    players = await fetch_all(
        conn, sql.SQL(template).format(bucket=bucket, segment=condition), args
    )
    usd: defaultdict[date, float] = defaultdict(float)
    purchases: defaultdict[date, int] = defaultdict(int)
    for day, currency, amount, count in amounts:
        rate = usd_per_unit.get(currency)
        if rate is None:
            raise UnknownCurrency(f"no USD rate for currency {currency!r} (stored purchases)")
        usd[day] = finite(usd[day] + float(amount) * rate)
        purchases[day] += count
    points: list[RevenuePoint] = []
    for b, row in by_bucket(players, first, last, granularity):
        active_days, payers = (row[1], row[2]) if row else (0, 0)
        point = RevenuePoint(
            bucket=b, revenue_usd=usd[b], paying_users=payers, purchases=purchases[b],
            arpdau=ratio(usd[b], active_days), arppu=ratio(usd[b], payers),
        )  # fmt: skip
        points.append(point)
    return points
