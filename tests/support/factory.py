"""Building valid events and batches for tests; each test changes what it is about."""

import uuid
from datetime import UTC, datetime
from typing import Any

from apps.core.events import SCHEMA_VERSION, StoredEvent


def now() -> datetime:
    return datetime.now(UTC)


def iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def event(etype: str = "design", **fields: Any) -> dict[str, Any]:
    ev: dict[str, Any] = {
        "event_id": str(uuid.uuid4()),
        "type": etype,
        "player_id": "player-1",
        "timestamp": iso(now()),
    }
    typed: dict[str, dict[str, Any]] = {
        "session_start": {"session_id": "s-1"},
        "session_end": {"session_id": "s-1", "duration_seconds": 321.5},
        "purchase": {"amount": 4.99, "currency": "EUR", "item_id": "gems_500"},
        "progression": {"level": "w1-l3", "status": "complete"},
    }
    ev.update(typed.get(etype, {}))
    ev.update(fields)
    return {k: v for k, v in ev.items() if v is not _DROP}


class _Drop:
    def __repr__(self) -> str:
        return "DROP"


_DROP: Any = _Drop()
DROP: Any = _DROP
"""Pass as a field's value to leave the field out of the event."""


def batch(*events: dict[str, Any], sent_at: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"events": list(events)}
    if sent_at is not None:
        body["sent_at"] = sent_at
    return body


def stored_event(game_id: uuid.UUID, player_id: str) -> StoredEvent:
    """A record as the API puts it on the events topic: a plain event of `player_id`, now."""
    t = now()
    return StoredEvent(
        v=SCHEMA_VERSION, game_id=str(game_id), event_id=uuid.uuid4(), type="design",
        player_id=player_id, session_id=None, event_time=t, client_time=t, received_at=t,
        platform=None, country=None, app_version=None, properties='{"k":1}',
        duration_seconds=None, amount=None, currency=None, item_id=None, level=None,
        status=None,
    )  # fmt: skip
