"""`GET /v1/audit`: the audit log of the games the caller owns or administers.

Filtered by `game_id` (one game) and `since`/`until` (ISO 8601 with offset),
newest first, `limit` per page (default 50, at most 200); `next_cursor` is
given back as `cursor` for the next page, and is null on the last one.
"""

from typing import Any

from apps.core import roles
from apps.core.errors import BatchError
from apps.store import audit
from apps.store.audit import Entry
from apps.users import inputs
from apps.users.auth import require
from apps.users.endpoint import Call, Reply

DEFAULT_PAGE = 50
MAX_PAGE = 200


def entry_json(entry: Entry) -> dict[str, Any]:
    return {
        "entry_id": entry.entry_id,
        "at": entry.at.isoformat(),
        "actor": entry.actor,
        "action": entry.action,
        "target": entry.target,
        "game_id": str(entry.game_id) if entry.game_id else None,
        "request_id": entry.request_id,
        "details": entry.details,
    }


def list_entries(call: Call) -> Reply:
    q = call.query
    wanted = inputs.query_value(q, "game_id")
    since, until = inputs.timestamp(q, "since"), inputs.timestamp(q, "until")
    limit = inputs.query_integer(q, "limit", 1, MAX_PAGE) or DEFAULT_PAGE
    cursor = inputs.query_integer(q, "cursor", 1, 2**63 - 1)
    if since is not None and until is not None and since >= until:
        raise BatchError("until", "must be later than since")
    caller = call.caller()
    if wanted is not None:
        gid = inputs.identifier(wanted, "game_id")
        require(caller, gid, "admin")
        scope = [gid]
    else:
        scope = [g for g, r in caller.roles.items() if roles.at_least(r, "admin")]
    found = audit.entries(
        call.conn, scope, since=since, until=until, before=cursor, limit=limit + 1
    ) if scope else []  # fmt: skip
    page = found[:limit]
    more = len(found) > limit
    return Reply(
        200,
        {
            "entries": [entry_json(e) for e in page],
            "next_cursor": str(page[-1].entry_id) if more else None,
        },
    )
