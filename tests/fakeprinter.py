"""A fake network receipt printer on a real TCP socket (or a Unix socket standing in for a
Bluetooth RFCOMM link): the box's own ``EmulatedPrinter`` behind a listener.

It behaves like a printer at a real counter: a 4 KiB receive buffer it stops reading when
full, DLE EOT answered on arrival, GS r / GS ( H answered when the engine reaches them (a
Star printer, ``language="star"``: ESC ACK SOH on arrival, ETB and ESC GS ETX in order), an
engine that prints at ``speed_mm_s`` (None: at once) and stops while the paper is out or the
cover open, one connection at a time (the next waits in the backlog), and a power switch
(``reachable = False``) that drops the buffer and the link. Tests read what reached the
paper as receipts.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading

from appliance.printing.emulated.engine import Engine, Receipt
from appliance.printing.emulated.printer import BUFFER_SIZE, EmulatedPrinter
from appliance.printing.emulated.star_engine import StarEngine
from appliance.printing.status import PrinterStatus


class FakePrinter:
    def __init__(self, columns: int = 48, unix_path: str | None = None, host: str = "127.0.0.1",
                 port: int = 0, speed_mm_s: float | None = None, buffer_size: int = BUFFER_SIZE,
                 process_id: bool = True, paper_status: bool = True, language: str = "escpos",
                 model: bytes | None = None) -> None:
        """``process_id`` / ``paper_status``: whether it answers GS ( H and GS r (a printer
        with neither only answers real-time requests); for a Star printer, ``process_id`` is
        whether it answers ESC GS ETX (else it confirms by ETB only), ``model`` what it
        answers ESC # *."""
        self.unix_path = unix_path
        self.device = EmulatedPrinter(columns=columns, speed_mm_s=speed_mm_s, buffer_size=buffer_size,
                                      language=language)
        if language == "escpos":
            self.device.engine.answers_process_id = process_id
            self.device.engine.answers_paper_status = paper_status
        else:
            self.device.engine.answers_print_end = process_id
            if model is not None:
                self.device.engine.printer_id = model
        self.connections = 0
        self._listener: socket.socket | None = None
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
    def engine(self) -> Engine | StarEngine:
        return self.device.engine

    @property
    def cond(self) -> threading.Condition:
        return self.device.cond

    @property
    def raw(self) -> bytearray:
        return self.device.raw

    @property
    def cut_times(self) -> list[float]:
        return self.device.cut_times

    @property
    def bytes_per_second(self) -> float | None:
        return self.device.link_bytes_per_second

    @bytes_per_second.setter
    def bytes_per_second(self, value: float | None) -> None:
        self.device.link_bytes_per_second = value

    @property
    def speed_mm_s(self) -> float | None:
        return self.device.speed_mm_s

    @speed_mm_s.setter
    def speed_mm_s(self, value: float | None) -> None:
        self.device.speed_mm_s = value

    @property
    def mute(self) -> bool:
        return self.device.mute

    @mute.setter
    def mute(self, value: bool) -> None:
        self.device.mute = value

    @property
    def reachable(self) -> bool:
        return self._listener is not None

    @reachable.setter
    def reachable(self, value: bool) -> None:
        """False: the printer is switched off (its buffer is lost, the port refuses
        connections); True: switched on again."""
        if value and self._listener is None:
            self.device.power_on()
            if self.unix_path:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.unix_path)
                listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                listener.bind(self.unix_path)
            else:
                listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                # A printer's TCP window is small: the sender's writes stall as on real hardware.
                listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                listener.bind((self.host, self.port))
            listener.listen(8)
            self._listener = listener
            threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        elif not value and self._listener is not None:
            listener, self._listener = self._listener, None
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
            self.device.power_off()

    def unplug(self) -> None:
        """The cable out, the printer still on: the box cannot reach it, and it goes on
        printing what its buffer holds. ``reachable = True`` plugs it back."""
        if self._listener is not None:
            listener, self._listener = self._listener, None
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        self.device.drop_link()

    def set_state(self, **changes: object) -> None:
        """e.g. set_state(paper="out"), set_state(cover_open=True), set_state(paper="ok")."""
        self.device.set_state(**changes)

    @property
    def state(self) -> PrinterStatus:
        return self.device.state

    def stop(self) -> None:
        self.reachable = False
        self.device.close()

    # -- reading what was printed --------------------------------------------------------

    @property
    def receipts(self) -> list[Receipt]:
        return self.device.receipts

    def texts(self) -> list[str]:
        return [r.text for r in self.receipts]

    def wait_receipts(self, count: int, timeout: float = 10.0) -> list[Receipt]:
        with self.cond:
            if not self.cond.wait_for(lambda: len(self.engine.receipts) >= count, timeout):
                raise AssertionError(f"{len(self.engine.receipts)} receipt(s) printed, expected {count}")
            return list(self.engine.receipts)

    # -- the socket side -----------------------------------------------------------------

    def _accept(self, listener: socket.socket) -> None:
        """One connection at a time, as a printer's port 9100 does: the next one waits in the
        backlog until the previous one is closed."""
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            self.connections += 1
            self.device.serve(client)
