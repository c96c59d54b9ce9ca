"""`gamemetrics serve SERVICE` as a child process of the test, to be killed and restarted."""

import os
import subprocess
import sys
from pathlib import Path

import httpx

from apps.local.process import free_port
from tests.support.poll import poll_until


class ServiceProcess:
    """One service on a port of its own; `start` returns once `ready_path` answers 200."""

    def __init__(
        self, service: str, env: dict[str, str], log_path: Path, ready_path: str = "/healthz"
    ) -> None:
        self.service = service
        self.port = free_port()
        prefix = f"GAMEMETRICS_{service.upper()}"
        self.env = {
            **os.environ,
            f"{prefix}_HOST": "127.0.0.1",
            f"{prefix}_PORT": str(self.port),
            **env,
        }
        self.log_path = log_path
        self.ready_path = ready_path
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "apps.cli.main", "serve", self.service],
                env=self.env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        poll_until(self._ready, timeout=30, what=f"{self.service} ready")

    def _ready(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(
                f"{self.service} exited with {self.proc.returncode}; see {self.log_path}"
            )
        try:
            return httpx.get(self.url + self.ready_path, timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(20)
