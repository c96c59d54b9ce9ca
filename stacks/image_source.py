"""What the application image is built from, and the content tag derived from it.

The image holds the apps and their pinned dependencies, nothing else: its
build context is exactly `IMAGE_INPUTS` less `IMAGE_EXCLUDED` (the root
.dockerignore lets through these paths only; a test keeps the two in step).
The tag is a hash of those files' paths and bytes, so a change to the apps,
their dependencies or the Dockerfile makes a new tag, and a change anywhere
else (infra/, tests/, docs/, the benchmarks, a file's timestamp) does not.
"""

import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import Final

from stacks.errors import StackError

IMAGE_INPUTS: Final[tuple[str, ...]] = (
    "Dockerfile",
    "README.md",  # the distribution's long description: setuptools reads it to build
    "pyproject.toml",
    "constraints.txt",
    "apps",
)
IMAGE_EXCLUDED: Final[tuple[str, ...]] = ("apps/bench",)
"""Inside the inputs but not shipped: the benchmarks are tooling (`gamemetrics bench` says
so in the image), so changing them neither rebuilds nor retags the image."""
IGNORED_PARTS: Final = frozenset({"__pycache__"})
IGNORED_SUFFIXES: Final = (".pyc", ".pyo")
TAG_PREFIX: Final = "src-"


def find_project_root(*starts: Path) -> Path:
    """The nearest directory holding Pulumi.yaml, searched upwards from each start in turn."""
    for start in starts:
        for directory in (start.resolve(), *start.resolve().parents):
            if (directory / "Pulumi.yaml").is_file():
                return directory
    searched = ", ".join(str(s) for s in starts)
    raise StackError(f"no Pulumi.yaml above {searched}: run from the GameMetrics repository")


def context_files(root: Path) -> list[str]:
    """The build context's files, as sorted POSIX paths relative to `root`."""
    found: list[str] = []
    for entry in IMAGE_INPUTS:
        path = root / entry
        if path.is_file():
            found.append(entry)
        elif path.is_dir():
            found.extend(
                p.relative_to(root).as_posix()
                for p in path.rglob("*")
                if p.is_file()
                and not IGNORED_PARTS.intersection(p.relative_to(root).parts)
                and not _excluded(p.relative_to(root).as_posix())
                and not p.name.endswith(IGNORED_SUFFIXES)
            )
        else:
            raise StackError(f"{path}: part of the image's build context, but missing")
    return sorted(found)


def _excluded(relative: str) -> bool:
    return any(relative == e or relative.startswith(e + "/") for e in IMAGE_EXCLUDED)


def content_hash(root: Path, files: Iterable[str]) -> str:
    """SHA-256 over each file's relative path and bytes, in sorted path order."""
    digest = hashlib.sha256()
    for relative in sorted(files):
        digest.update(relative.encode())
        digest.update(b"\0")
        digest.update(hashlib.sha256((root / relative).read_bytes()).digest())
    return digest.hexdigest()


def image_tag(root: Path) -> str:
    """The tag of the image built from `root`: `src-` and 16 hex digits of the content hash."""
    return TAG_PREFIX + content_hash(root, context_files(root))[:16]
