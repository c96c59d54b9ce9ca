"""The Starlette application of the users API: /v1 routes, the OpenAPI document, probes."""

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import anyio.to_thread
from starlette.applications import Starlette
from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from apps.core.services import USERS
from apps.core.settings.users import UsersSettings
from apps.edge.app import service_app
from apps.edge.probes import Probes
from apps.edge.responses import json_response
from apps.users import account, audit, games, members, openapi, privacy, profiles
from apps.users.endpoint import endpoint
from apps.users.jobs import Runner
from apps.users.runtime import Runtime, open_runtime, platform_erasers


class _PlayerIdConvertor(Convertor[str]):
    """A player id may hold "/" (sent as is or as %2F, which the server decodes) and any
    character ingestion accepts; the handler refuses the others by name (400). So this
    matches everything, line breaks included (Starlette's `path` stops at one)."""

    regex = r"[\s\S]*"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("player_id", _PlayerIdConvertor())
_GAME = "/v1/games/{game_id}"
_PLAYER = _GAME + "/players/{player_id:player_id}"
_PROFILE = f"{_GAME}/players/{{player_id:player_id}}"
_JOB = "/v1/privacy/jobs/{job_id}"

ROUTES = [
    Route("/v1/sessions", endpoint("login", account.login, "json", public=True), methods=["POST"]),
    Route("/v1/sessions", endpoint("logout", account.logout), methods=["DELETE"]),
    Route("/v1/me", endpoint("me", account.me), methods=["GET"]),
    Route(
        "/v1/me/password",
        endpoint("password_change", account.change_password, "json"),
        methods=["POST"],
    ),
    Route("/v1/games", endpoint("games", games.list_games), methods=["GET"]),
    Route("/v1/games", endpoint("game_create", games.create_game, "json"), methods=["POST"]),
    Route(_GAME, endpoint("game", games.get_game), methods=["GET"]),
    Route(
        f"{_GAME}/retention",
        endpoint("game_retention", games.set_retention, "json"),
        methods=["PUT"],
    ),
    Route(f"{_GAME}/members", endpoint("members", members.list_members), methods=["GET"]),
    Route(f"{_GAME}/members", endpoint("member_add", members.add_member, "json"), methods=["POST"]),
    Route(
        f"{_GAME}/members/{{account_id}}",
        endpoint("member_set", members.set_member, "json"),
        methods=["PUT"],
    ),
    Route(
        f"{_GAME}/members/{{account_id}}",
        endpoint("member_remove", members.remove_member),
        methods=["DELETE"],
    ),
    Route(
        f"{_GAME}/keys/rotate",
        endpoint("key_rotate", games.rotate_key, "optional"),
        methods=["POST"],
    ),
    Route(
        f"{_GAME}/keys/revoke",
        endpoint("key_revoke", games.revoke_keys, "optional"),
        methods=["POST"],
    ),
    Route(f"{_GAME}/tokens", endpoint("tokens", games.list_tokens), methods=["GET"]),
    Route(
        f"{_GAME}/tokens", endpoint("token_create", games.create_token, "json"), methods=["POST"]
    ),
    Route(
        f"{_GAME}/tokens/{{token_id}}",
        endpoint("token_revoke", games.revoke_token),
        methods=["DELETE"],
    ),
    Route(_PROFILE, endpoint("player", profiles.get_profile), methods=["GET"]),
    Route("/v1/audit", endpoint("audit", audit.list_entries), methods=["GET"]),
    Route(
        f"{_PLAYER}/export",
        endpoint("privacy_export", privacy.request_export, "optional"),
        methods=["POST"],
    ),
    Route(
        f"{_PLAYER}/erasure",
        endpoint("privacy_erasure", privacy.request_erasure, "optional"),
        methods=["POST"],
    ),
    Route(
        f"{_PLAYER}/suppression",
        endpoint("privacy_unsuppress", privacy.lift_suppression),
        methods=["DELETE"],
    ),
    Route(_JOB, endpoint("privacy_job", privacy.get_job), methods=["GET"]),
    Route(f"{_JOB}/download", endpoint("privacy_download", privacy.download), methods=["GET"]),
    Route(
        "/v1/privacy/public-key",
        endpoint("privacy_public_key", privacy.public_key, public=True),
        methods=["GET"],
    ),
]


async def openapi_json(_: Request) -> Response:
    return json_response(200, openapi.DOCUMENT)


def create_app(settings: UsersSettings) -> Starlette:
    @contextlib.asynccontextmanager
    async def running(app: Starlette) -> AsyncIterator[Probes]:
        with open_runtime(settings) as rt:
            app.state.runtime = rt
            runner = Runner(rt, platform_erasers(settings), settings.privacy_runners)
            runner.start()
            try:
                yield Probes(registry=rt.metrics.registry, readiness={"postgres": _pool_check(rt)})
            finally:
                await anyio.to_thread.run_sync(runner.stop)

    routes = [*ROUTES, Route("/v1/openapi.json", openapi_json, methods=["GET"])]
    return service_app(USERS, routes, running)


def _pool_check(rt: Runtime) -> Callable[[], Awaitable[None]]:
    def ping() -> None:
        with rt.pool.connection(timeout=1.0) as conn:
            conn.execute("SELECT 1")

    async def check() -> None:
        await anyio.to_thread.run_sync(ping, abandon_on_cancel=True)

    return check
