"""Errors of the simulator."""

from apps.core.errors import GameMetricsError


class SimulateError(GameMetricsError):
    """The simulation cannot start as asked; the message says what to change."""
