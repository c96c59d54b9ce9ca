"""`gamemetrics bench` in an install without the benchmarks: one line, exit 2, no traceback."""

import importlib
import subprocess
import sys

import pytest

from apps.cli import bench
from apps.cli.main import main

BENCHMARKS = (
    ["ingest"], ["pipeline", "--duration", "1"], ["analytics", "--no-http"], ["retention"],
)  # fmt: skip

WITHOUT_BENCHMARKS = """
import sys
from importlib.abc import MetaPathFinder


class NoBenchmarks(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "apps.bench" or name.startswith("apps.bench."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, NoBenchmarks())
from apps.cli.main import main

sys.exit(main(sys.argv[1:]))
"""
"""The `gamemetrics` command in a fresh interpreter where importing apps.bench fails."""


@pytest.fixture
def no_benchmarks(monkeypatch: pytest.MonkeyPatch) -> None:
    """`import apps.bench` (and of its modules) raises ModuleNotFoundError, as if absent."""
    loaded = [name for name in sys.modules if name.startswith("apps.bench.")]
    for name in ["apps.bench", *loaded]:
        monkeypatch.setitem(sys.modules, name, None)


def test_a_source_checkout_has_the_benchmarks() -> None:
    assert bench.benchmarks_installed()


@pytest.mark.usefixtures("no_benchmarks")
@pytest.mark.parametrize("argv", BENCHMARKS, ids=lambda argv: argv[0])
def test_without_the_benchmarks_it_says_how_to_get_them(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert not bench.benchmarks_installed()
    assert main(["bench", *argv]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == f"gamemetrics bench: {bench.INSTALL_HINT}\n"
    assert "not part of this install" in err
    assert "pip install -c constraints.txt -e '.[dev]'" in err


def test_a_missing_dependency_of_the_benchmarks_is_not_hidden(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def import_module(name: str) -> None:
        raise ModuleNotFoundError("No module named 'msgspec'", name="msgspec")

    monkeypatch.setattr(importlib, "import_module", import_module)
    with pytest.raises(ModuleNotFoundError, match="msgspec"):
        bench.benchmarks_installed()


def gamemetrics_without_benchmarks(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_BENCHMARKS, *argv],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_the_command_loads_and_helps_without_the_benchmarks() -> None:
    """Nothing imports apps.bench when the command loads: the hook would fail it."""
    for argv in (["--help"], ["bench", "--help"], ["bench", "ingest", "--help"]):
        done = gamemetrics_without_benchmarks(*argv)
        assert (done.returncode, done.stderr) == (0, ""), argv
        assert "usage: gamemetrics" in done.stdout
    done = gamemetrics_without_benchmarks("bench", "pipeline")
    assert done.returncode == 2
    assert done.stderr == f"gamemetrics bench: {bench.INSTALL_HINT}\n"
    assert "Traceback" not in done.stderr
