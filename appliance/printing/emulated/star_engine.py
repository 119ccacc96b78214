"""The print engine of a Star printer in software, in any of Star's three languages: text in
Star Line Mode and StarPRNT (their commands are one family), and raster (``ESC * r A`` ...
``b n1 n2 data`` ... ``ESC * r B``), all a Star Graphic printer such as the TSP143III takes.

It answers in order, as a Star printer does once the paper before it has moved: ``ETB`` adds
one to the ETB counter (the next ASB shows it, and with ASB on it is sent at once), ``ESC GS
ETX 1 n1 n2`` answers the print-end counter with n1 n2, ``ESC # *`` the model. The real-time
``ESC ACK SOH`` is answered by ``EmulatedPrinter`` on arrival (``realtime``). Epson's commands
are not its language: they are stepped over, never printed and never answered.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from PIL import Image

from appliance.printing import star
from appliance.printing import status as printer_status
from appliance.printing.emulated.engine import TEXT_ROW_DOTS, Receipt, Row

ESC, GS, RS, LF, ETB = 0x1B, 0x1D, 0x1E, 0x0A, 0x17
# ESC GS t n: Star's numbers for the code pages the box uses (Line Mode and StarPRNT manuals).
CODE_PAGES = {1: "cp437", 4: "cp858", 5: "cp852", 6: "cp860", 7: "cp861", 8: "cp863", 9: "cp865",
              10: "cp866", 11: "cp855", 12: "cp857", 13: "cp862", 14: "cp864", 15: "cp737", 17: "cp869",
              32: "cp1252", 33: "cp1250", 34: "cp1251"}
REALTIME = re.compile(rb"\x1b\x06\x01")


@dataclass
class _Style:
    align: int = 0
    bold: bool = False
    width: int = 1
    height: int = 1
    invert: bool = False


@dataclass
class StarEngine:
    columns: int = 48
    dots: int = 576
    state: printer_status.PrinterStatus = field(
        default_factory=lambda: printer_status.PrinterStatus(True, "ok", False, False))
    answers_print_end: bool = True  # ESC GS ETX: StarPRNT printers and recent Line Mode ones
    on_receipt: Callable[[Receipt], None] | None = None
    printer_id: bytes = b"TSP143IIIW Ver1.0"  # ESC # *: the model and firmware
    maker: bytes = b"Star"

    def __post_init__(self) -> None:
        self._pending = bytearray()
        self._answers = bytearray()
        self._raw = bytearray()
        self._line: list[str] = []
        self._lines: list[str] = []
        self._rows: list[Row] = []
        self.receipts: list[Receipt] = []
        self.received = 0
        self.dots_fed = 0
        self.etb = 0
        self.print_end = 0
        self.asb_on = False
        self._reset()

    def _reset(self) -> None:
        self._style = _Style()
        self._code_page = "cp437"
        self._raster: list[bytes] | None = None  # raster mode: the rows of the page so far
        self._eot_cuts = True
        self._qr = ""

    # -- the stream ---------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        self.received += len(data)
        self._pending += data
        del self._pending[:self._run(self._pending)]

    def take_answers(self) -> bytes:
        answers = bytes(self._answers)
        self._answers.clear()
        return answers

    def realtime(self, request: bytes) -> bytes:
        """The answer to a real-time request (``ESC ACK SOH``), given on arrival."""
        return self.asb()

    def asb(self) -> bytes:
        state = self.state
        return star.asb(online=state.online, paper=state.paper, cover_open=state.cover_open, error=state.error,
                        etb=self.etb)

    def disconnect(self) -> Receipt | None:
        self._pending.clear()
        return self.flush(cut=False)

    def flush(self, cut: bool = False) -> Receipt | None:
        self._end_line(force=False)
        self._end_raster()
        if not self._lines:
            self._raw.clear()
            return None
        receipt = Receipt(self._lines, bytes(self._raw), cut, self._rows)
        self._lines, self._raw, self._rows = [], bytearray(), []
        self.receipts.append(receipt)
        if self.on_receipt:
            self.on_receipt(receipt)
        return receipt

    # -- what prints --------------------------------------------------------------------

    def _end_line(self, force: bool = True) -> None:
        if not self._line and not force:
            return
        text = "".join(self._line)
        width = self.columns // self._style.width
        text = text.center(width).rstrip() if self._style.align == 1 else text.rjust(width) \
            if self._style.align == 2 else text
        self._lines.append(text)
        self.dots_fed += TEXT_ROW_DOTS * self._style.height
        style = self._style
        self._rows.append(Row("text", "".join(self._line), style.align, style.bold, style.width > 1,
                              style.height > 1, style.invert))
        self._line = []

    def _mark(self, text: str, row: Row, dots: int) -> None:
        self._end_line(force=False)
        self._lines.append(text)
        self.dots_fed += dots
        row.align = self._style.align
        self._rows.append(row)

    def _picture(self, rows: list[bytes], width_bytes: int) -> Image.Image:
        data = b"".join(row.ljust(width_bytes, b"\0")[:width_bytes] for row in rows)
        return Image.frombytes("1", (width_bytes * 8, len(rows)), data, "raw", "1;I")

    def _end_raster(self) -> None:
        if self._raster:
            width = max(len(row) for row in self._raster) or 1
            picture = self._picture(self._raster, width)
            self._lines.append(f"[raster {picture.width}x{picture.height}]")
            self._rows.append(Row("image", image=picture))
        if self._raster is not None:
            self._raster = []

    def _cut(self, cut: bool = True) -> None:
        self.flush(cut=cut)

    # -- decoding -----------------------------------------------------------------------

    def _run(self, buf: bytearray) -> int:
        i, n = 0, len(buf)
        while i < n:
            size = star.length(buf, i, raster=self._raster is not None)
            if size is None:
                return i
            cmd = bytes(buf[i:i + size])
            self._raw += cmd  # before it runs: a cut ends the receipt with its own bytes, the cut's included
            self._do(cmd)
            i += size
        return i

    def _do(self, cmd: bytes) -> None:
        """What one whole command (or text byte) does to the receipt and the answers."""
        b = cmd[0]
        if b in (GS, 0x10, 0x1C):
            return  # Epson's commands: not Star's, never printed
        if b == ESC:
            self._esc(cmd)
        elif self._raster is not None:
            if b in (ord("b"), ord("k")) and len(cmd) >= 3:
                self._raster.append(cmd[3:])
                self.dots_fed += 1
        elif b == LF:
            self._end_line()
        elif b == ETB:
            self._end_line(force=False)
            self.etb = (self.etb + 1) % 32
            if self.asb_on:
                self._answers += self.asb()
        elif b >= 0x20:
            try:
                self._line.append(cmd.decode(self._code_page))
            except UnicodeDecodeError:
                self._line.append("?")

    def _esc(self, cmd: bytes) -> None:
        code, arg = cmd[1], cmd[2] if len(cmd) > 2 else 0
        if code == GS:
            self._esc_gs(cmd)
        elif code == RS:
            if arg == ord("a"):
                self.asb_on = bool(cmd[3] & 1)
            elif arg == ord("E"):
                self.etb = 0
        elif code == ord("*"):
            self._raster_command(cmd)
        elif code == ord("#") and arg == ord("*"):
            self._answers += b"\x1b#*," + self.printer_id + b"\n\x00"
        elif code == ord("b") and len(cmd) > 7:
            data = cmd[6:-1].decode("latin-1")
            self._mark(f"[barcode {data}]", Row("barcode", text=data), 80)
        elif code == ord("X") and len(cmd) >= 4:
            columns = cmd[2] | cmd[3] << 8
            self._mark(f"[image {columns}x24]", Row("image", image=self._band(cmd[4:], columns)), 24)
        elif code == ord("@"):
            self._end_line(force=False)
            self._reset()
        elif code in (ord("E"), ord("F")):
            self._style.bold = code == ord("E")
        elif code in (ord("4"), ord("5")):
            self._style.invert = code == ord("4")
        elif code == ord("i"):
            self._style.height, self._style.width = min(arg, 5) + 1, min(cmd[3], 5) + 1
        elif code == ord("W"):
            self._style.width = min(arg, 5) + 1
        elif code == ord("h"):
            self._style.height = min(arg, 5) + 1
        elif code == ord("a"):
            self._end_line(force=False)
            self._lines.extend([""] * arg)
            self._rows.extend(Row("text") for _ in range(arg))
            self.dots_fed += TEXT_ROW_DOTS * arg
        elif code == ord("d") and self._raster is None:  # in raster mode only raster commands count
            self._cut()
        elif code == 0x0C and self._raster is not None:  # ESC FF NUL / ESC FF EOT: end of the page
            self._end_raster()
            self._cut(self._eot_cuts)

    def _esc_gs(self, cmd: bytes) -> None:
        what = cmd[2]
        if what == ord("t"):
            self._code_page = CODE_PAGES.get(cmd[3], "cp437")
        elif what == ord("a"):
            self._style.align = cmd[3] % 48 if cmd[3] >= 48 else cmd[3]
        elif what == 0x03 and cmd[3] == 1 and self.answers_print_end:  # ESC GS ETX 1 n1 n2
            self._end_line(force=False)
            self.print_end = (self.print_end + 1) % 256
            self._answers += star.print_end_answer(cmd[4] | cmd[5] << 8, self.print_end)
        elif what == ord("y") and cmd[3] == ord("D"):  # QR data, then ESC GS y P prints it
            self._qr = cmd[8:].decode("utf-8", "replace")
        elif what == ord("y") and cmd[3] == ord("P"):
            self._mark(f"[qr {self._qr}]", Row("qr", text=self._qr), 200)

    def _raster_command(self, cmd: bytes) -> None:
        """ESC * r A / B / C / R, and the settings ESC * r <letter> <decimal> NUL."""
        if len(cmd) < 4 or cmd[2] != ord("r"):
            return
        letter = cmd[3]
        if letter == ord("A"):
            self._end_line(force=False)
            self._raster, self._eot_cuts = [], True
        elif letter == ord("B"):
            if self._raster:
                self._end_raster()
                if self._eot_cuts:
                    self._cut()
            self._raster = None
        elif letter in (ord("C"), ord("R")):
            if self._raster is not None:
                self._raster = []
        else:
            value = cmd[4:-1].lstrip(b"lr").strip()
            if letter == ord("E"):
                self._eot_cuts = value != b"1"
            elif letter == ord("Y") and value.isdigit() and self._raster is not None:
                self._raster.extend([b""] * int(value))
                self.dots_fed += int(value)

    @staticmethod
    def _band(data: bytes, columns: int) -> Image.Image:
        """An ESC X band: columns of 24 dots, three bytes each, top bit first."""
        picture = Image.new("1", (columns, 24), 1)
        pixels = picture.load()
        for x in range(columns):
            for y in range(24):
                if data[x * 3 + y // 8] & (0x80 >> (y % 8)):
                    pixels[x, y] = 0
        return picture
