"""The audit log: who changed what, when, on which game, under which request.

Append-only: the table refuses UPDATE, DELETE and TRUNCATE (migration 0009),
so `record` is the only writer. Call it inside the transaction of the change
it describes: the entry commits with the change or not at all. `details` must
never hold a secret (a key, a token, a password): only ids and names.
"""

import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import psycopg
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

MAX_PAGE: Final = 1000


@dataclass(frozen=True, slots=True)
class Entry:
    entry_id: int
    at: datetime
    actor: str
    action: str
    target: str
    game_id: uuid.UUID | None
    request_id: str | None
    details: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts: an account (`account:<id>`) or an operator's command (`cli`)."""

    name: str
    request_id: str | None = None

    @classmethod
    def account(cls, account_id: uuid.UUID, request_id: str | None) -> "Actor":
        return cls(f"account:{account_id}", request_id)


CLI: Final = Actor("cli")


def record(
    conn: psycopg.Connection[Any],
    actor: Actor,
    action: str,
    target: str,
    game_id: uuid.UUID | None,
    details: Mapping[str, object] | None = None,
) -> None:
    """Append one entry; `action` is `noun.verb` (`member.set`, `key.rotate`)."""
    conn.execute(
        "INSERT INTO audit_log (actor, action, target, game_id, request_id, details)"
        " VALUES (%s, %s, %s, %s, %s, %s)",
        (actor.name, action, target, game_id, actor.request_id, Jsonb(dict(details or {}))),
    )


def entries(
    conn: psycopg.Connection[Any],
    game_ids: Collection[uuid.UUID],
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    before: int | None = None,
    limit: int = 50,
) -> list[Entry]:
    """Entries on `game_ids`, newest first, `since` <= at < `until`, with ids below `before`
    (the cursor of the previous page); at most `limit` (1..MAX_PAGE)."""
    if not 1 <= limit <= MAX_PAGE:
        raise ValueError(f"limit {limit}; allowed 1 to {MAX_PAGE}")
    with conn.cursor(row_factory=class_row(Entry)) as cur:
        cur.execute(
            "SELECT entry_id, at, actor, action, target, game_id, request_id, details"
            " FROM audit_log WHERE game_id = ANY(%(games)s)"
            " AND (%(since)s::timestamptz IS NULL OR at >= %(since)s)"
            " AND (%(until)s::timestamptz IS NULL OR at < %(until)s)"
            " AND (%(before)s::bigint IS NULL OR entry_id < %(before)s)"
            " ORDER BY entry_id DESC LIMIT %(limit)s",
            {"games": list(game_ids), "since": since, "until": until, "before": before,
             "limit": limit},
        )  # fmt: skip
        return cur.fetchall()
