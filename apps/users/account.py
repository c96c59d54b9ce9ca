"""`POST /v1/sessions` (log in), `DELETE /v1/sessions` (log out), `GET /v1/me` and
`POST /v1/me/password`.

Logging in checks the throttle first (429 with Retry-After, without touching
the password), then the password (argon2id; an unknown email costs the same
work as a known one), and answers every failure with the same 401. Changing
the password checks the current one under the same throttle (a stolen session
guesses no faster than a login), and ends the account's other sessions.
"""

from apps.core.errors import BatchError
from apps.store import accounts, audit, logins, passwords, sessions
from apps.users import inputs
from apps.users.endpoint import Call, Reply
from apps.users.errors import Throttled, Unauthenticated

_FAILED = "wrong email or password"


def _limits(call: Call, email: str) -> tuple[logins.Limit, logins.Limit]:
    s = call.settings
    return (
        logins.Limit("account", email.strip(), s.login_failures_per_account, s.login_window),
        logins.Limit("address", call.client, s.login_failures_per_address, s.login_window),
    )


def login(call: Call) -> Reply:
    body = inputs.json_object(call.body, {"email", "password"})
    email = inputs.required_string(body, "email")
    password = inputs.required_string(body, "password")
    limits = _limits(call, email)
    wait = logins.retry_after(call.conn, limits)
    if wait is not None:
        raise Throttled(wait)
    found = accounts.credentials(call.conn, email)
    if not passwords.verify(found.password_hash if found else None, password) or found is None:
        logins.record_failure(call.conn, limits)
        raise Unauthenticated(_FAILED)
    logins.clear(call.conn, limits[0])
    with call.conn.transaction():
        issued = sessions.create_session(call.conn, found.account_id, call.settings.session_ttl)
        actor = audit.Actor.account(found.account_id, call.request_id)
        audit.record(call.conn, actor, "session.create", f"session:{issued.session_id}", None)
    return Reply(201, {"token": issued.token, "expires_at": issued.expires_at.isoformat()})


def logout(call: Call) -> Reply:
    caller = call.caller()
    sessions.end_session(call.conn, caller.session_id)
    return Reply(204)


def me(call: Call) -> Reply:
    caller = call.caller()
    account = accounts.get_account(call.conn, caller.account_id)
    return Reply(
        200,
        {
            "account_id": str(account.account_id),
            "email": account.email,
            "display_name": account.display_name,
            "created_at": account.created_at.isoformat(),
            "games": [
                {"game_id": str(g), "role": r}
                for g, r in sorted(caller.roles.items(), key=lambda item: str(item[0]))
            ],
        },
    )


def change_password(call: Call) -> Reply:
    body = inputs.json_object(call.body, {"current_password", "new_password"})
    current = inputs.required_string(body, "current_password")
    new = inputs.required_string(body, "new_password")
    try:
        passwords.check_password(new)
    except ValueError as e:
        raise BatchError("new_password", str(e)) from None
    caller = call.caller()
    limits = _limits(call, caller.email)
    wait = logins.retry_after(call.conn, limits)
    if wait is not None:
        raise Throttled(wait)
    stored = accounts.password_hash(call.conn, caller.account_id)
    if not passwords.verify(stored, current):
        logins.record_failure(call.conn, limits)
        raise BatchError("current_password", "not the account's current password")
    logins.clear(call.conn, limits[0])
    if new == current:
        raise BatchError("new_password", "is the current password; choose another")
    hashed = passwords.hash_password(new)
    with call.conn.transaction():
        if not accounts.replace_password_hash(call.conn, caller.account_id, stored, hashed):
            raise BatchError("current_password", "the password changed meanwhile; retry")
        ended = sessions.end_other_sessions(call.conn, caller.account_id, caller.session_id)
        audit.record(call.conn, call.actor(), "account.password", f"account:{caller.account_id}",
                     None, {"other_sessions_ended": ended})  # fmt: skip
    return Reply(204)
