"""Summarising py-spy's raw (collapsed) stacks."""

from pathlib import Path

from apps.bench.profile import frame_name, summarize

RAW = """\
thread (101): MainThread;<module> (/srv/apps/cli/main.py:9);post_events (/srv/apps/ingest/api.py:30);parse_batch (/srv/apps/core/validation.py:150);_judge (/srv/apps/core/validation.py:190) 6
thread (101): MainThread;<module> (/srv/apps/cli/main.py:9);post_events (/srv/apps/ingest/api.py:31);send (/v/lib/python3.11/site-packages/redis/x.py:5) 2
thread (102): kafka-poll;_poll_forever (/srv/apps/kafka/producer.py:120) 2
"""  # noqa: E501


def test_frames_lose_line_numbers_and_install_prefixes() -> None:
    assert frame_name("_judge (/srv/apps/core/validation.py:12)") == (
        "_judge (apps/core/validation.py)"
    )
    assert frame_name("send (/v/lib/python3.11/site-packages/redis/x.py:5)") == "send (redis/x.py)"
    assert frame_name("run (/usr/lib/python3.11/asyncio/runners.py:118)") == (
        "run (asyncio/runners.py)"
    )


def test_summary_by_thread_self_and_project_inclusive(tmp_path: Path) -> None:
    raw = tmp_path / "raw.txt"
    raw.write_text(RAW)
    summary = summarize(raw)
    assert summary.samples == 10
    assert [(s.what, s.samples) for s in summary.threads] == [("MainThread", 8), ("kafka-poll", 2)]
    self_time = {s.what: s.percent for s in summary.self_time}
    assert self_time == {
        "_judge (apps/core/validation.py)": 60.0,
        "send (redis/x.py)": 20.0,
        "_poll_forever (apps/kafka/producer.py)": 20.0,
    }
    inclusive = {s.what: s.samples for s in summary.inclusive}
    # project code only, without the CLI entry that holds every sample of the thread
    assert inclusive == {
        "post_events (apps/ingest/api.py)": 8,
        "parse_batch (apps/core/validation.py)": 6,
        "_judge (apps/core/validation.py)": 6,
        "_poll_forever (apps/kafka/producer.py)": 2,
    }
