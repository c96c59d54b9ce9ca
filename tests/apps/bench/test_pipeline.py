"""The pipeline benchmark's verdicts and arithmetic: a missed target says by how much."""

import dataclasses

import msgspec

from apps.bench import report, storage
from apps.bench.freshness import Freshness
from apps.bench.loadgen import LoadResult
from apps.bench.pipeline import (
    PipelineReport,
    Stage,
    _Backlog,
    _drain_rate,
    _verdicts,
    _Window,
    render,
)
from apps.bench.watch import ProcessorCounters, RssSample

MIB = 1024 * 1024


def _load(events_per_s: float, *, rate: float | None = None, missed: int = 0) -> LoadResult:
    duration = 10.0
    events = int(events_per_s * duration)
    return LoadResult(
        spec_rate=rate, duration=duration, connections=32, ok=events // 100, events=events,
        statuses={202: events // 100}, errors={}, partial=0, missed=missed, latencies=(0.01,),
        load_cpu_seconds=0.1,
    )  # fmt: skip


def _baselines(text: float = 125_000, binary: float = 300_000) -> list[storage.RateResult]:
    return [
        storage.RateResult("COPY binary", int(binary), 1.0),
        storage.RateResult("COPY text", int(text), 1.0),
    ]


def _fresh(
    p99: float, *, missed: int = 0, achieved: float = 250.0
) -> tuple[Stage, Freshness, _Window]:
    load = dataclasses.replace(_load(achieved * 100, rate=250.0), missed=missed)
    stage = Stage("(2) open loop", 25_000, 25_000, fresh_p50_ms=100, fresh_p99_ms=p99 * 1000)
    return stage, Freshness((0.1, p99), 0), _Window(load, 25_000, 0, 0, {})


def _backlog(drain_mib: int = 200) -> _Backlog:
    return _Backlog(1_000_000, 20.0, 50_000, drain_mib * MIB, 180 * MIB)


def _rss(peak_mib: int) -> list[RssSample]:
    return [RssSample(0, 150 * MIB, "sustained"), RssSample(1, peak_mib * MIB, "drain")]


def test_all_targets_met() -> None:
    first = _Window(_load(60_000), 55_000, 100, 200, {})
    verdicts = _verdicts(first, 55_000, _baselines(), _fresh(0.8), _rss(300), _backlog())
    assert [v.met for v in verdicts] == [True, True, True, True]


def test_misses_say_by_how_much() -> None:
    first = _Window(_load(60_000), 40_000, 100, 200_000, {})
    throughput, ratio, fresh, rss = _verdicts(
        first, 40_000, _baselines(), _fresh(2.5), _rss(900), _backlog(900)
    )
    assert not throughput.met
    assert "10,000 events/s" in throughput.detail
    assert "20% short" in throughput.detail
    assert not ratio.met
    assert "32%" in ratio.measured  # of the text COPY baseline
    assert "8 points" in ratio.detail
    assert not fresh.met
    assert "500 ms" in fresh.detail
    assert not rss.met


def test_freshness_needs_the_open_loop_to_have_kept_its_rate() -> None:
    first = _Window(_load(60_000), 55_000, 0, 0, {})
    _, _, fresh, _ = _verdicts(
        first, 55_000, _baselines(), _fresh(0.5, missed=3), _rss(200), _backlog()
    )
    assert not fresh.met
    assert "did not keep up" in fresh.detail


def test_drain_rate_from_first_movement_to_the_final_count() -> None:
    series = [
        ProcessorCounters(0, 0, 0, 0, at=0.0),  # group join: nothing yet
        ProcessorCounters(0, 0, 0, 0, at=3.0),
        ProcessorCounters(10_000, 0, 0, 2, at=4.0),
        ProcessorCounters(60_000, 0, 0, 12, at=5.0),
        ProcessorCounters(110_000, 0, 0, 22, at=6.0),
        ProcessorCounters(110_000, 0, 0, 22, at=7.0),  # drained, waiting to be steady
    ]
    assert _drain_rate(series) == 50_000
    assert _drain_rate(series[:3]) == 0.0


def test_render_shows_every_stage_and_verdict() -> None:
    first = _Window(_load(60_000), 55_000, 100, 200, {})
    stage = Stage("(1) closed loop, maximum load", 60_000, 55_000, 100, 200,
                  rss_max_mib=150, cores={"ingest": 1.0, "machine": 1.98})  # fmt: skip
    result = PipelineReport(
        command="gamemetrics bench pipeline",
        machine=report.Machine(2, "cpu", (0.1, 0.2, 0.3), "3.11", "6.1"),
        settings="processor max_batch 5000",
        stages=(stage,),
        baselines=tuple(_baselines()),
        verdicts=_verdicts(first, 55_000, _baselines(), _fresh(0.8), _rss(300), _backlog()),
        checks=("OK: all stored",),
        costs=("per stored event in (1): ingest 18.2 µs",),
    )
    text = render(result)
    assert "(1) closed loop, maximum load" in text
    assert "55,000" in text
    assert text.count("[MET ]") == 4
    assert "COPY text" in text
    assert "OK: all stored" in text
    assert b'"stages"' in msgspec.json.encode(result)  # --json
