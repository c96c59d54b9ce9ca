"""Rows for `events` in `apps.processor.records.COLUMNS` order, as the processor gets them."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import TypedDict

from apps.processor.records import COLUMNS, Row


class Attrs(TypedDict, total=False):
    """An event's segment attributes, to pass to `event` as `**attrs`."""

    platform: str
    country: str
    app_version: str


def at(text: str) -> datetime:
    """An ISO time, UTC unless it says otherwise."""
    t = datetime.fromisoformat(text)
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def event(
    game: uuid.UUID, etype: str, player: str, time: datetime | str, *,
    platform: str | None = None, country: str | None = None, app_version: str | None = None,
    duration: float | None = None, amount: float | None = None, currency: str | None = None,
    received: datetime | None = None,
) -> Row:  # fmt: skip
    t = at(time) if isinstance(time, str) else time
    fields: dict[str, object] = {
        "game_id": game, "event_id": uuid.uuid4(), "event_type": etype, "player_id": player,
        "session_id": "s-1" if etype.startswith("session_") else None,
        "event_time": t, "client_time": t, "received_at": received or t + timedelta(seconds=1),
        "platform": platform, "country": country, "app_version": app_version,
        "properties": "{}", "duration_seconds": duration, "amount": amount,
        "currency": currency, "item_id": "gems" if etype == "purchase" else None,
        "level": None, "status": None,
    }  # fmt: skip
    assert set(fields) == set(COLUMNS)
    return tuple(fields[c] for c in COLUMNS)
