"""Freshness pairs each marker's 202 with its sighting; a marker never seen is infinitely late."""

import math

import pytest

from apps.bench.freshness import freshness, number_of
from apps.bench.unique import marker_id


def test_pairs_accepted_markers_with_their_sightings() -> None:
    accepted = [(marker_id(2, n), 100.0 + n) for n in range(4)]
    seen = {0: 100.25, 1: 101.5, 2: 102.1, 3: 103.75}
    result = freshness(accepted, seen, 2)
    assert result.seconds == pytest.approx((0.1, 0.25, 0.5, 0.75))
    assert result.missing == 0
    assert result.quantile(50) == pytest.approx(0.25)
    assert result.quantile(100) == pytest.approx(0.75)


def test_unseen_markers_count_as_infinitely_late() -> None:
    accepted = [(marker_id(1, n), 10.0) for n in range(100)]
    seen = dict.fromkeys(range(98), 10.5)
    result = freshness(accepted, seen, 1)
    assert result.missing == 2
    assert result.quantile(50) == pytest.approx(0.5)
    q99 = result.quantile(99)
    assert q99 is not None
    assert math.isinf(q99)


def test_no_markers_no_quantile() -> None:
    assert freshness([], {}, 1).quantile(99) is None


def test_a_marker_of_another_phase_is_an_error() -> None:
    with pytest.raises(ValueError, match="not a marker of phase 1"):
        freshness([(marker_id(2, 0), 1.0)], {}, 1)


def test_marker_numbers() -> None:
    assert number_of(marker_id(7, 123), 7) == 123
    assert number_of(marker_id(7, 123), 8) is None
    assert number_of("p00000000001", 7) is None
