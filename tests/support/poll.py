"""Waiting for work without sleeping on a guess: poll a condition until a deadline."""

import time
from collections.abc import Callable


def poll_until(
    check: Callable[[], bool], *, timeout: float, what: str, every: float = 0.05
) -> None:
    """Poll `check` until it holds; fail the test with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)
