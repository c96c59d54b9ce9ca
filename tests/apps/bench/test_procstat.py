"""CPU accounting from /proc: a busy loop in this process shows up as this process's CPU."""

import os
import subprocess
import sys
import time

import pytest

from apps.bench.procstat import cores_used, snapshot

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def test_busy_process_uses_about_one_core() -> None:
    pids = {"me": os.getpid()}
    before = snapshot(pids, split=("me",))
    end = time.perf_counter() + 0.5
    while time.perf_counter() < end:
        pass
    after = snapshot(pids, split=("me",))
    used = cores_used(before, after, 0.5)
    # a lower bound with room for other work on a shared machine
    assert 0.2 <= used["me"] <= 1.2
    assert used["me/main"] == pytest.approx(used["me"], abs=0.1)
    assert 0.2 <= used["machine"] <= (os.cpu_count() or 1) + 0.1


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
