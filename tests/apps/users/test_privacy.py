"""Privacy jobs end to end on the real pipeline: exports hold every stored event (those in
flight too), erasures leave nothing and sign a receipt the CLI verifies, only owners and
admins of the game may ask or read, and the audit log names players by digest only.

Events go through the ingestion API, Kafka and a processor of the module's own; the
users API runs the jobs, waiting for that processor's committed offsets.
"""

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from apps.core.privacy import digest_text, player_digest
from tests.conftest import GameKey, new_game
from tests.support.factory import batch, event
from tests.support.players import rows_of_player
from tests.support.poll import poll_until
from tests.support.privacy import ask, export_lines, finished, job
from tests.support.processor import (
    ThreadedProcessor,
    module_processor,
)
from tests.support.recompute import rollup_differences
from tests.support.servers import Endpoints, UvicornThread
from tests.support.users import Person, person, running_users, users_settings

processor = pytest.fixture(scope="module", name="processor")(module_processor)


@pytest.fixture(scope="module")
def jobs_api(endpoints: Endpoints, processor: ThreadedProcessor) -> Iterator[UvicornThread]:
    """A users API whose runner waits for this module's processor.

    Jobs other modules asked for (the schemathesis run, the role matrix) were never run
    (their servers have no runner); they would queue ahead of this module's, so they end
    here, failed with a reason."""
    with psycopg.connect(endpoints.postgres_dsn) as conn:
        conn.execute(
            "UPDATE privacy_jobs SET status = 'failed', error = 'left by another test module',"
            " player_id = NULL, finished_at = now() WHERE status IN ('queued', 'running')"
        )
    settings = users_settings(
        endpoints, privacy_runners=2, privacy_lease=timedelta(seconds=3),
        privacy_kafka_wait=timedelta(seconds=60),
        processor_group=processor.processor.settings.group_id,
    )  # fmt: skip
    with running_users(settings) as server:
        yield server


def _send(ingest: UvicornThread, game: GameKey, events: list[dict[str, Any]]) -> None:
    for start in range(0, len(events), 200):
        r = httpx.post(
            ingest.url + "/v1/events", json=batch(*events[start : start + 200]),
            headers=game.auth, timeout=30,
        )  # fmt: skip
        assert r.status_code == 202, r.text
        assert r.json()["accepted"] == len(events[start : start + 200])


def _play(player: str, n: int) -> list[dict[str, Any]]:
    """`n` events of a player: sessions, a purchase, progression, with segments."""
    kinds = ["session_start", "design", "progression", "purchase", "session_end"]
    return [
        event(
            kinds[i % len(kinds)],
            player_id=player,
            session_id=f"{player}-s{i // 5}",
            platform="ios",
            country="DE",
            app_version="1.2.0",
        )
        for i in range(n)
    ]


def _stored(dsn: str, game_id: uuid.UUID, player: str) -> dict[str, dict[str, Any]]:
    with psycopg.connect(dsn) as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        rows = cur.execute(
            "SELECT event_id::text, event_type, session_id, platform, amount, currency"
            " FROM events WHERE game_id = %s AND player_id = %s",
            (game_id, player),
        ).fetchall()
    return {r["event_id"]: r for r in rows}


@pytest.fixture
def owner(jobs_api: UvicornThread, endpoints: Endpoints, game: GameKey) -> Person:
    return person(jobs_api.url, endpoints.postgres_dsn, {game.game_id: "owner"})


def test_an_export_holds_every_stored_event_of_the_player_and_their_profile(
    jobs_api: UvicornThread, ingest: UvicornThread, endpoints: Endpoints, game: GameKey,
    owner: Person,
) -> None:  # fmt: skip
    mine, theirs = _play("exported", 60), _play("someone-else", 20)
    _send(ingest, game, mine[:30] + theirs)
    # The rest is still in flight when the export is asked for: the job waits for it.
    _send(ingest, game, mine[30:])
    job_id = ask(jobs_api.url, owner, game.game_id, "exported", "export")
    done = finished(jobs_api.url, owner, job_id)
    assert done["status"] == "done", done
    assert done["kind"] == "export"
    assert done["events"] == 60
    assert done["bytes"] > 0
    assert done["download_url"] == f"/v1/privacy/jobs/{job_id}/download"
    assert done["player_id"] is None  # forgotten once the job is done; the digest stays
    assert done["player"] == digest_text(player_digest(game.game_id, "exported"))

    lines = export_lines(jobs_api.url, owner, job_id)
    profile, events = lines[0], lines[1:]
    assert profile["record"] == "profile"
    assert profile["player_id"] == "exported"
    assert profile["found"] is True
    assert profile["purchases"] == 12
    assert profile["sessions"] == 12
    assert profile["first_platform"] == "ios"
    stored = _stored(endpoints.postgres_dsn, game.game_id, "exported")
    assert {e["event_id"] for e in events} == set(stored) == {e["event_id"] for e in mine}
    for line in events:
        row = stored[line["event_id"]]
        assert line["record"] == "event"
        assert line["player_id"] == "exported"
        assert (line["type"], line["session_id"], line["platform"]) == (
            row["event_type"], row["session_id"], row["platform"],
        )  # fmt: skip
        assert (line["amount"], line["currency"]) == (row["amount"], row["currency"])
    times = [e["event_time"] for e in events]
    assert times == sorted(times)

    # The same download through the job's URL and Accept.
    r = httpx.get(
        f"{jobs_api.url}/v1/privacy/jobs/{job_id}",
        headers={**owner.auth, "Accept": "application/gzip"}, timeout=30,
    )  # fmt: skip
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/gzip"
    assert "attachment" in r.headers["content-disposition"]


def test_an_erasure_leaves_nothing_of_the_player_and_signs_a_receipt_the_cli_verifies(
    jobs_api: UvicornThread, ingest: UvicornThread, endpoints: Endpoints, game: GameKey,
    owner: Person, tmp_path: Path,
) -> None:  # fmt: skip
    gone, kept = _play("erased", 45), _play("kept", 25)
    _send(ingest, game, kept + gone)  # in flight when the erasure is asked for
    job_id = ask(jobs_api.url, owner, game.game_id, "erased", "erasure")
    done = finished(jobs_api.url, owner, job_id)
    assert done["status"] == "done", done
    dsn = endpoints.postgres_dsn
    assert rows_of_player(dsn, game.game_id, "erased") == {}
    assert len(_stored(dsn, game.game_id, "kept")) == 25
    assert rollup_differences(dsn, game.game_id) == {}

    signed = done["receipt"]
    receipt = signed["receipt"]
    assert receipt["job_id"] == job_id
    assert receipt["game_id"] == str(game.game_id)
    assert receipt["player"] == digest_text(player_digest(game.game_id, "erased"))
    assert "erased" not in _values(signed)  # the player is named by digest only
    assert receipt["erased"]["postgres"]["events.removed"] == 45
    assert receipt["erased"]["postgres"]["event_keys.removed"] == 45
    assert receipt["suppressed"] is False
    assert {r["where"] for r in receipt["may_remain"]} == {
        "kafka topic gm.events.v1", "kafka topic gm.events.dlq.v1",
    }  # fmt: skip
    assert signed["signature"]["algorithm"] == "Ed25519"

    path = tmp_path / "receipt.json"
    path.write_text(json.dumps(done))  # the job as the API gives it
    ok = _verify(jobs_api.url, path, "--player-id", "erased")
    assert ok.returncode == 0, ok.stderr
    assert f"valid: erasure {job_id}" in ok.stdout
    other = _verify(jobs_api.url, path, "--player-id", "kept")
    assert other.returncode == 1
    assert "not about that player" in other.stderr
    signed["receipt"]["erased"]["postgres"]["events.removed"] = 44
    path.write_text(json.dumps(signed))
    forged = _verify(jobs_api.url, path)
    assert forged.returncode == 1
    assert "does not match" in forged.stderr

    # Without suppression the player may come back: new events are new, and counted.
    again = _play("erased", 5)
    _send(ingest, game, again)
    export_id = ask(jobs_api.url, owner, game.game_id, "erased", "export")
    assert finished(jobs_api.url, owner, export_id)["events"] == 5


def _values(tree: object) -> list[object]:
    """Every scalar value of a JSON document (its keys left out)."""
    if isinstance(tree, dict):
        return [v for child in tree.values() for v in _values(child)]
    if isinstance(tree, list):
        return [v for child in tree for v in _values(child)]
    return [tree]


def _verify(url: str, path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "apps.cli.main", "privacy", "verify", str(path), "--url", url,
         *extra],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_a_suppressed_player_is_refused_until_lifted_and_in_flight_events_go_too(
    jobs_api: UvicornThread, ingest: UvicornThread, endpoints: Endpoints, game: GameKey,
    owner: Person,
) -> None:  # fmt: skip
    dsn = endpoints.postgres_dsn
    _send(ingest, game, _play("suppressed", 30) + _play("bystander", 10))  # in flight
    job_id = ask(jobs_api.url, owner, game.game_id, "suppressed", "erasure", {"suppress": True})
    done = finished(jobs_api.url, owner, job_id)
    assert done["status"] == "done", done
    assert done["suppress"] is True
    assert done["receipt"]["receipt"]["suppressed"] is True
    assert rows_of_player(dsn, game.game_id, "suppressed") == {}

    resent = [event(player_id="suppressed"), event(player_id="bystander")]
    r = httpx.post(ingest.url + "/v1/events", json=batch(*resent), headers=game.auth)
    assert r.status_code == 202, r.text
    assert r.json()["accepted"] == 1
    assert r.json()["rejected"] == [{"index": 0, "field": "player_id", "error": "player erased"}]
    alone = httpx.post(
        ingest.url + "/v1/events", json=batch(event(player_id="suppressed")), headers=game.auth
    )
    assert alone.status_code == 400
    assert alone.json()["rejected"][0]["error"] == "player erased"

    lifted = httpx.delete(
        f"{jobs_api.url}/v1/games/{game.game_id}/players/suppressed/suppression",
        headers=owner.auth,
    )
    assert lifted.status_code == 204
    back = event(player_id="suppressed")

    def accepted() -> bool:  # ingestion drops its cached list on the lift's NOTIFY
        r = httpx.post(ingest.url + "/v1/events", json=batch(back), headers=game.auth)
        return r.status_code == 202

    poll_until(accepted, timeout=30, what="the lifted suppression to reach ingestion")
    export_id = ask(jobs_api.url, owner, game.game_id, "suppressed", "export")
    assert finished(jobs_api.url, owner, export_id)["events"] == 1


def test_erasing_a_player_deletes_their_finished_exports(
    jobs_api: UvicornThread, ingest: UvicornThread, game: GameKey, owner: Person,
) -> None:  # fmt: skip
    _send(ingest, game, _play("exported-then-erased", 10))
    export_id = ask(jobs_api.url, owner, game.game_id, "exported-then-erased", "export")
    assert finished(jobs_api.url, owner, export_id)["status"] == "done"
    assert len(export_lines(jobs_api.url, owner, export_id)) == 11
    erasure = ask(jobs_api.url, owner, game.game_id, "exported-then-erased", "erasure")
    done = finished(jobs_api.url, owner, erasure)
    assert done["receipt"]["receipt"]["erased"]["postgres"]["privacy_export_parts.removed"] >= 1
    r = httpx.get(
        f"{jobs_api.url}/v1/privacy/jobs/{export_id}/download", headers=owner.auth, timeout=30
    )
    assert r.status_code == 404
    assert r.json()["field"] == "job_id"
    assert "gone" in r.json()["error"]


def test_only_owners_and_admins_of_the_game_ask_or_read(
    jobs_api: UvicornThread, endpoints: Endpoints, game: GameKey, owner: Person,
) -> None:  # fmt: skip
    url, dsn, gid = jobs_api.url, endpoints.postgres_dsn, game.game_id
    admin = person(url, dsn, {gid: "admin"})
    analyst = person(url, dsn, {gid: "analyst"})
    stranger = person(url, dsn, {new_game(dsn).game_id: "owner"})
    job_id = ask(url, admin, gid, "p-1", "export")
    for who in (analyst,):
        for kind in ("export", "erasure"):
            r = httpx.post(f"{url}/v1/games/{gid}/players/p-1/{kind}", headers=who.auth)
            assert r.status_code == 403
            assert r.json()["required_role"] == "admin"
        r = httpx.get(f"{url}/v1/privacy/jobs/{job_id}", headers=who.auth)
        assert r.status_code == 403
        assert r.json()["required_role"] == "admin"
    # Another game's owner: the game and the job do not exist for them.
    r = httpx.post(f"{url}/v1/games/{gid}/players/p-1/erasure", headers=stranger.auth)
    assert r.status_code == 404
    assert r.json()["field"] == "game_id"
    for path in (f"/v1/privacy/jobs/{job_id}", f"/v1/privacy/jobs/{job_id}/download"):
        r = httpx.get(url + path, headers=stranger.auth)
        assert r.status_code == 404
        assert r.json()["field"] == "job_id"
    r = httpx.get(f"{url}/v1/privacy/jobs/{job_id}")
    assert r.status_code == 401
    assert job(url, owner, job_id)["job_id"] == job_id


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "field"),
    [
        ("POST", "/v1/games/not-a-uuid/players/p/export", None, 400, "game_id"),
        ("POST", "/v1/games/{game}/players/%01bad/erasure", None, 400, "player_id"),
        ("POST", "/v1/games/{game}/players/p/erasure", {"suppress": "yes"}, 400, "suppress"),
        ("POST", "/v1/games/{game}/players/p/erasure", {"forget": True}, 400, "forget"),
        ("POST", "/v1/games/{game}/players/p/export", {"suppress": True}, 400, "suppress"),
        ("GET", "/v1/privacy/jobs/42", None, 400, "job_id"),
        ("GET", "/v1/privacy/jobs/00000000-0000-4000-8000-00000000dead", None, 404, "job_id"),
        ("DELETE", "/v1/games/{game}/players/never-suppressed/suppression", None, 404,
         "player_id"),
    ],
)  # fmt: skip
def test_bad_requests_name_the_field(
    jobs_api: UvicornThread, game: GameKey, owner: Person, method: str, path: str,
    body: dict[str, Any] | None, status: int, field: str,
) -> None:  # fmt: skip
    r = httpx.request(
        method, jobs_api.url + path.format(game=game.game_id), json=body, headers=owner.auth
    )
    assert r.status_code == status, r.text
    assert r.json()["field"] == field
    assert r.json()["error"]


def test_an_erasure_job_has_nothing_to_download_and_an_unfinished_export_is_not_ready(
    jobs_api: UvicornThread, game: GameKey, owner: Person, endpoints: Endpoints,
) -> None:  # fmt: skip
    erasure = ask(jobs_api.url, owner, game.game_id, "nobody", "erasure")
    r = httpx.get(f"{jobs_api.url}/v1/privacy/jobs/{erasure}/download", headers=owner.auth)
    assert r.status_code == 404
    assert "erasure" in r.json()["error"]
    with psycopg.connect(endpoints.postgres_dsn) as conn:  # one held back from the runner
        conn.execute(
            "INSERT INTO privacy_jobs (job_id, game_id, kind, player_digest, status,"
            " requested_by, lease_until) VALUES (%s, %s, 'export', %s, 'running', 'test',"
            " now() + interval '1 hour')",
            (held := uuid.uuid4(), game.game_id, player_digest(game.game_id, "x")),
        )
    r = httpx.get(f"{jobs_api.url}/v1/privacy/jobs/{held}/download", headers=owner.auth)
    assert r.status_code == 409
    assert r.json()["field"] == "job_id"


def test_the_audit_log_names_privacy_requests_by_digest_only(
    jobs_api: UvicornThread, game: GameKey, owner: Person,
) -> None:  # fmt: skip
    job_id = ask(jobs_api.url, owner, game.game_id, "audited-player", "erasure")
    finished(jobs_api.url, owner, job_id)
    r = httpx.get(
        f"{jobs_api.url}/v1/audit", params={"game_id": str(game.game_id)}, headers=owner.auth
    )
    entries = [e for e in r.json()["entries"] if e["action"].startswith("privacy.")]
    assert {e["action"] for e in entries} == {"privacy.erasure", "privacy.erased"}
    target = f"player:{digest_text(player_digest(game.game_id, 'audited-player'))}"
    assert {e["target"] for e in entries} == {target}
    assert all(e["details"]["job_id"] == job_id for e in entries)
    assert "audited-player" not in json.dumps(r.json())


def test_the_public_key_checks_the_receipts(jobs_api: UvicornThread) -> None:
    r = httpx.get(jobs_api.url + "/v1/privacy/public-key")
    assert r.status_code == 200
    body = r.json()
    assert body["algorithm"] == "Ed25519"
    assert "BEGIN PUBLIC KEY" in body["public_key_pem"]
    assert [k["key_id"] for k in body["keys"] if k["current"]] == [body["key_id"]]
