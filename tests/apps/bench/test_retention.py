"""`gamemetrics bench retention`: its verdicts and text, and a tiny run end to end."""

from dataclasses import replace
from datetime import date
from pathlib import Path

import msgspec

from apps.bench import report
from apps.bench.retention import RetentionBenchOptions, run
from apps.bench.retention_report import (
    Baseline,
    DataInfo,
    Due,
    PassRun,
    RetentionReport,
    Sizes,
    render,
    verdicts,
)  # fmt: skip
from apps.bench.windows import WindowResult

BASELINE = Baseline(days=3, rows=1_000, read_s=0.6, file_write_s=0.4, file_bytes=40_000,
                    memory_write_s=0.3, encode_s=0.5, encode_bytes=35_000)  # fmt: skip
"""1,000 rows/s."""


def a_pass(rows: int = 1_000, seconds: float = 1.0) -> PassRun:
    return PassRun(
        rows=rows, bytes=30_000, days=3, rows_deleted=rows, partitions_dropped=3, pass_s=seconds,
        process_s=seconds + 2, cpu_s={"pass": 0.8, "postgres": 0.1},
    )  # fmt: skip


def a_window(name: str, stored: float) -> WindowResult:
    return WindowResult(name, stored, stored, 0, 10, 0.2, 0, {"machine": 1.5}, "statuses {202: 9}")


def a_report(alone: PassRun, ratio: float, checks: tuple[str, ...]) -> RetentionReport:
    machine = report.Machine(2, "cpu", (1.0, 1.0, 1.0), "3.11", "6")
    return RetentionReport(
        command="gamemetrics bench retention", machine=machine, workload="tiny",
        data=DataInfo(5_000, 200, 5, date(2026, 1, 1), date(2026, 1, 5), False, 3.0, (4.0, 5.0)),
        due=Due(1, date(2026, 1, 7), 3, 1_000, date(2026, 1, 1), date(2026, 1, 3)),
        baseline=BASELINE, alone=alone, before=Sizes(9_000_000, 5_000_000, 800_000, 5_000),
        after=Sizes(6_000_000, 2_000_000, 800_000, 4_000),
        vacuumed=Sizes(5_000_000, 2_000_000, 700_000, 4_000), vacuum_s=0.5, archive_bytes=30_000,
        windows=(a_window("(A) no pass", 1_000), a_window("(B) retention pass running", 900),
                 a_window("(C) no pass, again", 1_000)),
        under_load=a_pass(seconds=2.0), pipeline_ratio=ratio, busy_share=1.0,
        verdicts=verdicts(BASELINE, alone, ratio), checks=checks,
    )  # fmt: skip


def test_the_archive_target_is_60_percent_of_pyarrow_and_the_pipeline_s_85() -> None:
    met = verdicts(BASELINE, a_pass(rows=600), 0.85)
    assert [v.met for v in met] == [True, True]
    assert met[0].measured == "60.00%: 600 rows/s against 1,000 rows/s"
    assert met[1].measured == "85% of stored events/s"
    missed = verdicts(BASELINE, a_pass(rows=599), 0.849)
    assert [v.met for v in missed] == [False, False]


def test_a_baseline_that_took_no_time_meets_nothing_rather_than_dividing_by_zero() -> None:
    empty = replace(BASELINE, rows=0, read_s=0.0, file_write_s=0.0)
    assert empty.per_s == 0.0
    assert not verdicts(empty, a_pass(), 1.0)[0].met


def test_the_text_puts_every_figure_beside_its_baseline_and_workload() -> None:
    r = a_report(a_pass(rows=500), 0.9, ("OK: the manifests list every row",))
    text = render(r)
    assert "workload: tiny" in text
    assert "| retention pass (separate process) " in text
    assert "| baseline: stream_day + pyarrow write to a local file (zstd) " in text
    assert "archive rows/s / baseline rows/s: 50.0%" in text
    assert "| database (pg_database_size)       | 9.0 MB |         6.0 MB | 3.0 MB |" in text
    assert "|       5.0 MB |     4.0 MB |" in text  # after VACUUM
    assert "| the game's raw events (rows)      |  5,000 |          4,000 |  1,000 |" in text
    assert "archive on S3 (sum of the manifests): 0.0 MB, 30.0 bytes/row" in text
    assert "| (B) retention pass running |" in text
    assert "stored events/s in (B) / mean of (A) and (C): 90.0%" in text
    assert "- [MISS] archive throughput >= 60%" in text
    assert "- [MET ] pipeline throughput while a pass runs >= 85%" in text
    assert "- OK: the manifests list every row" in text
    assert not r.failed


def test_a_failed_check_fails_the_run() -> None:
    r = a_report(a_pass(), 1.0, ("OK: one", "WRONG: PostgreSQL holds 3 rows of the due days"))
    assert r.failed
    assert "- WRONG: PostgreSQL holds 3 rows" in render(r)


def test_tiny_run_archives_every_due_day_alone_and_under_load(tmp_path: Path) -> None:
    said: list[str] = []
    options = RetentionBenchOptions(
        events=4_000, players=150, days=5, data_dir=tmp_path / "data", duration=2.0, warmup=1.0,
        rate=2_000, connections=8, workers=1, load_players=2_000, command="test",
    )  # fmt: skip
    result = run(options, said.append)

    assert not result.failed, result.checks
    assert len(result.checks) == 6
    due = result.due
    assert due.days == 4  # every day but yesterday's, with hot_days 1
    assert result.baseline.rows == result.alone.rows == result.under_load.rows == due.rows
    assert 0 < due.rows < 4_000
    assert result.alone.partitions_dropped == 4  # the game alone in its old partitions
    assert result.after.game_rows == result.before.game_rows - due.rows
    assert result.after.events < result.before.events
    assert result.vacuumed.event_keys <= result.after.event_keys
    assert result.archive_bytes == result.alone.bytes > 0
    assert [w.name[:3] for w in result.windows] == ["(A)", "(B)", "(C)"]
    assert all(w.stored_per_s > 0 and w.failed == 0 for w in result.windows)
    assert result.pipeline_ratio > 0
    assert len(result.verdicts) == 2
    text = render(result)
    assert f"due: 4 game-days ({due.first} .. {due.last}), {due.rows:,} rows" in text
    assert b'"under_load"' in msgspec.json.encode(result)  # --json
    assert any(line.startswith("the pass, alone") for line in said)
