"""A receipt printer in software that behaves like the ones at a real counter, not like a tape
recorder: the emulated printer (``file://DIR``) and the tests' fake network printers are one.

- A small receive buffer (4 KiB by default): the printer stops reading its link while the
  buffer is full, so the sender's writes stall like they do against real hardware.
- Real-time requests (Epson's DLE EOT, Star's ESC ACK SOH) are answered the moment they
  arrive, ahead of the unprinted bytes in the buffer; in-order ones (GS r, GS ( H, GS I; Star's
  ETB and ESC GS ETX) when the engine reaches them.
- An engine that prints at a set speed (mm/s, 8 dots per mm; None prints at once) and stops
  while the paper is out or the cover open, keeping its buffer.
- Power: switching it off drops the buffer and the link; what was on paper stays.

It serves one stream connection at a time (``serve``), from a TCP listener, a Unix socket
standing in for Bluetooth, or one end of a socket pair.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import replace

from appliance.printing import status as printer_status
from appliance.printing.emulated import engine as escpos_engine
from appliance.printing.emulated import star_engine
from appliance.printing.emulated.engine import Engine, Receipt
from appliance.printing.emulated.star_engine import StarEngine

BUFFER_SIZE = 4096
DOTS_PER_MM = 8


class EmulatedPrinter:
    def __init__(self, *, profile: str = "default", columns: int = 48, buffer_size: int = BUFFER_SIZE,
                 speed_mm_s: float | None = None, on_receipt: Callable[[Receipt], None] | None = None,
                 language: str = "escpos") -> None:
        """``language``: escpos (an Epson or compatible), or star (a Star printer: Line Mode,
        StarPRNT and raster alike)."""
        self.engine: Engine | StarEngine
        if language == "escpos":
            self.engine = Engine(profile=profile, columns=columns, on_receipt=self._printed)
            self._realtime = escpos_engine.REALTIME
        else:
            self.engine = StarEngine(columns=columns, dots=576 if columns == 48 else 384, on_receipt=self._printed)
            self._realtime = star_engine.REALTIME
        self.buffer_size = buffer_size
        self.speed_mm_s = speed_mm_s
        self.link_bytes_per_second: float | None = None  # a slow link (serial, weak Bluetooth)
        self.mute = False  # takes bytes, never answers (a write-only port)
        self.cond = threading.Condition()  # guards the buffer, the engine and the receipts
        # The receive buffer: chunks as they came, and None where a link ended (the engine
        # then drops a command cut in half, as a printer's receive timeout does).
        self.buffer: deque[bytes | None] = deque()
        self.buffered = 0  # bytes in the buffer
        self.raw = bytearray()  # every byte received, for tests
        self.cut_times: list[float] = []
        self.printing_seconds = 0.0  # time the engine spent moving paper (the bench's busy share)
        self.first_printed_at: float | None = None  # monotonic time the engine first moved paper
        self._on_receipt = on_receipt
        self._conn: socket.socket | None = None
        self._send_lock = threading.Lock()
        self._power = threading.Event()  # set while on
        self._off = threading.Event()  # set while off: what a printing engine waits on
        self._power.set()
        self._closed = False
        self._engine: threading.Thread | None = None  # started with the first connection

    # -- what a person at the counter does ----------------------------------------------

    @property
    def state(self) -> printer_status.PrinterStatus:
        return self.engine.state

    def set_state(self, **changes: object) -> None:
        """e.g. set_state(paper="out"), set_state(cover_open=True), set_state(paper="ok")."""
        with self.cond:
            self.engine.state = replace(self.engine.state, **changes)
            self.cond.notify_all()

    @property
    def powered(self) -> bool:
        return self._power.is_set()

    def power_off(self) -> None:
        """Pull the plug: the link drops, the unprinted buffer is gone, the paper stays."""
        self._power.clear()
        self._off.set()
        self._hang_up()
        with self.cond:
            self.buffer.clear()
            self.buffered = 0
            self.engine.disconnect()
            self.cond.notify_all()

    def drop_link(self) -> None:
        """The cable pulled, the printer still on: the link goes, the printer goes on printing
        what its buffer holds, and takes the next connection."""
        self._hang_up()

    def power_on(self) -> None:
        self._off.clear()
        self._power.set()

    def close(self) -> None:
        self._closed = True
        self.power_off()

    @property
    def receipts(self) -> list[Receipt]:
        with self.cond:
            return list(self.engine.receipts)

    # -- the link -----------------------------------------------------------------------

    def serve(self, conn: socket.socket) -> None:
        """Read one connection until it closes: fill the buffer while it has room, answer
        real-time requests on arrival. Returns when the peer hangs up or the power goes."""
        with self.cond:
            self._conn = conn
            if self._engine is None:
                self._engine = threading.Thread(target=self._run_engine, daemon=True, name="virtual-printer-engine")
                self._engine.start()
        tail = b""
        try:
            while self.powered:
                with self.cond:
                    self.cond.wait_for(lambda: self.buffered < self.buffer_size or not self.powered)
                    room = self.buffer_size - self.buffered
                if not self.powered:
                    return
                if self.link_bytes_per_second:
                    room = max(1, min(room, int(self.link_bytes_per_second / 20)))
                    time.sleep(room / self.link_bytes_per_second)
                try:
                    data = conn.recv(min(room, 4096))
                except OSError:
                    data = b""
                if not data:
                    return
                window = tail + data
                answers = b"".join(self.engine.realtime(m.group()) for m in self._realtime.finditer(window)
                                   if m.end() > len(tail))
                tail = window[-2:]
                with self.cond:
                    if self._conn is not conn:  # the power went while this was on its way
                        return
                    self.raw += data
                    self.buffer.append(data)
                    self.buffered += len(data)
                    self.cond.notify_all()
                self._send(conn, answers)
        finally:
            with self.cond:
                if self._conn is conn:
                    self._conn = None
                    self.buffer.append(None)  # what it received still prints
                self.cond.notify_all()
            with contextlib.suppress(OSError):
                conn.close()

    def _send(self, conn: socket.socket | None, answers: bytes) -> None:
        if not answers or self.mute or conn is None:
            return
        with self._send_lock, contextlib.suppress(OSError):
            conn.sendall(answers)

    def _hang_up(self) -> None:
        with self.cond:
            conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    # -- the engine ---------------------------------------------------------------------

    def _printing_possible(self) -> bool:
        return bool(self.buffer) and self.powered and self.engine.state.ready

    def _run_engine(self) -> None:
        """Take bytes from the buffer as the print head gets to them; in-order answers go
        out once the paper before them has moved."""
        while not self._closed:
            with self.cond:
                if not self.cond.wait_for(self._printing_possible, timeout=0.5):
                    continue
                chunk = self.buffer.popleft()
                if chunk is None:
                    self.engine.disconnect()
                    continue
                size = 256 if self.speed_mm_s else 8192
                if len(chunk) > size:
                    self.buffer.appendleft(chunk[size:])
                    chunk = chunk[:size]
                self.buffered -= len(chunk)
                before = self.engine.dots_fed
                self.engine.feed(chunk)
                answers = self.engine.take_answers()
                moved = self.engine.dots_fed - before
                conn = self._conn
                self.cond.notify_all()  # room in the buffer: reception goes on
            if moved:
                self.first_printed_at = self.first_printed_at or time.monotonic()
            # Printing takes time; a power cut meanwhile loses the answers too.
            if self.speed_mm_s and moved:
                seconds = moved / DOTS_PER_MM / self.speed_mm_s
                if self._off.wait(seconds):
                    continue
                self.printing_seconds += seconds
            self._send(conn, answers)

    def _printed(self, receipt: Receipt) -> None:
        self.cut_times.append(time.monotonic())
        if self._on_receipt is not None:
            self._on_receipt(receipt)
        self.cond.notify_all()  # called by the engine with self.cond held
