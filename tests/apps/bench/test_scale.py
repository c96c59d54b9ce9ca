"""The scale-out benchmark's arithmetic: the steady drain rate and the side-by-side table."""

from apps.bench import report, scale


def test_the_steady_rate_skips_the_start_and_the_tail() -> None:
    # 1,000 rows: nothing for 5 s (the group joining), then 100 rows/s, then a slow tail.
    series = [(float(t), 0.0) for t in range(6)]
    series += [(5.0 + t, 100.0 * t) for t in range(1, 10)]
    series += [(15.0, 950.0), (25.0, 1000.0)]
    assert scale._steady_rate(series, 1000) == 100.0
    assert scale._steady_rate(series[:6], 1000) == 0.0  # never reached 10%


def test_render_compares_each_count_with_one() -> None:
    machine = report.Machine(2, "cpu", (0.0, 0.0, 0.0), "3.11", "linux")
    runs = (
        scale.ScaleRun(1, 1000, 50_000.0, 20.0, {"postgres": 0.6}, "OK: x"),
        scale.ScaleRun(2, 1000, 90_000.0, 12.0, {"postgres": 0.9}, "OK: y"),
    )
    text = scale.render(scale.ScaleReport("cmd", machine, "s", runs))
    assert "| 1.80x |" in text
    assert "50,000" in text
