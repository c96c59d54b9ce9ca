"""Where the CPU went: per-process and whole-machine CPU time from /proc (Linux).

Read before and after a measured window; the difference divided by the
window's length is the number of cores each component kept busy. On a
system without /proc the readings are empty and the report says so.
"""

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final

_PROC: Final = Path("/proc")
_TICKS: Final = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True, slots=True)
class CpuSnapshot:
    processes: dict[str, float]
    """Name -> CPU seconds (user + system) of the process and its descendants."""
    busy: float
    """Seconds of CPU time the whole machine spent not idle (all cores)."""
    total: float


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may contain spaces.
    return text[text.rindex(")") + 2 :].split()


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        if fields is not None:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    return children


def process_cpu(pid: int, children: dict[int, list[int]] | None = None) -> float:
    """CPU seconds of `pid` and its descendants, live or reaped (0.0 if it is gone)."""
    tree = children if children is not None else _children_map()
    total, stack, seen = 0.0, [pid], set()
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        fields = _stat_fields(current)
        if fields is None:
            continue
        # After the command: state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14).
        # cutime/cstime hold the children it reaped: a PostgreSQL backend or an autovacuum
        # worker that exits within the window still counts (under the postmaster).
        total += sum(int(v) for v in fields[11:15]) / _TICKS
        stack.extend(tree.get(current, ()))
    return total


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds of one process's threads in groups: `main` (the interpreter's first
    thread, where the event loop runs), `rdkafka` (librdkafka's own threads) and
    `threads` (every other thread, e.g. a Kafka polling thread)."""
    groups: dict[str, float] = {}
    try:
        tasks = list((_PROC / str(pid) / "task").iterdir())
    except OSError:
        return groups
    for task in tasks:
        try:
            stat = (task / "stat").read_text()
            comm = (task / "comm").read_text().strip()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(task.name) == pid:
            group = "main"
        elif comm.startswith("rdk:"):
            group = "rdkafka"
        else:
            group = "threads"
        groups[group] = groups.get(group, 0.0) + (int(fields[11]) + int(fields[12])) / _TICKS
    return groups


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of all cores since boot."""
    try:
        first = (_PROC / "stat").read_text().splitlines()[0].split()
    except OSError:
        return 0.0, 0.0
    values = [int(v) for v in first[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    # guest time is already counted in user
    total = sum(values[:8])
    return (total - idle) / _TICKS, total / _TICKS


def snapshot(pids: dict[str, int], split: tuple[str, ...] = ()) -> CpuSnapshot:
    """CPU of each named process (with descendants); those named in `split` also per
    thread group, as `name/main`, `name/threads`, `name/rdkafka`."""
    children = _children_map() if _PROC.exists() else {}
    busy, total = machine_cpu()
    processes: dict[str, float] = {}
    for name, pid in pids.items():
        processes[name] = process_cpu(pid, children)
        if name in split:
            for group, seconds in sorted(thread_cpu(pid).items()):
                processes[f"{name}/{group}"] = seconds
    return CpuSnapshot(processes, busy, total)


def cores_used(before: CpuSnapshot, after: CpuSnapshot, seconds: float) -> dict[str, float]:
    """Cores each process kept busy over `seconds`, plus `machine` (all processes)."""
    used = {
        name: (after.processes[name] - before.processes.get(name, 0.0)) / seconds
        for name in after.processes
    }
    if after.total > before.total:
        used["machine"] = (
            (after.busy - before.busy) / (after.total - before.total) * (os.cpu_count() or 1)
        )
    return used
