"""A player's profile recomputed in plain Python from the event bodies a game's clients sent.

Written from the profile's definition (issue 16 and docs/ANALYTICS.md, "Player
profiles") only: nothing here reads apps/store/profiles.py, its SQL or the
rollups. The events are those the API accepted (the first body sent with
each event id wins), sent without `sent_at`, so the stored time is the
timestamp as sent.

Output: a plain dict shaped like the GraphQL answer of `player(id)` (camelCase
keys; times and floats as Python values, compared with `profile_differences`).
"""

import json
import math
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from apps.core.currency import USD_PER_UNIT

LAST_EVENTS: Final = 50
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def _time(value: str | int) -> datetime:
    if isinstance(value, int):
        return _EPOCH + timedelta(milliseconds=value)
    return datetime.fromisoformat(value).astimezone(UTC)


def accepted(sent: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The bodies stored: the first one sent with each event id."""
    seen: dict[uuid.UUID, Mapping[str, Any]] = {}
    for body in sent:
        seen.setdefault(uuid.UUID(str(body["event_id"])), body)
    return list(seen.values())


def players(sent: Iterable[Mapping[str, Any]]) -> set[str]:
    return {b["player_id"] for b in accepted(sent)}


def expected_profile(
    sent: Iterable[Mapping[str, Any]],
    player_id: str,
    rates: Mapping[str, float] = USD_PER_UNIT,
) -> dict[str, Any] | None:
    """The profile of `player_id` over the bodies sent, or None if none of theirs was stored."""
    own = [b for b in accepted(sent) if b["player_id"] == player_id]
    if not own:
        return None
    keyed = sorted(own, key=lambda b: (_time(b["timestamp"]), uuid.UUID(str(b["event_id"]))))
    first = keyed[0]
    country = first.get("country")
    sessions = [b for b in own if b["type"] == "session_end"]
    purchases = [b for b in own if b["type"] == "purchase"]
    by_currency: defaultdict[str, list[float]] = defaultdict(list)
    for b in purchases:
        by_currency[b["currency"]].append(float(b["amount"]))
    return {
        "id": player_id,
        "firstSeen": _time(first["timestamp"]),
        "lastSeen": max(_time(b["timestamp"]) for b in own),
        "firstPlatform": first.get("platform"),
        "firstCountry": None if country is None else country.upper(),
        "firstAppVersion": first.get("app_version"),
        "daysActive": len({_time(b["timestamp"]).date() for b in own}),
        "sessions": len(sessions),
        "sessionSeconds": math.fsum(float(b["duration_seconds"]) for b in sessions),
        "revenueUsd": math.fsum(math.fsum(a) * rates[c] for c, a in by_currency.items()),
        "purchases": len(purchases),
        "lastEvents": [
            {
                "eventId": str(uuid.UUID(str(b["event_id"]))),
                "type": b["type"],
                "time": _time(b["timestamp"]),
                # as JSON carries it: what the client sent, read back
                "properties": json.loads(json.dumps(b.get("properties", {}))),
                "amount": None if b.get("amount") is None else float(b["amount"]),
                "currency": b.get("currency"),
            }
            for b in reversed(keyed[-LAST_EVENTS:])
        ],
    }


def _close(a: object, b: object) -> bool:
    """Equal, floats to 1e-9 relative; of the same type (a JSON 1.0 is no 1)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-300)
    return a == b


def profile_differences(expected: Any, got: Any, where: str = "") -> list[str]:
    """Where `got` differs from `expected` (floats to 1e-9 relative), as readable lines."""
    if isinstance(expected, dict) and isinstance(got, dict):
        out = (
            [f"{where}: keys {sorted(got)} != {sorted(expected)}"]
            if set(expected) != set(got)
            else []
        )
        for key in expected.keys() & got.keys():
            out += profile_differences(expected[key], got[key], f"{where}.{key}")
        return out
    if isinstance(expected, list) and isinstance(got, list):
        if len(expected) != len(got):
            return [f"{where}: {len(got)} items != {len(expected)}"]
        out = []
        for i, (e, g) in enumerate(zip(expected, got, strict=True)):
            out += profile_differences(e, g, f"{where}[{i}]")
        return out
    return [] if _close(expected, got) else [f"{where}: got {got!r}, expected {expected!r}"]
