"""`gamemetrics bench analytics` end to end on a tiny game: the report's structure, and the query
layer's answers equal to plain SQL over raw events (and to the API's) for every query type."""

import dataclasses
import math
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import msgspec
import pytest

from apps.analytics.results import Cohort, RetentionPoint, TimeValue
from apps.bench import analytics_load
from apps.bench.analytics import AnalyticsBenchOptions, run
from apps.bench.analytics_cases import Context, cases, from_json, selection
from apps.bench.analytics_reference import differences
from apps.bench.analytics_report import HTTP, LAYER, RAW, percentile, render
from apps.bench.errors import BenchError
from apps.core.currency import USD_PER_UNIT

HEADLINE = ("activeUsers", "newUsers", "revenue", "sessions", "retention", "funnel",
            "eventCounts", "liveStats")  # fmt: skip


def test_tiny_run_reports_every_query_and_the_answers_agree(tmp_path: Path) -> None:
    said: list[str] = []
    options = AnalyticsBenchOptions(
        events=20_000, players=500, days=10, runs=3, warmup_runs=1, raw_runs=2,
        data_dir=tmp_path / "data", command="test", explain_over_ms=0.0,
    )  # fmt: skip
    result = run(options, said.append)

    assert result.data.events == 20_000
    assert result.data.players == 500
    assert not result.data.reused
    assert result.data.load_seconds > 0
    tables = {t.table: t.rows for t in result.data.tables}
    assert tables["events"] == 20_000 + result.data.live_events
    assert tables["players"] == 500
    assert tables["live_players"] > 0
    assert result.data.activity.dau_max > 0
    assert result.data.sessions > 0
    assert sum(result.data.by_type.values()) == 20_000

    fields = [q.field for q in result.queries]
    assert fields[: len(HEADLINE)] == list(HEADLINE)
    for q in result.queries:
        layer, raw = q.timing(LAYER), q.timing(RAW)
        assert layer is not None
        assert layer.runs == 3
        assert 0 < layer.p50_ms <= layer.p95_ms
        assert raw is not None
        assert raw.runs == 2
        check = q.check(LAYER)
        assert check is not None
        assert check.compared == 2
        assert check.differing == 0, check.differences
        api = q.timing(HTTP)
        assert api is not None
        assert api.runs == 3
        if q.field != "liveStats":
            api_check = q.check(HTTP)
            assert api_check is not None
            assert api_check.compared == 3
            assert api_check.differing == 0, api_check.differences
    targets = {v.target.split(":")[0] for v in result.verdicts}
    assert len(targets) == 6
    assert {v.path for v in result.verdicts} == {LAYER, HTTP}

    # Every query's statements are explained, those on named cursors (the funnel's) too.
    assert {p.query for p in result.plans} == {q.name for q in result.queries}
    assert all("Execution Time" in p.text for p in result.plans)

    text = render(result)
    assert "| activeUsers DAY 10 days" in text
    assert text.count("[MET ]") + text.count("[MISS]") == len(result.verdicts)
    assert "answers: " in text
    assert "DIFFER" not in text
    decoded = msgspec.json.decode(msgspec.json.encode(result))
    assert decoded["data"]["events"] == 20_000

    # A second run reuses the loaded folder instead of loading again.
    options = dataclasses.replace(options, runs=1, warmup_runs=0, raw_runs=1, http=False)
    again = run(options, said.append)
    assert again.data.reused
    assert again.data.game_id == result.data.game_id
    assert all(c.differing == 0 for q in again.queries for c in q.checks)
    assert any("reusing" in line for line in said)


def test_a_folder_with_other_data_is_refused(tmp_path: Path) -> None:
    manifest = analytics_load.Manifest(str(uuid.uuid4()), date(2026, 1, 1), 1000, 10, 5, 1,
                                       complete=True)  # fmt: skip
    analytics_load.write_manifest(tmp_path, manifest)
    assert analytics_load.check_reusable(tmp_path, 1000, 10, 5, 1) == manifest
    with pytest.raises(BenchError, match="use another --data-dir"):
        analytics_load.check_reusable(tmp_path, 2000, 10, 5, 1)
    analytics_load.write_manifest(tmp_path, msgspec.structs.replace(manifest, complete=False))
    with pytest.raises(BenchError, match="did not finish"):
        analytics_load.check_reusable(tmp_path, 1000, 10, 5, 1)


def test_differences_counts_exactly_floats_to_1e_9() -> None:
    def cohort(size: int, rate: float) -> list[Cohort]:
        return [Cohort(date(2026, 1, 1), size, (RetentionPoint(1, 3, rate),))]

    assert differences(cohort(10, 0.3), cohort(10, 0.3 * (1 + 1e-12))) == []
    assert differences(cohort(10, 0.3), cohort(10, 0.3 * (1 + 1e-8))) != []
    assert differences(cohort(10, 0.3), cohort(11, 0.3)) == ["[0].size: 10 != 11"]
    assert differences([TimeValue(date(2026, 1, 1), 1)], []) == [": 1 items != 0"]


def test_percentiles_interpolate() -> None:
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile([10.0], 95) == 10.0
    assert percentile(list(map(float, range(1, 101))), 95) == pytest.approx(95.05)
    assert math.isnan(percentile([], 50))


def test_graphql_documents_select_every_result_field() -> None:
    assert selection(Cohort) == "cohort size retained { day users rate }"
    ctx = Context(uuid.uuid4(), date(2026, 1, 1), 90, date(2026, 4, 1),
                  datetime(2026, 4, 1, tzinfo=UTC), USD_PER_UNIT)  # fmt: skip
    documents = {c.field: c.document for c in cases(ctx)}
    assert (
        "retention(from: $from, to: $to, days: $days) { cohort size retained"
        in (documents["retention"])
    )
    assert (
        "liveStats { eventsLastMinute eventsPerSecond activePlayersLast5Minutes }"
        in (documents["liveStats"])
    )
    point = from_json(Cohort, {"cohort": "2026-01-02", "size": 4,
                               "retained": [{"day": 1, "users": 1, "rate": 0.25}]})  # fmt: skip
    assert point == Cohort(date(2026, 1, 2), 4, (RetentionPoint(1, 1, 0.25),))
