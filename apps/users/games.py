"""Games, their ingest keys and their analyst tokens, over REST.

The same store functions and rules as `gamemetrics games` and `gamemetrics
tokens` (apps/store/games.py, apps/store/tokens.py); each change and its audit
entry commit in one transaction. Tokens made here read exactly one game; the
routes under a game list and revoke only those.
"""

import uuid
from datetime import timedelta
from typing import Any, Final

from apps.core import keys, retention
from apps.core import tokens as token_format
from apps.core.errors import BatchError
from apps.store import accounts, audit, games, tokens
from apps.store.tokens import TokenInfo
from apps.users import inputs
from apps.users.auth import require
from apps.users.endpoint import Call, Reply
from apps.users.errors import NotFound

MAX_NAME_CHARS: Final = 200
MAX_RATE_EPS: Final = 1_000_000
MAX_GRACE_SECONDS: Final = 7 * 24 * 3600


def game_json(game: games.Game, role: str) -> dict[str, Any]:
    return {
        "game_id": str(game.game_id),
        "name": game.name,
        "rate_limit_eps": game.rate_limit_eps,
        "late_horizon_days": game.late_horizon_days,
        "created_at": game.created_at.isoformat(),
        "active_keys": game.active_keys,
        "hot_days": game.hot_days,
        "archive_days": game.archive_days,
        "role": role,
    }


def game_id(call: Call) -> uuid.UUID:
    return inputs.identifier(call.path["game_id"], "game_id")


def list_games(call: Call) -> Reply:
    caller = call.caller()
    found = []
    for gid, role in caller.roles.items():
        try:
            found.append(game_json(games.get_game(call.conn, gid), role))
        except games.GameNotFound:
            continue
    found.sort(key=lambda g: (g["created_at"], g["game_id"]))
    return Reply(200, {"games": found})


def _name(body: inputs.Body) -> str:
    name = inputs.required_string(body, "name").strip()
    if not 1 <= len(name) <= MAX_NAME_CHARS or not name.isprintable():
        raise BatchError("name", f"1 to {MAX_NAME_CHARS} printable characters after trimming")
    return name


def create_game(call: Call) -> Reply:
    body = inputs.json_object(call.body, {"name", "rate_limit_eps", "late_horizon_days"})
    name = _name(body)
    rate = inputs.integer(body, "rate_limit_eps", 1, MAX_RATE_EPS)
    horizon = inputs.integer(body, "late_horizon_days", 1, 3650)
    caller = call.caller()
    with call.conn.transaction():
        issued = games.create_game(
            call.conn, name, rate_limit_eps=rate or games.DEFAULT_RATE_LIMIT_EPS,
            late_horizon_days=horizon,
        )  # fmt: skip
        accounts.set_role(call.conn, issued.game_id, caller.account_id, "owner")
        actor = call.actor()
        settings = {"name": name, "rate_limit_eps": rate, "late_horizon_days": horizon}
        audit.record(call.conn, actor, "game.create", f"game:{issued.game_id}", issued.game_id,
                     settings)  # fmt: skip
        audit.record(call.conn, actor, "member.set", f"account:{caller.account_id}",
                     issued.game_id, {"role": "owner"})  # fmt: skip
        game = games.get_game(call.conn, issued.game_id)
    return Reply(201, {"game": game_json(game, "owner"), "ingest_key": issued.ingest_key})


def get_game(call: Call) -> Reply:
    gid = game_id(call)
    role = require(call.caller(), gid, "viewer")
    try:
        return Reply(200, game_json(games.get_game(call.conn, gid), role))
    except games.GameNotFound:
        raise NotFound(f"no game with id {gid}", "game_id") from None


def set_retention(call: Call) -> Reply:
    """Admin, like the other changes that decide what the game keeps (privacy erasures):
    raw events only ever leave for the archive or past the windows the admin sets, and
    rollups are never dropped. Values are checked alone before the role (400 naming the
    field), against the stored ones after it (so a stranger learns nothing of them)."""
    gid = game_id(call)
    body = inputs.json_object(call.body, set(retention.BOUNDS))
    given = {name: retention.check_value(name, body[name]) for name in retention.BOUNDS
             if body.get(name) is not None}  # fmt: skip
    if not given:
        raise BatchError("hot_days", "give hot_days, archive_days or both")
    role = require(call.caller(), gid, "admin")
    with call.conn.transaction():
        change = games.set_retention(
            call.conn, gid, given.get("hot_days"), given.get("archive_days")
        )
        audit.record(call.conn, call.actor(), "game.retention", f"game:{gid}", gid,
                     {"old": change.old.as_dict(), "new": change.new.as_dict()})  # fmt: skip
        game = games.get_game(call.conn, gid)
    return Reply(200, game_json(game, role))


def rotate_key(call: Call) -> Reply:
    gid = game_id(call)
    body = inputs.json_object(call.body, {"grace_seconds"})
    grace = inputs.integer(body, "grace_seconds", 0, MAX_GRACE_SECONDS) or 0
    require(call.caller(), gid, "admin")
    with call.conn.transaction():
        issued = games.rotate_key(call.conn, gid, grace=timedelta(seconds=grace))
        audit.record(call.conn, call.actor(), "key.rotate", f"game:{gid}", gid,
                     {"grace_seconds": grace})  # fmt: skip
    return Reply(200, {"game_id": str(gid), "ingest_key": issued.ingest_key,
                       "grace_seconds": grace})  # fmt: skip


def revoke_keys(call: Call) -> Reply:
    gid = game_id(call)
    body = inputs.json_object(call.body, {"ingest_key"})
    key = inputs.string(body, "ingest_key", required=False)
    if key is not None and not keys.looks_like_key(key):
        raise BatchError("ingest_key", "not an ingest key (gmk_...)")
    require(call.caller(), gid, "admin")
    with call.conn.transaction():
        count = games.revoke_keys(call.conn, gid, key=key)
        audit.record(call.conn, call.actor(), "key.revoke", f"game:{gid}", gid,
                     {"revoked": count, "one_key": key is not None})  # fmt: skip
    return Reply(200, {"game_id": str(gid), "revoked": count})


def _token_json(info: TokenInfo) -> dict[str, Any]:
    return {
        "token_id": str(info.token_id),
        "name": info.name,
        "display_prefix": info.display_prefix,
        "created_at": info.created_at.isoformat(),
        "revoked_at": info.revoked_at.isoformat() if info.revoked_at else None,
        "last_used_at": info.last_used_at.isoformat() if info.last_used_at else None,
    }


def _game_tokens(call: Call, gid: uuid.UUID) -> list[TokenInfo]:
    """The tokens that read this game and nothing else (the ones this API manages)."""
    return [t for t in tokens.list_tokens(call.conn) if not t.all_games and t.game_ids == (gid,)]


def list_tokens(call: Call) -> Reply:
    gid = game_id(call)
    require(call.caller(), gid, "admin")
    return Reply(200, {"tokens": [_token_json(t) for t in _game_tokens(call, gid)]})


def create_token(call: Call) -> Reply:
    gid = game_id(call)
    body = inputs.json_object(call.body, {"name"})
    name = inputs.required_string(body, "name")
    try:
        clean = token_format.check_name(name)
    except ValueError as e:
        raise BatchError("name", str(e).removeprefix("token name: ")) from None
    require(call.caller(), gid, "admin")
    with call.conn.transaction():
        issued = tokens.create_token(call.conn, clean, [gid])
        audit.record(call.conn, call.actor(), "token.create", f"token:{issued.token_id}", gid,
                     {"name": issued.name})  # fmt: skip
    return Reply(201, {"token_id": str(issued.token_id), "token": issued.token,
                       "name": issued.name, "game_id": str(gid)})  # fmt: skip


def revoke_token(call: Call) -> Reply:
    gid = game_id(call)
    tid = inputs.identifier(call.path["token_id"], "token_id")
    require(call.caller(), gid, "admin")
    if tid not in {t.token_id for t in _game_tokens(call, gid)}:
        raise NotFound(f"no analyst token with id {tid} on game {gid}", "token_id")
    with call.conn.transaction():
        if tokens.revoke_token(call.conn, tid):
            audit.record(call.conn, call.actor(), "token.revoke", f"token:{tid}", gid)
    return Reply(204)
