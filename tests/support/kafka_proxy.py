"""A broker reached through a proxy that can cut off one Kafka client by its client.id.

Tansu creates a topic on first produce and cannot be told not to, so a
dead-letter topic cannot be made unavailable by deleting it. Instead the
broker advertises the proxy's address, so every client (bootstrap and
partition leader alike) connects through the proxy, and the proxy reads the
client.id from the header of each connection's first request (every Kafka
request header has it) to refuse the clients it is told to block, and drop
their open connections. To such a client the broker is unreachable; to the
others nothing changes.
"""

import contextlib
import socket
import struct
import threading
from pathlib import Path

from apps.local.process import free_port
from tests.support.brokers import CustomTansu


def _recv_exact(sock: socket.socket, n: int) -> bytes | None:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def _client_id(request: bytes) -> str:
    """The client.id of a request (after the 4-byte size): api key, version, correlation id,
    then client.id as a nullable string (int16 length), in every header version."""
    (length,) = struct.unpack_from(">h", request, 8)
    return "" if length < 0 else request[10 : 10 + length].decode(errors="replace")


class KafkaProxy:
    """Forwards 127.0.0.1:`port` to the broker; `block`/`unblock` a client.id."""

    def __init__(self, upstream_port: int, port: int) -> None:
        self.port = port
        self._upstream = upstream_port
        self._blocked: set[str] = set()
        self._open: list[tuple[str, socket.socket, socket.socket]] = []
        self.refused: dict[str, int] = {}
        """Connections refused, by client.id."""
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", port))
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def block(self, client_id: str) -> None:
        with self._lock:
            self._blocked.add(client_id)
            cut = [(c, u) for name, c, u in self._open if name == client_id]
        for pair in cut:
            _close(*pair)

    def unblock(self, client_id: str) -> None:
        with self._lock:
            self._blocked.discard(client_id)

    def refused_count(self, client_id: str) -> int:
        with self._lock:
            return self.refused.get(client_id, 0)

    def close(self) -> None:
        self._closed = True
        self._listener.close()
        with self._lock:
            pairs = [(c, u) for _, c, u in self._open]
        for pair in pairs:
            _close(*pair)

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            size = _recv_exact(client, 4)
            body = _recv_exact(client, struct.unpack(">i", size)[0]) if size else None
        except OSError:
            body = None
        if size is None or body is None:
            client.close()
            return
        name = _client_id(body)
        with self._lock:
            if name in self._blocked:
                self.refused[name] = self.refused.get(name, 0) + 1
                client.close()
                return
        try:
            upstream = socket.create_connection(("127.0.0.1", self._upstream), timeout=5)
            upstream.settimeout(None)
            upstream.sendall(size + body)
        except OSError:
            client.close()
            return
        with self._lock:
            self._open.append((name, client, upstream))
        threading.Thread(target=_pipe, args=(upstream, client), daemon=True).start()
        _pipe(client, upstream)
        with self._lock:
            self._open = [entry for entry in self._open if entry[1] is not client]


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while chunk := src.recv(65536):
            dst.sendall(chunk)
    _close(src, dst)


def _close(*socks: socket.socket) -> None:
    for sock in socks:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()


def proxied_broker(log_path: Path) -> tuple[CustomTansu, KafkaProxy]:
    """A started broker that every client reaches through the returned (started) proxy."""
    broker = CustomTansu("kafka", log_path, port=free_port(), advertised_port=free_port())
    assert broker.advertised_port is not None
    proxy = KafkaProxy(broker.port, broker.advertised_port)
    broker.start()
    return broker, proxy
