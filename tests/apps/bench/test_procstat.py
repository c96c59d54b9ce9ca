"""CPU accounting from /proc: a busy loop in this process shows up as this process's CPU."""

import os
import subprocess
import sys
import time

import pytest

from apps.bench.procstat import cores_used, snapshot

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def test_busy_process_uses_about_one_core() -> None:
    """Busy for 0.5 s of this thread's CPU time, however long a loaded machine takes to
    give it: the process's CPU over the window is that half second, its share of the
    window at most one core."""
    pids = {"me": os.getpid()}
    before = snapshot(pids, split=("me",))
    started, spun = time.perf_counter(), time.thread_time()
    while time.thread_time() - spun < 0.5:
        pass
    window = time.perf_counter() - started
    after = snapshot(pids, split=("me",))
    used = cores_used(before, after, window)
    # /proc counts in ticks of 10 ms; other threads of this process may add a little.
    assert used["me"] * window == pytest.approx(0.5, abs=0.1)
    assert used["me"] <= 1.1
    assert used["me/main"] * window == pytest.approx(0.5, abs=0.05)
    assert used["me/main"] * window <= used["me"] * window + 0.02
    assert used["me"] - 0.05 <= used["machine"] <= (os.cpu_count() or 1) + 0.1


def test_gone_process_counts_zero() -> None:
    gone = {"gone": 2**22 + 12345}
    assert snapshot(gone).processes == {"gone": 0.0}


def test_child_that_exited_within_the_window_still_counts() -> None:
    pids = {"me": os.getpid()}
    before = snapshot(pids)
    busy = "import time\nwhile time.process_time() < 0.3: pass"  # CPU time, however busy the box
    subprocess.run([sys.executable, "-c", busy], check=True)  # reaped by this process
    after = snapshot(pids)
    assert after.processes["me"] - before.processes["me"] >= 0.25
