"""Reading the processor's RSS and counters."""

import os
import sys

import pytest
from prometheus_client import generate_latest

from apps.bench.watch import RssSample, RssSampler, max_rss, parse_metrics, rss_of, vm_rss_bytes
from apps.processor.metrics import ProcessorMetrics
from tests.support.poll import poll_until

STATUS = "Name:\tpython\nVmPeak:\t  300000 kB\nVmRSS:\t  123456 kB\nThreads:\t4\n"
METRICS = """# HELP gm_processor_rows_total Records written.
# TYPE gm_processor_rows_total counter
gm_processor_rows_total{outcome="stored"} 1.2345e+06
gm_processor_rows_total{outcome="duplicate"} 7.0
gm_processor_batches_total 250.0
gm_processor_lag_records 4200.0
gm_processor_caught_up 0.0
gm_processor_offset_gaps_total{outcome="refetched"} 3.0
gm_processor_offset_gaps_total{outcome="accepted"} 0.0
"""


def test_vm_rss_is_read_in_bytes() -> None:
    assert vm_rss_bytes(STATUS) == 123456 * 1024
    assert vm_rss_bytes("Name:\tkthreadd\n") is None
    with pytest.raises(ValueError, match="expected kB"):
        vm_rss_bytes("VmRSS:\t 12 MB\n")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_own_rss_and_the_sampler() -> None:
    mine = rss_of(os.getpid())
    assert mine is not None
    assert mine > 1024 * 1024
    assert rss_of(2**22 + 12345) is None
    sampler = RssSampler(os.getpid, interval=0.01).start()
    sampler.label("busy")
    poll_until(
        lambda: any(s.label == "busy" for s in sampler.samples()),
        timeout=10, what="a sample under the new label",
    )  # fmt: skip
    samples = sampler.stop()
    assert {s.label for s in samples} <= {"start", "busy"}
    assert all(s.rss > 1024 * 1024 for s in samples)
    assert [s.at for s in samples] == sorted(s.at for s in samples)


def test_max_rss_by_label() -> None:
    samples = [RssSample(0, 10, "a"), RssSample(1, 30, "b"), RssSample(2, 20, "a")]
    assert max_rss(samples, "a") == 20
    assert max_rss(samples) == 30
    assert max_rss(samples, "c") is None


def test_processor_counters_from_metrics_text() -> None:
    counters = parse_metrics(METRICS, at=5.0)
    assert counters.stored == 1_234_500
    assert counters.duplicate == 7
    assert counters.lag == 4200
    assert counters.batches == 250
    assert counters.at == 5.0
    assert (counters.gaps_refetched, counters.gaps_accepted) == (3, 0)


def test_the_processors_own_metrics_parse() -> None:
    """The names read here are the ones the processor exports."""
    metrics = ProcessorMetrics()
    metrics.rows.labels("stored").inc(5)
    metrics.offset_gaps.labels("refetched").inc()
    counters = parse_metrics(generate_latest(metrics.registry).decode())
    assert (counters.stored, counters.gaps_refetched, counters.gaps_accepted) == (5, 1, 0)


def test_a_missing_counter_is_named() -> None:
    text = METRICS.replace("gm_processor_lag_records 4200.0\n", "")
    with pytest.raises(ValueError, match="gm_processor_lag_records"):
        parse_metrics(text)
