"""Numbers as JSON and GraphQL can carry them: finite doubles. Pure."""

import math
import sys
from typing import Final

FLOAT_MAX: Final = sys.float_info.max


def finite(value: float) -> float:
    """A GraphQL Float cannot be infinite or NaN, nor can a JSON number (or a cached one).

    Amounts stored before ingestion bounded them could add up beyond a double:
    an infinite value saturates to the largest finite double with its sign, and
    NaN (infinite amounts of both signs in one bucket) is reported as 0.0.
    """
    if math.isnan(value):
        return 0.0
    if math.isinf(value):
        return math.copysign(FLOAT_MAX, value)
    return value
