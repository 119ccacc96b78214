"""What every socket-based printer link shares (network, Bluetooth, the emulated printer):
writing all bytes, reading answers with a deadline, dropping stale input. A subclass only
says how to dial.

A printer whose receive buffer is full stops reading: our writes then stall, for as long as
the paper is out or the cover open. That is not a dead printer, and giving up would make the
box send the receipt again while the printer still holds it. So a write waits while the link
is alive; a dead peer is found by the link itself (TCP keepalive and TCP_USER_TIMEOUT, the
Bluetooth supervision timeout, a reset when the printer reboots), with STALL_LIMIT as the
last resort.
"""

from __future__ import annotations

import abc
import contextlib
import select
import socket
import time
from collections.abc import Callable

from appliance.printing.transports import Transport, TransportError

STALL_LIMIT = 15 * 60.0
# Unsent bytes the kernel may hold for the printer: small, so a status request written after
# a receipt is not stuck behind half a megabyte the printer has not read yet.
SEND_BUFFER = 16 * 1024


class SocketTransport(Transport):
    def __init__(self, uri: str) -> None:
        super().__init__(uri)
        self._sock: socket.socket | None = None
        self.stalled_since: float | None = None  # monotonic time the printer stopped reading

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
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
            sock.setblocking(False)
        except OSError as exc:
            raise TransportError(f"cannot reach {self.uri}: {exc}") from exc
        self._sock = sock

    def _socket(self) -> socket.socket:
        if self._sock is None:
            raise TransportError("not connected")
        return self._sock

    def _fail(self, what: str, exc: OSError | None = None) -> TransportError:
        self.close()
        return TransportError(f"{what}: {exc}" if exc else what)

    def write(self, data: bytes, on_input: Callable[[bytes], None] | None = None) -> None:
        sock = self._socket()
        view = memoryview(data)
        progress = time.monotonic()
        try:
            while view:
                readable, writable, _ = select.select([sock] if on_input else [], [sock], [], 0.5)
                if readable and on_input is not None:
                    on_input(self._recv(sock, 4096))
                if writable:
                    with contextlib.suppress(BlockingIOError):
                        view = view[sock.send(view):]
                        progress = time.monotonic()
                        self.stalled_since = None
                elif time.monotonic() - progress > 1.0:
                    self.stalled_since = self.stalled_since or progress
                    if time.monotonic() - progress > STALL_LIMIT:
                        raise self._fail(f"the printer took no data for {STALL_LIMIT:.0f} s")
        except TransportError:
            raise
        except OSError as exc:
            raise self._fail("send failed", exc) from exc
        finally:
            self.stalled_since = None

    def _recv(self, sock: socket.socket, size: int) -> bytes:
        try:
            chunk = sock.recv(size)
        except BlockingIOError:
            return b""
        if not chunk:
            raise self._fail("printer closed the connection")
        return chunk

    def read(self, size: int, timeout: float) -> bytes:
        sock = self._socket()
        got = bytearray()
        deadline = time.monotonic() + timeout
        try:
            while len(got) < size:
                left = max(0.0, deadline - time.monotonic())
                if not select.select([sock], [], [], left)[0]:
                    break
                got += self._recv(sock, size - len(got))
        except TransportError:
            raise
        except OSError as exc:
            raise self._fail("receive failed", exc) from exc
        return bytes(got)

    def discard_input(self) -> None:
        while self.read(4096, 0):
            pass

    def close(self) -> None:
        if self._sock is not None:
            sock, self._sock = self._sock, None
            sock.close()
