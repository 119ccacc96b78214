"""Network printers: raw ESC/POS over TCP (``tcp://HOST[:PORT]``, port 9100 by default)."""

from __future__ import annotations

import socket
from urllib.parse import SplitResult

from appliance.printing.transports import Transport, register
from appliance.printing.transports.stream import SocketTransport

DEFAULT_PORT = 9100
CONNECT_TIMEOUT = 3.0


class TcpTransport(SocketTransport):
    def __init__(self, uri: str, host: str, port: int) -> None:
        super().__init__(uri)
        self.address = (host, port)

    def dial(self) -> socket.socket:
        sock = socket.create_connection(self.address, timeout=CONNECT_TIMEOUT)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
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
