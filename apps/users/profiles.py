"""`GET /v1/games/{game_id}/players/{player_id}`: a player's profile (analyst or higher).

The GraphQL `game(id) { player(id) }` field's profile (apps/store/profiles.py,
one statement, one snapshot) in snake_case JSON with the same values: times in
ISO 8601, revenue in USD converted with the same rate table
(`GAMEMETRICS_USD_RATES`), saturated to finite doubles alike. `events` (0 to
50, default 50) trims `last_events`.
The player id is checked before any query, by the rule ingestion applies.
"""

from typing import Any

import psycopg

from apps.core import player_ids
from apps.core.errors import BatchError
from apps.core.numbers import finite
from apps.store import profiles
from apps.store.profiles import PlayerProfile, ProfileEvent
from apps.users import inputs
from apps.users.auth import require
from apps.users.endpoint import Call, Reply
from apps.users.errors import NotFound, Unavailable
from apps.users.games import game_id


def event_json(event: ProfileEvent) -> dict[str, Any]:
    return {
        "event_id": str(event.event_id),
        "type": event.type,
        "time": event.time.isoformat(),
        "properties": event.properties,
        "amount": None if event.amount is None else finite(event.amount),
        "currency": event.currency,
    }


def profile_json(profile: PlayerProfile, events: int) -> dict[str, Any]:
    return {
        "player_id": profile.player_id,
        "first_seen": profile.first_seen.isoformat(),
        "last_seen": profile.last_seen.isoformat(),
        "first_platform": profile.first_platform,
        "first_country": profile.first_country,
        "first_app_version": profile.first_app_version,
        "days_active": profile.days_active,
        "sessions": profile.sessions,
        "session_seconds": finite(profile.session_seconds),
        "revenue_usd": finite(profile.revenue_usd),
        "purchases": profile.purchases,
        "last_events": [event_json(e) for e in profile.last_events[:events]],
    }


def player_id(call: Call) -> str:
    """The path's player id if ingestion could have stored it; 400 naming it if not."""
    value = call.path["player_id"]
    problem = player_ids.player_id_problem(value)
    if problem is not None:
        raise BatchError("player_id", f"{value[:64]!r} is not a player id: it {problem}")
    return value


def get_profile(call: Call) -> Reply:
    gid = game_id(call)
    pid = player_id(call)
    events = inputs.query_integer(call.query, "events", 0, profiles.LAST_EVENTS)
    require(call.caller(), gid, "analyst")
    try:
        found = profiles.player_profile(call.conn, gid, pid, call.settings.usd_per_unit)
    except psycopg.errors.QueryCanceled:
        seconds = call.settings.statement_timeout.total_seconds()
        raise Unavailable(
            f"reading the profile took longer than {seconds:g} s (the statement timeout,"
            " GAMEMETRICS_USERS_STATEMENT_TIMEOUT_SECONDS); retry later"
        ) from None
    except profiles.UnknownCurrency as e:
        why = f"{e}: the service's rate table (GAMEMETRICS_USD_RATES) lacks it"
        raise Unavailable(why) from None
    if found is None:
        raise NotFound(f"game {gid} holds no event of player {pid!r}", "player_id")
    return Reply(200, profile_json(found, profiles.LAST_EVENTS if events is None else events))
