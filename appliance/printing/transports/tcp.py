"""Network printers: raw ESC/POS over TCP (``tcp://HOST[:PORT]``, port 9100 by default)."""

from __future__ import annotations

import socket
from urllib.parse import SplitResult

from appliance.printing.transports import Transport, register
from appliance.printing.transports.stream import SocketTransport

DEFAULT_PORT = 9100
CONNECT_TIMEOUT = 3.0
DEAD_PEER_MS = 30_000


class TcpTransport(SocketTransport):
    def __init__(self, uri: str, host: str, port: int) -> None:
        super().__init__(uri)
        self.address = (host, port)

    def dial(self) -> socket.socket:
        sock = socket.create_connection(self.address, timeout=CONNECT_TIMEOUT)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # A printer switched off or unplugged never says so: keepalive probes and a bound on
        # unacknowledged data find it within about 30 s, while a printer that is only out of
        # paper (it still acknowledges, with a closed window) keeps its connection.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        for option, value in (("TCP_KEEPIDLE", 10), ("TCP_KEEPINTVL", 5), ("TCP_KEEPCNT", 3),
                              ("TCP_USER_TIMEOUT", DEAD_PEER_MS)):
            if hasattr(socket, option):
                sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, option), value)
        return sock


@register("tcp")
def _from_uri(uri: str, parts: SplitResult, profile: str, width_mm: int) -> Transport:
    if not parts.hostname:
        raise ValueError(f"tcp printer URI needs a host: {uri!r}")
    try:
        port = parts.port or DEFAULT_PORT
    except ValueError as exc:
        raise ValueError(f"bad port in {uri!r}") from exc
    return TcpTransport(uri, parts.hostname, port)
