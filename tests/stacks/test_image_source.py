"""The image's inputs and tag: a code change, and only a code change, makes a new tag."""

import os
import re
import shutil
from pathlib import Path

import pytest

from stacks.errors import StackError
from stacks.image_source import (
    IMAGE_EXCLUDED,
    IMAGE_INPUTS,
    content_hash,
    context_files,
    find_project_root,
    image_tag,
)

ROOT = find_project_root(Path(__file__).parent)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A small project: the image's inputs plus the parts of the repository outside it."""
    for name in ("Dockerfile", "README.md", "pyproject.toml", "constraints.txt", "Pulumi.yaml"):
        (tmp_path / name).write_text(f"{name}\n")
    for relative in (
        "apps/__init__.py",
        "apps/core/services.py",
        "infra/network.py",
        "tests/test_x.py",
        "docs/GUIDE.md",
    ):
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"# {relative}\n")
    return tmp_path


def edit(path: Path, text: str = "changed = True\n") -> None:
    path.write_text(path.read_text() + text)


def test_the_tag_is_stable_for_the_same_content(tree: Path) -> None:
    tag = image_tag(tree)
    assert re.fullmatch(r"src-[0-9a-f]{16}", tag)
    assert image_tag(tree) == tag
    copy = tree.parent / "copy"
    shutil.copytree(tree, copy)
    assert image_tag(copy) == tag  # the location does not matter


@pytest.mark.parametrize(
    "changed",
    [
        "apps/core/services.py",
        "apps/__init__.py",
        "constraints.txt",
        "pyproject.toml",
        "Dockerfile",
    ],
)
def test_a_change_to_the_apps_or_their_dependencies_makes_a_new_tag(
    tree: Path, changed: str
) -> None:
    before = image_tag(tree)
    edit(tree / changed)
    assert image_tag(tree) != before


def test_a_new_or_renamed_app_file_makes_a_new_tag(tree: Path) -> None:
    before = image_tag(tree)
    (tree / "apps/core/topics.py").write_text("x = 1\n")
    added = image_tag(tree)
    assert added != before
    (tree / "apps/core/topics.py").rename(tree / "apps/core/topics2.py")
    assert image_tag(tree) not in (before, added)


@pytest.mark.parametrize(
    "changed", ["infra/network.py", "tests/test_x.py", "docs/GUIDE.md", "Pulumi.yaml"]
)
def test_a_change_anywhere_else_keeps_the_tag(tree: Path, changed: str) -> None:
    before = image_tag(tree)
    edit(tree / changed)
    assert image_tag(tree) == before


def test_timestamps_and_bytecode_do_not_change_the_tag(tree: Path) -> None:
    before = image_tag(tree)
    os.utime(tree / "apps/core/services.py", (1, 1))
    cache = tree / "apps/core/__pycache__"
    cache.mkdir()
    (cache / "services.cpython-311.pyc").write_bytes(b"\0\1")
    (tree / "apps/core/stale.pyc").write_bytes(b"\0")
    assert image_tag(tree) == before


def test_the_hash_is_a_function_of_the_file_list(tree: Path) -> None:
    files = context_files(tree)
    assert files == [
        "Dockerfile",
        "README.md",
        "apps/__init__.py",
        "apps/core/services.py",
        "constraints.txt",
        "pyproject.toml",
    ]
    assert content_hash(tree, files) == content_hash(tree, reversed(files))
    assert content_hash(tree, files) != content_hash(tree, files[:-1])


def test_a_missing_input_is_an_error(tree: Path) -> None:
    (tree / "constraints.txt").unlink()
    with pytest.raises(StackError, match=r"constraints\.txt: part of the image's build context"):
        image_tag(tree)


def test_dockerignore_lets_through_exactly_the_image_inputs() -> None:
    lines = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*"
    assert tuple(line[1:] for line in lines if line.startswith("!")) == IMAGE_INPUTS
    assert set(IMAGE_EXCLUDED) <= set(lines)
    assert {"**/__pycache__", "**/*.pyc"} <= set(lines)


def test_the_benchmarks_are_neither_shipped_nor_hashed(tree: Path) -> None:
    bench = tree / "apps" / "bench"
    bench.mkdir()
    (bench / "pipeline.py").write_text("RATE = 1\n")
    before = image_tag(tree)
    assert not [f for f in context_files(tree) if f.startswith("apps/bench")]
    (bench / "pipeline.py").write_text("RATE = 2\n")
    assert image_tag(tree) == before
    (tree / "apps" / "core" / "services.py").write_text("# changed\n")
    assert image_tag(tree) != before


def test_dockerfile_is_multi_stage_non_root_without_build_tools_or_extras() -> None:
    text = (ROOT / "Dockerfile").read_text()
    stages = re.split(r"^FROM ", text, flags=re.M)[1:]
    assert len(stages) == 2
    build, runtime = stages
    assert " AS build" in build
    assert " AS runtime" in runtime
    install = re.search(r"pip install (.+)", build)
    assert install
    assert install.group(1).strip().rstrip("\\").strip() == "."
    assert "PIP_CONSTRAINT=/src/constraints.txt" in build
    assert "COPY --from=build /opt/gamemetrics /opt/gamemetrics" in runtime
    user = re.search(r"^USER (\d+):(\d+)$", runtime, flags=re.M)
    assert user
    assert int(user.group(1)) > 0
    assert int(user.group(2)) > 0
    for tool in ("apt-get", "gcc", "build-essential", "pip install"):
        assert tool not in runtime
    assert "pip uninstall" in runtime
    copied = re.findall(r"^COPY (?!--from)(.+) \S+$", text, flags=re.M)
    sources = {part for line in copied for part in line.split()}
    assert sources <= set(IMAGE_INPUTS)
