"""A declared service run as a child process of `gamemetrics dev`."""

import json
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from apps.core.services import Service
from apps.local import process


@dataclass
class ServiceUnit:
    """Runs `python -m apps.cli.main serve <name>` with the given environment."""

    service: Service
    port: int
    env: Mapping[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def name(self) -> str:
        return self.service.name

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Spawn the service and block until it is healthy (StartFailed otherwise)."""
        self.launch()
        self.wait_healthy()

    def launch(self) -> None:
        """Spawn it without waiting; from the thread that outlives it (the child dies with
        the thread that spawned it: PR_SET_PDEATHSIG)."""
        argv = [sys.executable, "-m", "apps.cli.main", "serve", self.service.name]
        self.proc = process.spawn(argv, log_path=self.log_path, env=self.env)

    def wait_healthy(self) -> None:
        assert self.proc is not None, "launch() first"
        process.wait_until(
            self._healthy, timeout=60, what=f"service {self.name}", proc=self.proc,
            log_path=self.log_path,
        )  # fmt: skip

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + self.service.liveness_path, timeout=1) as r:  # noqa: S310 - loopback
                return bool(r.status == 200)
        except OSError:
            return False

    def drained(self) -> bool:
        """True when the service says it has consumed everything (see Service.drain_path)."""
        if self.service.drain_path is None:
            return True
        try:
            with urllib.request.urlopen(self.url + self.service.drain_path, timeout=1) as r:  # noqa: S310 - loopback
                state = json.load(r)
        except (OSError, ValueError):
            return False
        return bool(state.get("caught_up")) and state.get("lag") == 0

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float) -> None:
        if self.proc is not None:
            process.stop(self.proc, sig=signal.SIGTERM, timeout=timeout)
            self.proc = None
