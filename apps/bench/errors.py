"""Why a benchmark could not produce numbers (the CLI prints these without a trace)."""

from apps.core.errors import GameMetricsError


class BenchError(GameMetricsError):
    """The benchmark cannot run or its target answered nothing usable; the message says why."""
