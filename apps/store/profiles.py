"""A player's profile: who they are to the game, read in one statement (no HTTP here).

Read from the rollups where they are exact and cheap, and from the player's
own `events` where no rollup keeps the figure per player:

- first seen, first platform/country/app version: `players` (one primary-key
  probe; its tie rule, the smaller event id, is that of a recomputation);
- days active: `player_days` (a skip scan of its primary key, one descent per
  day of the game);
- last seen, sessions, session time, purchases, revenue: one pass over the
  player's events, grouped by currency (`player_days` keeps only whether a
  player played or paid on a day since migration 0008), plus what the days that
  left PostgreSQL added (`player_archived_totals`, folded by the retention service
  as it deletes them; a restored day's rows are counted there, not twice);
- last events: the player's newest 50 events still in PostgreSQL (the hot window,
  and restored days): archived events are not listed.

One statement, so every figure comes from one snapshot even while the
processor commits. Reading a player's events is fast only with an index led
by (game_id, player_id) on `events` (docs/ANALYTICS.md, "Player profiles");
without one, each profile scans the whole table.

Revenue is converted as the analytics API converts it: the sum of each
currency's amounts (as numeric, like `revenue`) times its USD rate, summed.
"""

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

import psycopg
from psycopg.rows import tuple_row

from apps.core.currency import USD_PER_UNIT

LAST_EVENTS: Final = 50
"""How many of the player's newest events a profile holds."""


class UnknownCurrency(LookupError):
    """The player's purchases are in a currency the rate table does not list."""


@dataclass(frozen=True, slots=True)
class ProfileEvent:
    """One stored event as a profile shows it; `amount`/`currency` are set on purchases."""

    event_id: uuid.UUID
    type: str
    time: datetime
    """The (skew-corrected) event time, UTC."""
    properties: dict[str, Any]
    amount: float | None
    currency: str | None


@dataclass(frozen=True, slots=True)
class PlayerProfile:
    """Everything stored about one player of one game, summed over all time."""

    player_id: str
    first_seen: datetime
    last_seen: datetime
    first_platform: str | None
    """Of the player's first event; None where that event had none."""
    first_country: str | None
    first_app_version: str | None
    days_active: int
    """UTC days with at least one event."""
    sessions: int
    """`session_end` events."""
    session_seconds: float
    """Sum of the `session_end` events' `duration_seconds`."""
    revenue_usd: float
    purchases: int
    last_events: tuple[ProfileEvent, ...]
    """At most LAST_EVENTS of those in PostgreSQL, newest first (equal times: the larger
    event id first)."""


# Every subquery names the game and the player as parameters, so the planner sees constants
# (partition pruning, index conditions) rather than outer references.
_PROFILE: Final = f"""
SELECT p.first_seen, p.platform, p.country, p.app_version,
       (SELECT count(DISTINCT d.day) FROM player_days d
        WHERE d.game_id = %(game)s AND d.player_id = %(player)s),
       t.last_seen, t.sessions, t.session_seconds, t.purchases, t.currencies, t.amounts,
       l.ids, l.types, l.times, l.properties, l.amounts, l.currencies
FROM players p
CROSS JOIN (
    SELECT max(last_seen) AS last_seen, sum(sessions)::bigint AS sessions,
           coalesce(sum(session_seconds), 0) AS session_seconds,
           sum(purchases)::bigint AS purchases,
           array_agg(currency ORDER BY currency) FILTER (WHERE purchases > 0) AS currencies,
           array_agg(amount ORDER BY currency) FILTER (WHERE purchases > 0) AS amounts
    FROM (SELECT currency, max(last_seen) AS last_seen, sum(sessions) AS sessions,
                 sum(session_seconds) AS session_seconds, sum(purchases) AS purchases,
                 sum(amount) AS amount
          FROM (SELECT e.currency, max(e.event_time) AS last_seen,
                       count(*) FILTER (WHERE e.event_type = 'session_end') AS sessions,
                       sum(e.duration_seconds::numeric)
                           FILTER (WHERE e.event_type = 'session_end') AS session_seconds,
                       count(*) FILTER (WHERE e.event_type = 'purchase') AS purchases,
                       sum(e.amount::numeric) FILTER (WHERE e.event_type = 'purchase') AS amount
                FROM events e WHERE e.game_id = %(game)s AND e.player_id = %(player)s
                  AND NOT EXISTS (SELECT 1 FROM archived_days a
                                  WHERE a.game_id = %(game)s AND a.state = 'restored'
                                    AND a.event_date = (e.event_time AT TIME ZONE 'UTC')::date)
                GROUP BY e.currency
                UNION ALL
                SELECT currency, last_seen, sessions, session_seconds, purchases, amount
                FROM player_archived_totals
                WHERE game_id = %(game)s AND player_id = %(player)s) AS parts
          GROUP BY currency) AS per_currency
) t
CROSS JOIN (
    SELECT array_agg(event_id ORDER BY event_time DESC, event_id DESC) AS ids,
           array_agg(event_type ORDER BY event_time DESC, event_id DESC) AS types,
           array_agg(event_time ORDER BY event_time DESC, event_id DESC) AS times,
           array_agg(properties::text ORDER BY event_time DESC, event_id DESC) AS properties,
           array_agg(amount ORDER BY event_time DESC, event_id DESC) AS amounts,
           array_agg(currency ORDER BY event_time DESC, event_id DESC) AS currencies
    FROM (SELECT e.event_id, e.event_type, e.event_time, e.properties, e.amount, e.currency
          FROM events e WHERE e.game_id = %(game)s AND e.player_id = %(player)s
          ORDER BY e.event_time DESC, e.event_id DESC LIMIT {LAST_EVENTS}) AS newest
) l
WHERE p.game_id = %(game)s AND p.player_id = %(player)s
"""  # noqa: S608 - LAST_EVENTS is a constant; values travel as parameters


def player_profile(
    conn: psycopg.Connection[Any],
    game_id: uuid.UUID,
    player_id: str,
    usd_per_unit: Mapping[str, float] = USD_PER_UNIT,
) -> PlayerProfile | None:
    """The player's profile in `game_id`, or None if the game holds no event of theirs.

    `player_id` must pass `apps.core.player_ids` (the caller checks it and says
    why not). Raises UnknownCurrency if a purchase's currency has no rate, and
    psycopg errors as they come (a statement timeout is QueryCanceled).
    """
    with conn.cursor(row_factory=tuple_row) as cur:
        cur.execute(_PROFILE, {"game": game_id, "player": player_id})
        row = cur.fetchone()
    return _profile(player_id, row, usd_per_unit)


async def player_profile_async(
    conn: psycopg.AsyncConnection[Any],
    game_id: uuid.UUID,
    player_id: str,
    usd_per_unit: Mapping[str, float] = USD_PER_UNIT,
) -> PlayerProfile | None:
    """`player_profile` for asyncio services: same statement, same rules."""
    async with conn.cursor(row_factory=tuple_row) as cur:
        await cur.execute(_PROFILE, {"game": game_id, "player": player_id})
        row = await cur.fetchone()
    return _profile(player_id, row, usd_per_unit)


def _profile(
    player_id: str, row: Sequence[Any] | None, usd_per_unit: Mapping[str, float]
) -> PlayerProfile | None:
    """The profile of the statement's row; None without one, or when the game holds no
    event of the player (a `players` row alone is no profile)."""
    if row is None or row[5] is None:
        return None
    (first_seen, platform, country, app_version, days, last_seen, sessions, session_seconds,
     purchases, currencies, amounts, ids, types, times, properties, event_amounts,
     event_currencies) = row  # fmt: skip
    return PlayerProfile(
        player_id=player_id,
        first_seen=first_seen,
        last_seen=last_seen,
        # The rollups keep '' for an absent attribute; ingestion refuses an empty one.
        first_platform=platform or None,
        first_country=country or None,
        first_app_version=app_version or None,
        days_active=days,
        sessions=sessions,
        session_seconds=float(session_seconds),
        revenue_usd=usd(currencies or (), amounts or (), usd_per_unit),
        purchases=purchases,
        last_events=tuple(
            ProfileEvent(event_id, etype, at, _json(props), amount, currency)
            for event_id, etype, at, props, amount, currency in zip(
                ids or (),
                types or (),
                times or (),
                properties or (),
                event_amounts or (),
                event_currencies or (),
                strict=True,
            )
        ),
    )


def usd(
    currencies: Sequence[str], amounts: Sequence[Decimal], usd_per_unit: Mapping[str, float]
) -> float:
    """Each currency's summed amount times its rate, summed; UnknownCurrency if one has none."""
    total = 0.0
    for currency, amount in zip(currencies, amounts, strict=True):
        rate = usd_per_unit.get(currency)
        if rate is None:
            raise UnknownCurrency(f"no USD rate for currency {currency!r} (stored purchases)")
        total += float(amount) * rate
    return total


def _number(text: str) -> int | float:
    """jsonb prints a double such as 1e300 as its digits: beyond 64 bits it is a double."""
    value = int(text)
    return value if -(2**63) <= value < 2**63 else float(text)


def _json(text: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(text, parse_int=_number)
    return value
