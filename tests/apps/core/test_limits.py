"""The numeric bounds: no rollup sum of valid values can overflow or become non-finite."""

import math
import sys

from apps.core import currency, limits


def test_no_rollup_row_of_valid_amounts_or_durations_can_overflow_a_double() -> None:
    # A rollup row counts its values in bigint: it cannot sum more than ROLLUP_COUNT_MAX.
    worst_revenue = limits.MAX_AMOUNT * limits.ROLLUP_COUNT_MAX
    worst_seconds = limits.MAX_DURATION_SECONDS * limits.ROLLUP_COUNT_MAX
    assert worst_revenue < sys.float_info.max / 1e200
    assert worst_seconds < sys.float_info.max / 1e200
    # Converted to USD (as analytics reads revenue), still far from the largest double.
    dearest = max(currency.USD_PER_UNIT.values())
    assert math.isfinite(worst_revenue * dearest)
    assert worst_revenue * dearest < sys.float_info.max / 1e200


def test_property_integers_fit_bigint() -> None:
    assert (limits.MIN_PROPERTY_INT, limits.MAX_PROPERTY_INT) == (-(2**63), 2**63 - 1)
    assert limits.MAX_LEVEL == 2**31 - 1
