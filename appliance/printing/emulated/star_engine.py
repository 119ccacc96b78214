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

from appliance.printing import commands, star
from appliance.printing import status as printer_status
from appliance.printing.emulated.engine import TEXT_ROW_DOTS, Receipt, Row

ESC, GS, RS, LF, ETB = 0x1B, 0x1D, 0x1E, 0x0A, 0x17
# ESC GS t n: Star's numbers for the code pages the box uses (Line Mode and StarPRNT manuals).
CODE_PAGES = {1: "cp437", 4: "cp858", 5: "cp852", 6: "cp860", 7: "cp861", 8: "cp863", 9: "cp865",
              10: "cp866", 11: "cp855", 12: "cp857", 13: "cp862", 14: "cp864", 15: "cp737", 17: "cp869",
              32: "cp1252", 33: "cp1250", 34: "cp1251"}
# Whole-command lengths of the fixed ESC commands (after ESC).
_ESC_FIXED = {ord("@"): 2, ord("E"): 2, ord("F"): 2, ord("4"): 2, ord("5"): 2, ord("0"): 2, ord("-"): 3,
              ord("W"): 3, ord("h"): 3, ord("a"): 3, ord("d"): 3, ord("z"): 3, ord("i"): 4, 0x07: 4,
              0x06: 3, 0x0C: 3}
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

    # -- the stream ---------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        self.received += len(data)
        self._pending += data
        consumed = self._run(self._pending)
        self._raw += self._pending[:consumed]
        del self._pending[:consumed]

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
            used = self._one(buf, i)
            if used is None:
                return i
            i += used
        return i

    def _one(self, buf: bytearray, i: int) -> int | None:
        """Interpret the command at ``i``; its length, or None to wait for more bytes."""
        b = buf[i]
        if b == ESC:
            return self._esc(buf, i)
        if b == GS or b == 0x10:  # Epson's GS and DLE commands: not Star's; stepped over whole
            return commands.length(buf, i)
        if self._raster is not None:
            return self._raster_data(buf, i)
        if b == LF:
            self._end_line()
        elif b == ETB:
            self._end_line(force=False)
            self.etb = (self.etb + 1) % 32
            if self.asb_on:
                self._answers += self.asb()
        elif b >= 0x20:
            try:
                self._line.append(bytes((b,)).decode(self._code_page))
            except UnicodeDecodeError:
                self._line.append("?")
        return 1

    def _raster_data(self, buf: bytearray, i: int) -> int | None:
        b = buf[i]
        if b in (ord("b"), ord("k")):
            if i + 3 > len(buf):
                return None
            size = buf[i + 1] | buf[i + 2] << 8
            if i + 3 + size > len(buf):
                return None
            assert self._raster is not None
            self._raster.append(bytes(buf[i + 3:i + 3 + size]))
            self.dots_fed += 1
            return 3 + size
        return 1

    def _esc(self, buf: bytearray, i: int) -> int | None:
        if i + 2 > len(buf):
            return None
        cmd = buf[i + 1]
        if cmd == GS:
            return self._esc_gs(buf, i)
        if cmd == RS:
            if i + 4 > len(buf):
                return None
            what, n = buf[i + 2], buf[i + 3]
            if what == ord("a"):
                self.asb_on = bool(n & 1)
            elif what == ord("E"):
                self.etb = 0
            return 4
        if cmd == ord("*"):
            return self._raster_command(buf, i)
        if cmd == ord("#"):
            end = buf.find(b"\n\x00", i)
            if end < 0:
                return None
            if buf[i + 2] == ord("*"):
                self._answers += b"\x1b#*," + self.printer_id + b"\n\x00"
            return end + 2 - i
        if cmd == ord("b"):  # barcode: ESC b n1 n2 n3 n4 data RS
            end = buf.find(bytes((RS,)), i + 6)
            if end < 0:
                return None
            data = bytes(buf[i + 6:end]).decode("latin-1")
            self._mark(f"[barcode {data}]", Row("barcode", text=data), 80)
            return end + 1 - i
        if cmd == ord("X"):  # 24-dot bit image: ESC X n1 n2, 3 bytes a column
            if i + 4 > len(buf):
                return None
            columns = buf[i + 2] | buf[i + 3] << 8
            if i + 4 + 3 * columns > len(buf):
                return None
            self._mark(f"[image {columns}x24]", Row("image", image=self._band(bytes(buf[i + 4:i + 4 + 3 * columns]),
                                                                              columns)), 24)
            return 4 + 3 * columns
        size = _ESC_FIXED.get(cmd, 3)
        if i + size > len(buf):
            return None
        arg = buf[i + 2] if size > 2 else 0
        if cmd == ord("@"):
            self._end_line(force=False)
            self._reset()
        elif cmd == ord("E"):
            self._style.bold = True
        elif cmd == ord("F"):
            self._style.bold = False
        elif cmd == ord("4"):
            self._style.invert = True
        elif cmd == ord("5"):
            self._style.invert = False
        elif cmd == ord("i"):
            self._style.height, self._style.width = min(arg, 5) + 1, min(buf[i + 3], 5) + 1
        elif cmd == ord("W"):
            self._style.width = min(arg, 5) + 1
        elif cmd == ord("h"):
            self._style.height = min(arg, 5) + 1
        elif cmd == ord("a"):
            self._end_line(force=False)
            self._lines.extend([""] * arg)
            self._rows.extend(Row("text") for _ in range(arg))
            self.dots_fed += TEXT_ROW_DOTS * arg
        elif cmd == ord("d"):
            self._cut()
        elif cmd == 0x0C and self._raster is not None:  # ESC FF NUL / ESC FF EOT: end of the page
            self._end_raster()
            self._cut(self._eot_cuts)
        return size

    def _esc_gs(self, buf: bytearray, i: int) -> int | None:
        if i + 3 > len(buf):
            return None
        what = buf[i + 2]
        if what == ord("t") or what == ord("a"):
            if i + 4 > len(buf):
                return None
            if what == ord("t"):
                self._code_page = CODE_PAGES.get(buf[i + 3], "cp437")
            else:
                self._style.align = buf[i + 3] % 48 if buf[i + 3] >= 48 else buf[i + 3]
            return 4
        if what == 0x03:  # ESC GS ETX s n1 n2
            if i + 6 > len(buf):
                return None
            if buf[i + 3] == 1 and self.answers_print_end:
                self._end_line(force=False)
                self.print_end = (self.print_end + 1) % 256
                self._answers += star.print_end_answer(buf[i + 4] | buf[i + 5] << 8, self.print_end)
            return 6
        if what == ord("y"):  # QR: ESC GS y S x n (6), ESC GS y D 1 m nL nH data, ESC GS y P (4)
            if i + 4 > len(buf):
                return None
            if buf[i + 3] == ord("S"):
                return 6 if i + 6 <= len(buf) else None
            if buf[i + 3] == ord("D"):
                if i + 8 > len(buf):
                    return None
                size = buf[i + 6] | buf[i + 7] << 8
                if i + 8 + size > len(buf):
                    return None
                self._qr = bytes(buf[i + 8:i + 8 + size]).decode("utf-8", "replace")
                return 8 + size
            if buf[i + 3] == ord("P"):
                data = getattr(self, "_qr", "")
                self._mark(f"[qr {data}]", Row("qr", text=data), 200)
            return 4
        return 3

    def _raster_command(self, buf: bytearray, i: int) -> int | None:
        """ESC * r A / B / C / R, and the settings ESC * r <letters> <decimal> NUL."""
        if i + 4 > len(buf):
            return None
        if buf[i + 2] != ord("r"):
            return 3
        letter = buf[i + 3]
        if letter == ord("A"):
            self._end_line(force=False)
            self._raster = []
            self._eot_cuts = True
            return 4
        if letter == ord("B"):
            if self._raster:
                self._end_raster()
                if self._eot_cuts:
                    self._cut()
            self._raster = None
            return 4
        if letter in (ord("C"), ord("R")):
            if self._raster is not None:
                self._raster = []
            return 4
        end = buf.find(b"\x00", i + 4)
        if end < 0:
            return None if len(buf) - i < 16 else 4
        value = bytes(buf[i + 4:end]).lstrip(b"lr")
        if letter == ord("E"):
            self._eot_cuts = value.strip() not in (b"1",)
        elif letter == ord("Y") and value.isdigit() and self._raster is not None:
            self._raster.extend([b""] * int(value))
            self.dots_fed += int(value)
        return end + 1 - i

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
