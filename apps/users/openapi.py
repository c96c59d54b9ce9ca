"""The users API's OpenAPI 3.1 document, served at /v1/openapi.json.

Written by hand, once, beside the handlers it describes; the tests validate it
(openapi-spec-validator's rules through schemathesis) and every answer of the
running service against it, so a handler that drifts from it fails them.
"""

from typing import Any, Final

from apps.core import limits, retention
from apps.core.privacy import KINDS, STATUSES
from apps.core.roles import ROLES

JSON: Final = "application/json"
_UUID: Final = {"type": "string", "format": "uuid"}
_TIME: Final = {"type": "string", "format": "date-time"}
_ROLE: Final = {"type": "string", "enum": list(ROLES)}
_PARAMS: Final[dict[str, Any]] = {
    "player_id": {"type": "string", "minLength": 1, "maxLength": limits.MAX_ID_CHARS}
}
"""Path parameters that are not UUIDs."""
_NULLABLE_TIME: Final = {"type": ["string", "null"], "format": "date-time"}
_RETENTION: Final[dict[str, Any]] = {
    name: {"type": "integer", "minimum": low, "maximum": high}
    for name, (low, high) in retention.BOUNDS.items()
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _object(required: dict[str, Any], optional: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {**required, **(optional or {})},
        "required": list(required),
        "additionalProperties": False,
    }


SCHEMAS: Final[dict[str, Any]] = {
    "Error": _object(
        {"error": {"type": "string", "minLength": 1}},
        {"field": {"type": "string"}, "required_role": _ROLE},
    ),
    "Login": _object(
        {
            "email": {"type": "string", "maxLength": 1000},
            "password": {"type": "string", "maxLength": 1000},
        },
    ),
    "Session": _object({"token": {"type": "string", "pattern": "^gms_"}, "expires_at": _TIME}),
    "Me": _object(
        {
            "account_id": _UUID,
            "email": {"type": "string"},
            "display_name": {"type": "string"},
            "created_at": _TIME,
            "games": {"type": "array", "items": _object({"game_id": _UUID, "role": _ROLE})},
        }
    ),
    "Game": _object(
        {
            "game_id": _UUID,
            "name": {"type": "string"},
            "rate_limit_eps": {"type": "integer", "minimum": 1},
            "late_horizon_days": {"type": ["integer", "null"]},
            "created_at": _TIME,
            "active_keys": {"type": "integer", "minimum": 0},
            "hot_days": _RETENTION["hot_days"],
            "archive_days": _RETENTION["archive_days"],
            "role": _ROLE,
        }
    ),
    "RetentionSet": {
        **_object({}, _RETENTION),
        "minProperties": 1,
        "description": "either or both; archive_days must exceed hot_days, or be 0 (never"
        " archived): both count from the event's day",
    },
    "Games": _object({"games": {"type": "array", "items": _ref("Game")}}),
    "GameCreate": _object(
        {"name": {"type": "string", "minLength": 1, "maxLength": 200}},
        {
            "rate_limit_eps": {"type": "integer", "minimum": 1, "maximum": 1_000_000},
            "late_horizon_days": {"type": "integer", "minimum": 1, "maximum": 3650},
        },
    ),
    "GameCreated": _object({"game": _ref("Game"), "ingest_key": {"type": "string"}}),
    "Member": _object(
        {
            "account_id": _UUID,
            "email": {"type": "string"},
            "display_name": {"type": "string"},
            "role": _ROLE,
            "since": _TIME,
        }
    ),
    "Members": _object({"members": {"type": "array", "items": _ref("Member")}}),
    "MemberSet": _object({"role": _ROLE}),
    "MemberAdd": _object({"email": {"type": "string", "maxLength": 254}, "role": _ROLE}),
    "PasswordChange": _object(
        {
            "current_password": {"type": "string", "maxLength": 1000},
            "new_password": {"type": "string", "minLength": 12, "maxLength": 256},
        }
    ),
    "PlayerEvent": _object(
        {
            "event_id": _UUID,
            "type": {"type": "string"},
            "time": _TIME,
            "properties": {"type": "object"},
            "amount": {"type": ["number", "null"]},
            "currency": {"type": ["string", "null"]},
        }
    ),
    "Player": _object(
        {
            "player_id": {"type": "string", "minLength": 1},
            "first_seen": _TIME,
            "last_seen": _TIME,
            "first_platform": {"type": ["string", "null"]},
            "first_country": {"type": ["string", "null"]},
            "first_app_version": {"type": ["string", "null"]},
            "days_active": {"type": "integer", "minimum": 0},
            "sessions": {"type": "integer", "minimum": 0},
            "session_seconds": {"type": "number"},
            "revenue_usd": {"type": "number"},
            "purchases": {"type": "integer", "minimum": 0},
            "last_events": {"type": "array", "items": _ref("PlayerEvent"), "maxItems": 50},
        }
    ),
    "KeyRotate": _object(
        {}, {"grace_seconds": {"type": "integer", "minimum": 0, "maximum": 7 * 24 * 3600}}
    ),
    "KeyRotated": _object(
        {
            "game_id": _UUID,
            "ingest_key": {"type": "string", "pattern": "^gmk_"},
            "grace_seconds": {"type": "integer"},
        }
    ),
    "KeyRevoke": _object({}, {"ingest_key": {"type": "string", "pattern": "^gmk_"}}),
    "KeysRevoked": _object({"game_id": _UUID, "revoked": {"type": "integer", "minimum": 0}}),
    "Token": _object(
        {
            "token_id": _UUID,
            "name": {"type": "string"},
            "display_prefix": {"type": "string"},
            "created_at": _TIME,
            "revoked_at": {"type": ["string", "null"], "format": "date-time"},
            "last_used_at": {"type": ["string", "null"], "format": "date-time"},
        }
    ),
    "Tokens": _object({"tokens": {"type": "array", "items": _ref("Token")}}),
    "TokenCreate": _object({"name": {"type": "string", "minLength": 1, "maxLength": 100}}),
    "TokenCreated": _object(
        {
            "token_id": _UUID,
            "token": {"type": "string", "pattern": "^gma_"},
            "name": {"type": "string"},
            "game_id": _UUID,
        }
    ),
    "AuditEntry": _object(
        {
            "entry_id": {"type": "integer"},
            "at": _TIME,
            "actor": {"type": "string"},
            "action": {"type": "string"},
            "target": {"type": "string"},
            "game_id": {"type": ["string", "null"], "format": "uuid"},
            "request_id": {"type": ["string", "null"]},
            "details": {"type": "object"},
        }
    ),
    "PrivacyRequest": _object({}, {"suppress": {"type": "boolean"}}),
    "PrivacyJob": _object(
        {
            "job_id": _UUID,
            "kind": {"type": "string", "enum": list(KINDS)},
            "game_id": _UUID,
            "player_id": {"type": ["string", "null"]},
            "player": {"type": "string", "pattern": "^sha256:[0-9a-f]{64}$"},
            "status": {"type": "string", "enum": list(STATUSES)},
            "suppress": {"type": "boolean"},
            "created_at": _TIME,
            "started_at": _NULLABLE_TIME,
            "finished_at": _NULLABLE_TIME,
            "attempts": {"type": "integer", "minimum": 0},
            "error": {"type": ["string", "null"]},
            "status_url": {"type": "string"},
        },
        {
            "receipt": {"type": ["object", "null"]},
            "events": {"type": ["integer", "null"]},
            "bytes": {"type": ["integer", "null"]},
            "download_url": {"type": ["string", "null"]},
            "expires_at": _TIME,
        },
    ),
    "PublicKey": _object(
        {
            "algorithm": {"type": "string", "enum": ["Ed25519"]},
            "key_id": {"type": "string"},
            "public_key": {"type": "string"},
            "public_key_pem": {"type": "string"},
            "keys": {
                "type": "array",
                "items": _object(
                    {
                        "key_id": {"type": "string"},
                        "public_key": {"type": "string"},
                        "created_at": _TIME,
                        "current": {"type": "boolean"},
                    }
                ),
            },
        }
    ),
    "AuditPage": _object(
        {
            "entries": {"type": "array", "items": _ref("AuditEntry")},
            "next_cursor": {"type": ["string", "null"]},
        }
    ),
}

_WHY: Final = {
    "400": "bad input: `field` names it",
    "401": "no valid session token",
    "403": "the caller's role is too low: `required_role` names the one needed",
    "404": "no such id, or one the caller has no role on: `field` names it",
    "408": "the body did not arrive in time",
    "409": "contradicts what is stored (the last owner; an export not ready)",
    "413": "the body is too large",
    "415": "the body is not application/json",
    "429": "too many failed logins (or password checks): retry after Retry-After seconds",
    "503": "the database is unavailable: retry after Retry-After seconds",
}
_RETRY: Final = {"Retry-After": {"schema": {"type": "string"}, "required": True}}


def _error(status: str) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "description": _WHY[status], "content": {JSON: {"schema": _ref("Error")}},
    }  # fmt: skip
    if status in ("429", "503"):
        answer["headers"] = _RETRY
    return answer


def _op(
    summary: str, ok: tuple[str, str | None], errors: str, *, body: str | None = None,
    body_required: bool = True, params: tuple[str, ...] = (),
    query: tuple[dict[str, Any], ...] = (),
    public: bool = False,
) -> dict[str, Any]:  # fmt: skip
    status, schema = ok
    answers: dict[str, Any] = {
        status: {"description": "done"}
        | ({"content": {JSON: {"schema": _ref(schema)}}} if schema else {})
    }
    codes = errors.split() + ([] if public else ["401"]) + ["503"]
    if body is not None:
        codes += ["400", "408", "413", "415"]
    if params or query:
        codes += ["400"]
    answers |= {code: _error(code) for code in sorted(set(codes))}
    operation: dict[str, Any] = {"summary": summary, "responses": answers}
    if public:
        operation["security"] = []
    if body is not None:
        operation["requestBody"] = {
            "required": body_required, "content": {JSON: {"schema": _ref(body)}},
        }  # fmt: skip
    parameters = [
        {"name": p, "in": "path", "required": True, "schema": _PARAMS.get(p, _UUID)} for p in params
    ]
    if parameters or query:
        operation["parameters"] = parameters + list(query)
    return operation


def _q(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema}


_G: Final = ("game_id",)
_GP: Final = ("game_id", "player_id")
PATHS: Final[dict[str, Any]] = {
    "/v1/sessions": {
        "post": _op(
            "log in: a session token", ("201", "Session"), "401 429", body="Login", public=True
        ),
        "delete": _op("log out: end the caller's session", ("204", None), ""),
    },
    "/v1/me": {"get": _op("the caller's account and roles", ("200", "Me"), "")},
    "/v1/me/password": {
        "post": _op(
            "change the caller's password; the account's other sessions end",
            ("204", None),
            "429",
            body="PasswordChange",
        ),
    },
    "/v1/games": {
        "get": _op("the games the caller has a role on", ("200", "Games"), ""),
        "post": _op(
            "create a game; the caller becomes its owner",
            ("201", "GameCreated"),
            "",
            body="GameCreate",
        ),
    },
    "/v1/games/{game_id}": {"get": _op("one game (viewer)", ("200", "Game"), "404", params=_G)},
    "/v1/games/{game_id}/retention": {
        "put": _op(
            "how long the game's raw events are kept: hot_days in PostgreSQL, archive_days in"
            " the archive (admin)",
            ("200", "Game"),
            "403 404",
            body="RetentionSet",
            params=_G,
        ),
    },
    "/v1/games/{game_id}/members": {
        "get": _op("the game's members (admin)", ("200", "Members"), "403 404", params=_G),
        "post": _op(
            "give the account with this email a role (admin; owner for the owner role):"
            " 201 if it had none, 200 if its role changed",
            ("201", "Member"),
            "403 404 409",
            body="MemberAdd",
            params=_G,
        ),
    },
    "/v1/games/{game_id}/members/{account_id}": {
        "put": _op(
            "give an account a role (admin; owner for the owner role)",
            ("200", "Member"),
            "403 404 409",
            body="MemberSet",
            params=("game_id", "account_id"),
        ),
        "delete": _op(
            "take an account's role away (admin; owner for an owner)",
            ("204", None),
            "403 404 409",
            params=("game_id", "account_id"),
        ),
    },
    "/v1/games/{game_id}/keys/rotate": {
        "post": _op(
            "issue a new ingest key; the old ones end after grace_seconds (admin)",
            ("200", "KeyRotated"),
            "403 404",
            body="KeyRotate",
            body_required=False,
            params=_G,
        ),
    },
    "/v1/games/{game_id}/keys/revoke": {
        "post": _op(
            "revoke the game's ingest keys, or one (admin)",
            ("200", "KeysRevoked"),
            "403 404",
            body="KeyRevoke",
            body_required=False,
            params=_G,
        ),
    },
    "/v1/games/{game_id}/tokens": {
        "get": _op(
            "the game's analyst tokens, without secrets (admin)",
            ("200", "Tokens"),
            "403 404",
            params=_G,
        ),
        "post": _op(
            "issue an analyst token reading this game (admin)",
            ("201", "TokenCreated"),
            "403 404",
            body="TokenCreate",
            params=_G,
        ),
    },
    "/v1/games/{game_id}/tokens/{token_id}": {
        "delete": _op(
            "revoke an analyst token of the game (admin)",
            ("204", None),
            "403 404",
            params=("game_id", "token_id"),
        ),
    },
    "/v1/games/{game_id}/players/{player_id}": {
        "get": _op(
            "a player's profile (analyst)",
            ("200", "Player"),
            "403 404",
            params=_GP,
            query=(_q("events", {"type": "integer", "minimum": 0, "maximum": 50}),),
        ),
    },
    "/v1/audit": {
        "get": _op(
            "the audit log of the games the caller administers, newest first",
            ("200", "AuditPage"),
            "403 404",
            query=(
                _q("game_id", _UUID),
                _q("since", _TIME),
                _q("until", _TIME),
                _q("cursor", {"type": "string", "pattern": "^[0-9]{1,18}$"}),
                _q("limit", {"type": "integer", "minimum": 1, "maximum": 200}),
            ),
        ),
    },
    "/v1/games/{game_id}/players/{player_id}/export": {
        "post": _op(
            "export everything stored of a player (admin): a job, 202",
            ("202", "PrivacyJob"),
            "403 404",
            body="PrivacyRequest",
            body_required=False,
            params=_GP,
        ),
    },
    "/v1/games/{game_id}/players/{player_id}/erasure": {
        "post": _op(
            "erase a player from every store, optionally refusing their future events"
            " (admin): a job, 202",
            ("202", "PrivacyJob"),
            "403 404",
            body="PrivacyRequest",
            body_required=False,
            params=_GP,
        ),
    },
    "/v1/games/{game_id}/players/{player_id}/suppression": {
        "delete": _op(
            "lift an erased player's suppression: their events are accepted again (admin)",
            ("204", None),
            "403 404",
            params=_GP,
        ),
    },
    "/v1/privacy/jobs/{job_id}": {
        "get": _op(
            "a privacy job: status, receipt (erasure), download (export); with Accept:"
            " application/gzip, a done export's data",
            ("200", "PrivacyJob"),
            "403 404 409",
            params=("job_id",),
        ),
    },
    "/v1/privacy/jobs/{job_id}/download": {
        "get": _op(
            "a done export: NDJSON, gzip-compressed, streamed",
            ("200", None),
            "403 404 409",
            params=("job_id",),
        ),
    },
    "/v1/privacy/public-key": {
        "get": _op(
            "the Ed25519 public keys that check erasure receipts",
            ("200", "PublicKey"),
            "",
            public=True,
        ),
    },
}

# The ids are the route names apps/users/app.py gives the same operations (metrics label).
_IDS: Final = {
    ("/v1/sessions", "post"): "login", ("/v1/sessions", "delete"): "logout",
    ("/v1/me", "get"): "me", ("/v1/me/password", "post"): "password_change",
    ("/v1/games", "get"): "games", ("/v1/games", "post"): "game_create",
    ("/v1/games/{game_id}", "get"): "game",
    ("/v1/games/{game_id}/retention", "put"): "game_retention",
    ("/v1/games/{game_id}/members", "get"): "members",
    ("/v1/games/{game_id}/members", "post"): "member_add",
    ("/v1/games/{game_id}/members/{account_id}", "put"): "member_set",
    ("/v1/games/{game_id}/members/{account_id}", "delete"): "member_remove",
    ("/v1/games/{game_id}/keys/rotate", "post"): "key_rotate",
    ("/v1/games/{game_id}/keys/revoke", "post"): "key_revoke",
    ("/v1/games/{game_id}/tokens", "get"): "tokens",
    ("/v1/games/{game_id}/tokens", "post"): "token_create",
    ("/v1/games/{game_id}/tokens/{token_id}", "delete"): "token_revoke",
    ("/v1/games/{game_id}/players/{player_id}", "get"): "player",
    ("/v1/audit", "get"): "audit",
    ("/v1/games/{game_id}/players/{player_id}/export", "post"): "privacy_export",
    ("/v1/games/{game_id}/players/{player_id}/erasure", "post"): "privacy_erasure",
    ("/v1/games/{game_id}/players/{player_id}/suppression", "delete"): "privacy_unsuppress",
    ("/v1/privacy/jobs/{job_id}", "get"): "privacy_job",
    ("/v1/privacy/jobs/{job_id}/download", "get"): "privacy_download",
    ("/v1/privacy/public-key", "get"): "privacy_public_key",
}  # fmt: skip
for (_path, _method), _id in _IDS.items():
    PATHS[_path][_method]["operationId"] = _id
_ADD: Final = PATHS["/v1/games/{game_id}/members"]["post"]["responses"]
_ADD["200"] = {**_ADD["201"], "description": "the account had a role: it changed"}
_ADD["201"] = {**_ADD["201"], "description": "the account had no role: added"}

DOCUMENT: Final[dict[str, Any]] = {
    "openapi": "3.1.0",
    "info": {
        "title": "GameMetrics users API",
        "version": "1",
        "description": "Accounts, roles on games, sessions, games, ingest keys, analyst tokens,"
        " the audit log, and players' privacy requests (export, erasure, receipts)."
        " See docs/USERS.md and docs/PRIVACY.md.",
    },
    "paths": PATHS,
    "components": {
        "schemas": SCHEMAS,
        "securitySchemes": {
            "session": {"type": "http", "scheme": "bearer", "description": "POST /v1/sessions"}
        },
    },
    "security": [{"session": []}],
}
