"""The OpenAPI document: valid OpenAPI 3.1, one operation per route, served as written, and
the running service answers as it says (schemathesis, bounded in examples and time)."""

import re
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import httpx
import jsonschema
from schemathesis.specs.openapi.definitions import OPENAPI_31
from starlette.routing import Route

from apps.users.app import ROUTES
from apps.users.openapi import DOCUMENT
from tests.support.servers import Endpoints, UvicornThread
from tests.support.users import person


def test_the_document_is_valid_openapi_3_1() -> None:
    jsonschema.Draft202012Validator(OPENAPI_31).validate(DOCUMENT)
    for path, operations in DOCUMENT["paths"].items():
        for method, operation in operations.items():
            assert operation["responses"], (method, path)
            for status, answer in operation["responses"].items():
                if status >= "400":
                    assert answer["content"]["application/json"]["schema"] == {
                        "$ref": "#/components/schemas/Error"
                    }


def test_it_has_exactly_one_operation_per_route_named_alike() -> None:
    # A route's convertor (`{player_id:player_id}`) is no part of the documented template.
    routes = {
        (re.sub(r":\w+}", "}", route.path), method.lower(), route.endpoint)
        for route in ROUTES
        if isinstance(route, Route)
        for method in route.methods or ()
        if method != "HEAD"
    }
    documented = {
        (path, method) for path, operations in DOCUMENT["paths"].items() for method in operations
    }
    assert {(path, method) for path, method, _ in routes} == documented


def test_it_is_served_as_written(users: UvicornThread) -> None:
    r = httpx.get(users.url + "/v1/openapi.json")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.json() == DOCUMENT


def test_schemathesis_finds_no_5xx_and_no_answer_outside_the_document(
    users: UvicornThread, endpoints: Endpoints, tmp_path: Path
) -> None:
    owner = person(users.url, endpoints.postgres_dsn)
    made = httpx.post(users.url + "/v1/games", json={"name": "fuzzed"}, headers=owner.auth)
    game_id = made.json()["game"]["game_id"]
    config = tmp_path / "schemathesis.toml"
    # Every operation on the owner's own game (random ids would only meet 404s), the
    # owner's session kept (logging out would leave only 401s to check).
    config.write_text(f'[parameters]\n"path.game_id" = "{game_id}"\n')
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "schemathesis"), "--config-file", str(config),
            "run", users.url + "/v1/openapi.json", "--url", users.url,
            "-H", f"Authorization: Bearer {owner.token}",
            "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,"
            "response_headers_conformance,response_schema_conformance",
            "--exclude-operation-id", "logout",
            "--phases", "examples,coverage,fuzzing", "--max-examples", "15", "--max-time", "30",
            "--seed", "16", "--workers", "1", "--generation-database", "none",
            "--suppress-health-check", "all", "--request-timeout", "20", "--no-color",
            "--report", "junit", "--report-junit-path", str(tmp_path / "junit.xml"),
        ],
        capture_output=True, text=True, timeout=400, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-8000:] + done.stderr[-2000:]
    report = ElementTree.parse(tmp_path / "junit.xml")  # noqa: S314 - written by the run above
    cases = report.getroot().iter("testcase")
    tested = {case.get("name") for case in cases}
    expected = {f"{method.upper()} {path}" for path, ops in DOCUMENT["paths"].items()
                for method in ops} - {"DELETE /v1/sessions"}  # fmt: skip
    assert tested == expected, done.stdout[-3000:]
    me = httpx.get(users.url + "/v1/me", headers=owner.auth)
    assert me.status_code == 200  # the session survived the run
