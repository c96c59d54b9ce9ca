"""`gamemetrics bench privacy` on a tiny game end to end (direct eraser), and its target players."""

import uuid
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path

import msgspec
import psycopg
import pytest

from apps.bench import analytics_load
from apps.bench.analytics_data import player_ids_of
from apps.bench.privacy import PrivacyBenchOptions, render, run
from apps.bench.privacy_data import target_ids, target_rows
from apps.local import process
from apps.local.servers import EmbeddedPostgres
from apps.processor.records import COLUMNS, Row

FIRST = date(2026, 9, 1)


def _column(name: str) -> int:
    return COLUMNS.index(name)


def _day(row: Row) -> date:
    at = row[_column("event_time")]
    assert isinstance(at, datetime)
    return at.date()


def test_a_target_is_exactly_its_events_in_sessions_over_the_period() -> None:
    game = uuid.uuid4()
    days = list(target_rows(game, FIRST, 90, "p-1", 10_000, seed=1))
    rows = [r for day in days for r in day]
    assert len(rows) == 10_000
    assert len({r[_column("event_id")] for r in rows}) == 10_000
    assert {r[_column("game_id")] for r in rows} == {game}
    assert {r[_column("player_id")] for r in rows} == {"p-1"}
    played = {_day(r) for r in rows}
    assert min(played) == FIRST
    assert max(played) == FIRST + timedelta(days=89)
    assert len(played) >= 60  # most days of the 90
    for day in days:  # a day per list, every row on it
        assert len({_day(r) for r in day}) == 1
    kinds = Counter(r[_column("event_type")] for r in rows)
    sessions = len({r[_column("session_id")] for r in rows})
    assert kinds["session_start"] == kinds["session_end"] == sessions
    assert sessions >= 120
    assert 0 < kinds["purchase"] < sessions
    durations = [
        r[_column("duration_seconds")] for r in rows if r[_column("event_type")] == "session_end"
    ]
    assert all(isinstance(d, float) and d > 0 for d in durations)
    buys = [r for r in rows if r[_column("event_type")] == "purchase"]
    assert all(r[_column("amount")] == 4.99 and r[_column("currency")] == "EUR" for r in buys)
    platforms = Counter(r[_column("platform")] for r in rows)
    assert set(platforms) == {"ios", "android", "web"}
    web = [r for r in rows if r[_column("platform")] == "web"]
    assert all(r[_column("app_version")] is None for r in web)
    assert len({r[_column("app_version")] for r in rows}) >= 3  # upgrades over the period


def test_tiny_targets_still_hold_exactly_their_events_and_too_few_are_refused() -> None:
    rows = [r for day in target_rows(uuid.uuid4(), FIRST, 90, "p", 20, seed=3) for r in day]
    assert len(rows) == 20
    with pytest.raises(ValueError, match="at least 3 events"):
        list(target_rows(uuid.uuid4(), FIRST, 90, "p", 2, seed=3))


def test_targets_are_never_players_of_the_data_set() -> None:
    assert not set(target_ids(1, 50)) & set(player_ids_of(1, 5_000))
    assert target_ids(1, 5) == target_ids(1, 5)


def test_tiny_run_erases_during_the_load_and_leaves_the_data_folder_reusable(
    tmp_path: Path,
) -> None:
    said: list[str] = []
    options = PrivacyBenchOptions(
        events=5_000, players=200, days=7, data_dir=tmp_path / "data", targets=3,
        target_events=300, eraser="direct", duration=3.0, warmup=1.0, connections=8,
        workers=1, load_players=2_000, command="test",
    )  # fmt: skip
    result = run(options, said.append)

    assert result.data.events == 5_000
    assert not result.data.reused
    assert result.data.copy_seconds is not None
    assert [w.name[:3] for w in result.windows] == ["(A)", "(B)", "(C)"]
    for w in result.windows:
        assert w.stored_per_s > 0
        assert w.failed == 0
    assert all(0 < w.stall_s < 30 for w in result.windows)  # sampled while the load ran
    assert result.erasures, "no erasure ran during window (B)"
    assert all(e.events == 300 and e.seconds > 0 for e in result.erasures)
    assert all(0 <= e.started < options.duration for e in result.erasures)
    assert all("rows deleted" in e.note for e in result.erasures)
    assert [e.player_id for e in result.erasures] == target_ids(1, 3)[: len(result.erasures)]
    assert result.checks[0].startswith("OK: ")
    assert result.ratio > 0
    assert len(result.verdicts) == 2

    text = render(result)
    assert "(B) erasures back to back" in text
    assert "events erased" in text
    assert "the last one: " in text
    assert "| longest stall s |" in text
    assert text.count("[MET ]") + text.count("[MISS]") == 2
    assert b'"erasures"' in msgspec.json.encode(result)  # --json
    # The folder still holds the data set alone: the run stored and erased in a copy.
    manifest = analytics_load.check_reusable(tmp_path / "data", 5_000, 200, 7, 1)
    assert manifest is not None
    pg = EmbeddedPostgres("postgres", tmp_path / "check.log", data_dir=tmp_path / "data" / "pg",
                          port=process.free_port())  # fmt: skip
    pg.start()
    try:
        with psycopg.connect(pg.url) as conn:
            row = conn.execute(
                "SELECT count(*), count(*) FILTER (WHERE player_id = ANY(%s)) FROM events",
                (target_ids(1, 3),),
            ).fetchone()
    finally:
        pg.stop(30)
    assert row == (5_000, 0)


def test_tiny_run_through_the_users_service_s_erasure_jobs() -> None:
    options = PrivacyBenchOptions(
        events=3_000, players=100, days=5, targets=2, target_events=200, eraser="job",
        duration=3.0, warmup=1.0, connections=8, workers=1, load_players=2_000, rate=5_000,
        command="test",
    )  # fmt: skip
    result = run(options, lambda _: None)

    assert result.data.copy_seconds is None  # loaded in place, no data folder
    assert result.erasures, "no erasure job finished during window (B)"
    assert all(e.note.startswith("job: queued ") for e in result.erasures)
    assert result.checks[0].startswith("OK: ")
    assert "open loop at 5,000 events/s" in result.workload
