"""Network printers: raw ESC/POS over TCP (``tcp://HOST[:PORT]``, port 9100 by default)."""

from __future__ import annotations

import select
import socket
from urllib.parse import SplitResult

from appliance.printing.transports import Transport, TransportError, register

DEFAULT_PORT = 9100
CONNECT_TIMEOUT = 3.0
# A printer that takes no byte for this long while its buffer is full is considered gone.
SEND_TIMEOUT = 20.0


class TcpTransport(Transport):
    def __init__(self, uri: str, host: str, port: int) -> None:
        super().__init__(uri)
        self.address = (host, port)
        self._sock: socket.socket | None = None

    @property
    def is_open(self) -> bool:
        return self._sock is not None

    def open(self) -> None:
        if self._sock is not None:
            return
        try:
            sock = socket.create_connection(self.address, timeout=CONNECT_TIMEOUT)
        except OSError as exc:
            raise TransportError(f"cannot reach {self.address[0]}:{self.address[1]}: {exc}") from exc
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        sock.settimeout(SEND_TIMEOUT)
        self._sock = sock

    def _socket(self) -> socket.socket:
        if self._sock is None:
            raise TransportError("not connected")
        return self._sock

    def write(self, data: bytes) -> None:
        try:
            self._socket().sendall(data)
        except OSError as exc:
            self.close()
            raise TransportError(f"send failed: {exc}") from exc

    def read(self, size: int, timeout: float) -> bytes:
        sock = self._socket()
        got = bytearray()
        try:
            sock.settimeout(timeout)
            while len(got) < size:
                chunk = sock.recv(size - len(got))
                if not chunk:
                    self.close()
                    raise TransportError("printer closed the connection")
                got += chunk
        except TimeoutError:
            pass
        except OSError as exc:
            self.close()
            raise TransportError(f"receive failed: {exc}") from exc
        finally:
            if self._sock is not None:
                self._sock.settimeout(SEND_TIMEOUT)
        return bytes(got)

    def discard_input(self) -> None:
        sock = self._socket()
        while select.select([sock], [], [], 0)[0]:
            try:
                if not sock.recv(4096, socket.MSG_DONTWAIT):
                    self.close()
                    raise TransportError("printer closed the connection")
            except BlockingIOError:
                return
            except OSError as exc:
                self.close()
                raise TransportError(f"receive failed: {exc}") from exc

    def close(self) -> None:
        if self._sock is not None:
            sock, self._sock = self._sock, None
            sock.close()


@register("tcp")
def _from_uri(uri: str, parts: SplitResult, profile: str, width_mm: int) -> Transport:
    if not parts.hostname:
        raise ValueError(f"tcp printer URI needs a host: {uri!r}")
    try:
        port = parts.port or DEFAULT_PORT
    except ValueError as exc:
        raise ValueError(f"bad port in {uri!r}") from exc
    return TcpTransport(uri, parts.hostname, port)
