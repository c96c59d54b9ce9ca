"""The `gamemetrics` command line as an operator runs it: a child process, JSON output."""

import json
import subprocess
import sys
from typing import Any


def gamemetrics(dsn: str, group: str, *args: str) -> Any:
    """Run `gamemetrics GROUP ARGS... --postgres-url DSN --json`; its parsed output.

    Fails the test, with the command's stderr, if it exits non-zero.
    """
    done = subprocess.run(
        [sys.executable, "-m", "apps.cli.main", group, *args, "--postgres-url", dsn, "--json"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, f"gamemetrics {group} {' '.join(args)}: {done.stderr}"
    return json.loads(done.stdout)
