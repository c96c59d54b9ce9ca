"""Who holds which role on a game: `GET/PUT/DELETE /v1/games/{game_id}/members[/{account_id}]`.

Admins manage members; only an owner grants the owner role or changes an
owner's role; the last owner stays (409).
"""

from typing import Any

from apps.core import roles
from apps.core.errors import BatchError
from apps.store import accounts, audit
from apps.store.accounts import Member
from apps.users import inputs
from apps.users.auth import require
from apps.users.endpoint import Call, Reply
from apps.users.errors import Conflict, NotFound
from apps.users.games import game_id


def member_json(member: Member) -> dict[str, Any]:
    return {
        "account_id": str(member.account_id),
        "email": member.email,
        "display_name": member.display_name,
        "role": member.role,
        "since": member.since.isoformat(),
    }


def list_members(call: Call) -> Reply:
    gid = game_id(call)
    require(call.caller(), gid, "admin")
    return Reply(200, {"members": [member_json(m) for m in accounts.members(call.conn, gid)]})


def set_member(call: Call) -> Reply:
    gid = game_id(call)
    account_id = inputs.identifier(call.path["account_id"], "account_id")
    body = inputs.json_object(call.body, {"role"})
    role = inputs.required_string(body, "role")
    if not roles.is_role(role):
        raise BatchError("role", f"{role[:40]!r}; allowed: {', '.join(roles.ROLES)}")
    caller = call.caller()
    require(caller, gid, "admin")
    held = {m.account_id: m.role for m in accounts.members(call.conn, gid)}
    if "owner" in (role, held.get(account_id)):
        require(caller, gid, "owner")
    try:
        with call.conn.transaction():
            before = accounts.set_role(call.conn, gid, account_id, role)
            audit.record(call.conn, call.actor(), "member.set", f"account:{account_id}", gid,
                         {"role": role, "previous_role": before})  # fmt: skip
    except accounts.AccountNotFound:
        raise NotFound(f"no account with id {account_id}", "account_id") from None
    except accounts.LastOwner as e:
        raise Conflict(str(e), "role") from None
    member = next(m for m in accounts.members(call.conn, gid) if m.account_id == account_id)
    return Reply(200, member_json(member))


def remove_member(call: Call) -> Reply:
    gid = game_id(call)
    account_id = inputs.identifier(call.path["account_id"], "account_id")
    caller = call.caller()
    require(caller, gid, "admin")
    held = {m.account_id: m.role for m in accounts.members(call.conn, gid)}
    if held.get(account_id) == "owner":
        require(caller, gid, "owner")
    try:
        with call.conn.transaction():
            before = accounts.remove_member(call.conn, gid, account_id)
            audit.record(call.conn, call.actor(), "member.remove", f"account:{account_id}", gid,
                         {"previous_role": before})  # fmt: skip
    except accounts.MemberNotFound:
        raise NotFound(f"account {account_id} has no role on game {gid}", "account_id") from None
    except accounts.LastOwner as e:
        raise Conflict(str(e), "account_id") from None
    return Reply(204)
