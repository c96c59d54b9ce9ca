"""Who holds which role on a game: `GET/POST /v1/games/{game_id}/members` and
`PUT/DELETE /v1/games/{game_id}/members/{account_id}`.

Admins manage members; only an owner grants the owner role or changes an
owner's role; the last owner stays (409). POST names an existing account by
email (only admins of the game reach the lookup, so only they learn whether an
email has an account).
"""

import uuid
from typing import Any

from apps.core import accounts as account_rules
from apps.core import roles
from apps.core.errors import BatchError
from apps.core.roles import Role
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


def _role(body: inputs.Body) -> Role:
    role = inputs.required_string(body, "role")
    if not roles.is_role(role):
        raise BatchError("role", f"{role[:40]!r}; allowed: {', '.join(roles.ROLES)}")
    return role


def _grant(call: Call, gid: uuid.UUID, account_id: uuid.UUID, role: Role) -> Role | None:
    """Give the account `role` on the game under the owner rules, audited as member.set;
    the role it held before (None: none). The caller has checked the admin role."""
    held = {m.account_id: m.role for m in accounts.members(call.conn, gid)}
    if "owner" in (role, held.get(account_id)):
        require(call.caller(), gid, "owner")
    try:
        with call.conn.transaction():
            before = accounts.set_role(call.conn, gid, account_id, role)
            audit.record(call.conn, call.actor(), "member.set", f"account:{account_id}", gid,
                         {"role": role, "previous_role": before})  # fmt: skip
    except accounts.AccountNotFound:
        raise NotFound(f"no account with id {account_id}", "account_id") from None
    except accounts.LastOwner as e:
        raise Conflict(str(e), "role") from None
    return before


def _member(call: Call, gid: uuid.UUID, account_id: uuid.UUID) -> dict[str, Any]:
    member = next(m for m in accounts.members(call.conn, gid) if m.account_id == account_id)
    return member_json(member)


def set_member(call: Call) -> Reply:
    gid = game_id(call)
    account_id = inputs.identifier(call.path["account_id"], "account_id")
    role = _role(inputs.json_object(call.body, {"role"}))
    require(call.caller(), gid, "admin")
    _grant(call, gid, account_id, role)
    return Reply(200, _member(call, gid, account_id))


def add_member(call: Call) -> Reply:
    """201 when the account had no role on the game; 200 when it had one (then this is the
    PUT of its account id: the role changes under the same rules)."""
    gid = game_id(call)
    body = inputs.json_object(call.body, {"email", "role"})
    email = inputs.required_string(body, "email")
    try:
        account_rules.check_email(email)
    except ValueError as e:
        raise BatchError("email", str(e)) from None
    role = _role(body)
    require(call.caller(), gid, "admin")
    found = accounts.account_by_email(call.conn, email)
    if found is None:
        raise NotFound(f"no account with email {email.strip()}", "email")
    before = _grant(call, gid, found.account_id, role)
    return Reply(201 if before is None else 200, _member(call, gid, found.account_id))


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
