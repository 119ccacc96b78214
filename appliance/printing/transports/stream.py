"""What every socket-based printer link shares (network, Bluetooth): writing all bytes,
reading answers with a deadline, dropping stale input. A subclass only says how to dial."""

from __future__ import annotations

import abc
import select
import socket

from appliance.printing.transports import Transport, TransportError

# A printer that takes no byte for this long while its buffer is full is considered gone.
SEND_TIMEOUT = 20.0


class SocketTransport(Transport):
    def __init__(self, uri: str) -> None:
        super().__init__(uri)
        self._sock: socket.socket | None = None

    @abc.abstractmethod
    def dial(self) -> socket.socket:
        """A connected stream socket to the printer; OSError when it cannot be reached."""

    @property
    def is_open(self) -> bool:
        return self._sock is not None

    def open(self) -> None:
        if self._sock is not None:
            return
        try:
            sock = self.dial()
        except OSError as exc:
            raise TransportError(f"cannot reach {self.uri}: {exc}") from exc
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
