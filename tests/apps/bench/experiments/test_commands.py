"""Each experiment stays a command: `python -m apps.bench.experiments.NAME --help` runs."""

import pkgutil
import subprocess
import sys

import pytest

from apps.bench import experiments

NAMES = sorted(m.name for m in pkgutil.iter_modules(experiments.__path__))


def test_every_experiment_is_listed() -> None:
    assert NAMES == [
        "broker_gaps", "consumer_loop", "erasure_cost", "funnel_ab", "hostile_query",
        "local_broker", "profile_reads", "resume_latency", "retention_phases", "writer_ab",
        "writer_statements",
    ]  # fmt: skip
    assert all(f"`{name}`" in (experiments.__doc__ or "") for name in NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_help_runs_nothing_and_names_the_command(name: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", f"apps.bench.experiments.{name}", "--help"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.startswith(f"usage: python -m apps.bench.experiments.{name}")
