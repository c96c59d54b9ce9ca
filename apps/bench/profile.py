"""Sampling a running service with py-spy and summarising where its time goes.

py-spy attaches to a live process (ptrace) and writes collapsed stacks
(`--format raw`); the summary groups samples by thread, by the function on
top of the stack (self time) and by every function on the stack (inclusive).
"""

import re
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from apps.bench.errors import BenchError

_FRAME: Final = re.compile(r"^(?P<name>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")
_SHORTEN: Final = re.compile(r"^.*/(?:site-packages|lib/python3\.\d+)/|^/.*?/(?=apps/)")
PROJECT: Final = re.compile(r"\(apps/(?!cli/)")
"""Frames of this project's code after `frame_name`, less the CLI entry that holds them all."""


@dataclass(frozen=True, slots=True)
class Share:
    what: str
    samples: int
    percent: float


@dataclass(frozen=True, slots=True)
class ProfileSummary:
    samples: int
    threads: tuple[Share, ...]
    self_time: tuple[Share, ...]
    inclusive: tuple[Share, ...]
    """The project's own functions only, by samples with the function anywhere on the stack."""
    raw_path: str


def py_spy() -> str:
    """The py-spy executable next to this interpreter or on PATH."""
    beside = Path(sys.executable).parent / "py-spy"
    found = str(beside) if beside.exists() else shutil.which("py-spy")
    if found is None:
        raise BenchError("--profile needs py-spy: pip install py-spy")
    return found


def start_recording(
    pid: int, seconds: float, out: Path, rate: int = 100
) -> subprocess.Popen[bytes]:
    """Record `pid` for `seconds` in the background (all threads, idle ones excluded)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    argv = [py_spy(), "record", "--pid", str(pid), "--subprocesses",
            "--duration", str(max(1, round(seconds))),
            "--rate", str(rate), "--format", "raw", "--threads", "--output", str(out)]  # fmt: skip
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def finish_recording(proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    _, err = proc.communicate(timeout=timeout)
    if proc.returncode != 0:
        text = err.decode(errors="replace").strip()
        raise BenchError(f"py-spy failed (exit {proc.returncode}): {text[-500:]}")


def frame_name(frame: str) -> str:
    """`func (path/to/file.py:12)` -> `func (file path after site-packages)`, line dropped."""
    m = _FRAME.match(frame)
    if m is None:
        return frame
    return f"{m['name']} ({_SHORTEN.sub('', m['file'])})"


def summarize(path: Path, top: int = 15) -> ProfileSummary:
    """Read py-spy's raw output (`frame;frame;... count` with the thread first)."""
    threads: Counter[str] = Counter()
    leaf: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        total += count
        thread, calls = (frames[0], frames[1:]) if frames[0].startswith("thread ") else ("", frames)
        threads[_thread_name(thread)] += count
        if not calls:
            continue
        names = [frame_name(f) for f in calls]
        leaf[names[-1]] += count
        for name in set(names):
            if PROJECT.search(name):
                inclusive[name] += count

    def shares(counter: Counter[str]) -> tuple[Share, ...]:
        return tuple(
            Share(what, n, 100.0 * n / total if total else 0.0)
            for what, n in counter.most_common(top)
        )

    return ProfileSummary(total, shares(threads), shares(leaf), shares(inclusive), str(path))


def _thread_name(frame: str) -> str:
    """py-spy labels a thread `thread (TID): NAME`; keep the name."""
    _, sep, name = frame.partition("): ")
    return name.strip() if sep else frame
