"""`gamemetrics simulate` end to end: real ingestion API, real Kafka, events read back."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from apps.cli.main import main
from apps.simulate.model import LATE_AFTER
from tests.conftest import GameKey, new_game
from tests.support.servers import Endpoints, UvicornThread
from tests.support.topic import events_of_game


def simulate(capsys: pytest.CaptureFixture[str], game: GameKey, *args: str) -> tuple[int, Any, str]:
    """Exit code, the JSON summary (None if none was printed) and what went to stderr."""
    code = main(["simulate", "--game", str(game.game_id), "--key", game.key, "--json", *args])
    out, err = capsys.readouterr()
    return code, json.loads(out) if out else None, err


def test_live_traffic_lands_every_accepted_event_once(
    endpoints: Endpoints, ingest: UvicornThread, game: GameKey, capsys: pytest.CaptureFixture[str]
) -> None:
    started = datetime.now(UTC)
    code, summary, _err = simulate(
        capsys, game, "--players", "200", "--url", ingest.url, "--duration", "2", "--rate", "300"
    )
    assert code == 0, summary
    assert summary["accepted"] == summary["sent"]
    # Never above the rate; below it only when a slow machine held the pacing back.
    assert 0 < summary["sent"] <= 2 * 300 + 1
    assert (summary["rejected"], summary["failed"], summary["rejections"]) == (0, 0, [])
    stored = events_of_game(endpoints.kafka_bootstrap, game.game_id)
    assert len(stored) == summary["accepted"]
    assert len({e.event_id for e in stored}) == len(stored)
    # Live traffic: most events are timestamped during the run; the rest is offline play,
    # counted as late (delivered a minute or more after it happened) by the simulator.
    times = sorted(e.client_time for e in stored)
    assert times[len(times) // 2] >= started - timedelta(seconds=1)
    older = [t for t in times if t < started - LATE_AFTER - timedelta(seconds=1)]
    assert len(older) <= summary["late"]
    assert times[-1] <= datetime.now(UTC)


def test_a_backfill_sends_days_of_history(
    endpoints: Endpoints, ingest: UvicornThread, game: GameKey, capsys: pytest.CaptureFixture[str]
) -> None:
    started = datetime.now(UTC)
    # 4% of sessions are played offline: with 150 players over 3 days some always are,
    # whatever the hour of the run (the diurnal curve depends on it).
    code, summary, _err = simulate(
        capsys, game, "--players", "150", "--url", ingest.url,
        "--days", "3", "--backfill", "--rate", "5000", "--seed", "7",
    )  # fmt: skip
    assert code == 0, summary
    assert summary["accepted"] == summary["sent"] > 0
    assert summary["late"] > 0
    stored = events_of_game(endpoints.kafka_bootstrap, game.game_id)
    assert len(stored) == summary["accepted"]
    assert len({e.event_id for e in stored}) == len(stored)
    times = [e.client_time for e in stored]
    assert min(times) >= started - timedelta(days=3)
    assert max(times) - min(times) > timedelta(days=2)
    assert max(times) <= datetime.now(UTC)
    assert len({e.player_id for e in stored}) > 20
    assert {"session_start", "session_end", "progression", "ui.click"} <= {e.type for e in stored}


def test_a_backfill_beyond_30_days_needs_a_game_that_accepts_it(
    endpoints: Endpoints, ingest: UvicornThread, capsys: pytest.CaptureFixture[str]
) -> None:
    game = new_game(endpoints.postgres_dsn, late_horizon_days=40)
    history = ("--players", "60", "--url", ingest.url, "--days", "35", "--backfill", "--seed", "3")
    code, summary, err = simulate(capsys, game, *history, "--rate", "5000")
    assert (code, summary) == (2, None)
    assert "gamemetrics games create NAME --late-horizon-days 35" in err

    code, summary, err = simulate(
        capsys, game, *history, "--rate", "5000", "--late-horizon-days", "40"
    )
    assert code == 0, summary
    stored = events_of_game(endpoints.kafka_bootstrap, game.game_id)
    assert len(stored) == summary["accepted"] > 0
    assert min(e.client_time for e in stored) < datetime.now(UTC) - timedelta(days=30)


def test_an_unknown_key_stops_the_run_with_exit_code_1(
    ingest: UvicornThread, game: GameKey, capsys: pytest.CaptureFixture[str]
) -> None:
    wrong = GameKey(game.game_id, "gmk_" + "x" * 43)
    # An hour of traffic: that the command returns at all (within the test's timeout) shows
    # the first 401 ended the run.
    code, summary, _err = simulate(
        capsys, wrong, "--players", "10", "--url", ingest.url, "--duration", "3600",
        "--rate", "100",
    )  # fmt: skip
    assert code == 1
    assert "HTTP 401" in summary["aborted"]
    assert summary["accepted"] == 0
    assert summary["failed"] == summary["sent"] < 3600 * 100


def test_without_url_or_running_platform_it_says_what_to_do(
    tmp_path: Path, game: GameKey, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ("--players", "5", "--rate", "5", "--duration", "1", "--data-dir", str(tmp_path))
    code, summary, err = simulate(capsys, game, *args)
    assert (code, summary) == (2, None)
    assert "--url" in err
    assert "gamemetrics dev" in err


def test_the_url_comes_from_the_endpoints_file_of_the_data_dir(
    tmp_path: Path, ingest: UvicornThread, game: GameKey, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "endpoints.json").write_text(json.dumps({"ingest_url": ingest.url}))
    args = ("--players", "5", "--rate", "50", "--duration", "0.5", "--data-dir", str(tmp_path))
    code, summary, _err = simulate(capsys, game, *args)
    assert code == 0, summary
    assert summary["url"] == ingest.url
    assert summary["accepted"] == summary["sent"] > 0
