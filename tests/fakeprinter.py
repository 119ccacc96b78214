"""A fake network receipt printer on a real TCP socket.

It records every byte, interprets them with the emulator (so tests read receipts as text),
answers DLE EOT status requests, and can be switched unreachable, out of paper, open, mute
(takes bytes but never answers) or slow, like the printers at a real counter.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from dataclasses import replace

from appliance.printing.emulator import Emulator, Receipt
from appliance.printing.status import PrinterStatus


class FakePrinter:
    def __init__(self, columns: int = 48, unix_path: str | None = None, host: str = "127.0.0.1",
                 port: int = 0) -> None:
        """A TCP printer on loopback, or, with ``unix_path``, a stream socket standing in for a
        Bluetooth RFCOMM link on machines without a radio."""
        self.unix_path = unix_path
        self.emulator = Emulator(columns=columns, on_receipt=self._on_receipt)
        self.cond = threading.Condition()
        self.raw = bytearray()
        self.connections = 0
        self.bytes_per_second: float | None = None  # None: as fast as the socket goes
        self.mute = False
        self.answer_budget: int | None = None  # answer bytes to send before holding the rest
        self._held = bytearray()
        self._held_client: socket.socket | None = None
        self.first_byte_at: float | None = None
        self.last_byte_at = 0.0
        self.cut_times: list[float] = []  # time.monotonic() of each receipt's last byte
        self._listener: socket.socket | None = None
        self._clients: list[socket.socket] = []
        self._stopped = False
        self.host, self.port = host, port
        if unix_path is None and not port:
            probe = socket.create_server((host, 0))
            self.port = probe.getsockname()[1]
            probe.close()
        self.reachable = True

    # -- switches -----------------------------------------------------------------------

    @property
    def uri(self) -> str:
        return f"tcp://{self.host}:{self.port}"

    @property
    def reachable(self) -> bool:
        return self._listener is not None

    @reachable.setter
    def reachable(self, value: bool) -> None:
        """Unreachable: the port refuses connections and open ones are cut (printer off)."""
        if value and self._listener is None:
            if self.unix_path:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.unix_path)
                listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                listener.bind(self.unix_path)
            else:
                listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                listener.bind((self.host, self.port))
            listener.listen(8)
            self._listener = listener
            threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        elif not value and self._listener is not None:
            listener, self._listener = self._listener, None
            listener.shutdown(socket.SHUT_RDWR)
            listener.close()
            for client in list(self._clients):
                self._drop(client)

    def hold_answers_after(self, count: int) -> None:
        """Answer ``count`` more status bytes, then keep later answers until release()."""
        self.answer_budget = count

    def release(self) -> None:
        with self.cond:
            self.answer_budget = None
            held, client = bytes(self._held), self._held_client
            self._held.clear()
        if held and client is not None:
            client.sendall(held)

    def set_state(self, **changes: object) -> None:
        """e.g. set_state(paper="out"), set_state(cover_open=True), set_state(paper="ok")."""
        self.emulator.state = replace(self.emulator.state, **changes)

    @property
    def state(self) -> PrinterStatus:
        return self.emulator.state

    def stop(self) -> None:
        self._stopped = True
        self.reachable = False

    # -- reading what was printed --------------------------------------------------------

    @property
    def receipts(self) -> list[Receipt]:
        with self.cond:
            return list(self.emulator.receipts)

    def texts(self) -> list[str]:
        return [r.text for r in self.receipts]

    def wait_receipts(self, count: int, timeout: float = 10.0) -> list[Receipt]:
        with self.cond:
            if not self.cond.wait_for(lambda: len(self.emulator.receipts) >= count, timeout):
                raise AssertionError(f"{len(self.emulator.receipts)} receipt(s) printed, expected {count}")
            return list(self.emulator.receipts)

    def _on_receipt(self, receipt: Receipt) -> None:
        self.cut_times.append(time.monotonic())
        self.cond.notify_all()  # called with self.cond held (see _serve)

    # -- the socket side -----------------------------------------------------------------

    def _accept(self, listener: socket.socket) -> None:
        """One connection at a time, as a printer's port 9100 does: the next one waits in the
        backlog until the printer has read everything the previous one sent."""
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            self.connections += 1
            self._clients.append(client)
            self._serve(client)

    def _drop(self, client: socket.socket) -> None:
        if client in self._clients:
            self._clients.remove(client)
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_RDWR)
            client.close()
            with self.cond:
                self.emulator.disconnect()
                self.cond.notify_all()

    def _serve(self, client: socket.socket) -> None:
        chunk = 4096
        while True:
            if self.bytes_per_second:
                chunk = max(1, int(self.bytes_per_second / 20))
                time.sleep(chunk / self.bytes_per_second)
            try:
                data = client.recv(chunk)
            except OSError:
                data = b""
            if not data:
                self._drop(client)
                return
            with self.cond:
                now = time.monotonic()
                self.first_byte_at = self.first_byte_at or now
                self.last_byte_at = now
                self.raw += data
                self.emulator.feed(data)
                answers = self.emulator.take_answers()
                if answers and self.answer_budget is not None:
                    self._held += answers[self.answer_budget:]
                    self._held_client = client
                    answers = answers[:self.answer_budget]
                    self.answer_budget -= len(answers)
                self.cond.notify_all()
            if answers and not self.mute:
                try:
                    client.sendall(answers)
                except OSError:
                    self._drop(client)
                    return
