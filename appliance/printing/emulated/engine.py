"""The print engine of an ESC/POS printer in software: it interprets the byte stream as the
printer's engine does, in order, answers the in-order requests (GS r, GS ( H process IDs,
GS I) when it reaches them, and turns what it would have printed into receipts.

Real-time commands (DLE EOT, DLE ENQ, DLE DC4) are not its business: a real printer answers
them on arrival, ahead of everything in its buffer, and so does ``printer.EmulatedPrinter``,
which wraps this engine with a receive buffer, a print speed and a power switch. Text is
decoded with the code page the stream selected (ESC t n, numbered as in the printer's
profile), so a receipt that says "Żurek" here printed "Żurek" on paper.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from escpos import capabilities
from escpos.magicencode import Encoder
from PIL import Image

from appliance.printing import commands
from appliance.printing import status as printer_status
from appliance.printing.commands import DLE, ESC, FS, GS, LF

TEXT_ROW_DOTS = 30  # a text line and its spacing, in dots (8 dots per mm)
REALTIME = re.compile(rb"\x10\x04([\x01-\x04])")  # DLE EOT n: answered on arrival


@dataclass
class Row:
    """One printed row as it looks: text with its style, or a picture (raster, QR, barcode)."""

    kind: str  # text, image, qr, barcode
    text: str = ""
    align: int = 0
    bold: bool = False
    double_width: bool = False
    double_height: bool = False
    invert: bool = False
    image: Image.Image | None = None


@functools.lru_cache(maxsize=64)
def _code_page_table(name: str) -> list[str]:
    """The 128 upper characters of a code page: built once a process (python-escpos builds
    them by decoding each byte, a few hundred microseconds a table), shared by every engine
    (each receipt drawn for a Star Graphic printer reads its ESC/POS with one)."""
    try:
        return list(Encoder._get_codepage_char_list(name))
    except (LookupError, ValueError, KeyError):
        return ["?"] * 128


@dataclass
class Receipt:
    """One cut-off piece of paper."""

    lines: list[str]
    raw: bytes
    cut: bool = True  # False: the paper was torn off (link lost, engine flushed)
    rows: list[Row] = field(default_factory=list)

    @property
    def text(self) -> str:
        lines = list(self.lines)
        while lines and not lines[-1].strip():
            lines.pop()
        return "\n".join(lines) + "\n"


@dataclass
class _Style:
    align: int = 0
    bold: bool = False
    double_width: bool = False
    double_height: bool = False
    invert: bool = False


@dataclass
class Engine:
    profile: str = "default"
    columns: int = 48
    state: printer_status.PrinterStatus = field(
        default_factory=lambda: printer_status.PrinterStatus(True, "ok", False, False))
    answers_process_id: bool = True  # GS ( H fn 48: Epson TM and many compatibles
    answers_paper_status: bool = True  # GS r 1: nearly every ESC/POS printer
    on_receipt: Callable[[Receipt], None] | None = None
    printer_id: bytes = b"Comptoir emulated printer"  # GS I 67: the model
    maker: bytes = b"Comptoir"  # GS I 66: the manufacturer

    def __post_init__(self) -> None:
        code_pages = capabilities.get_profile(self.profile).codePages
        self._code_pages = {int(n): name for n, name in code_pages.items()}
        self._tables: dict[int, list[str]] = {}
        self._pending = bytearray()
        self._kept = 0
        self._answers = bytearray()
        self._raw = bytearray()
        self._line: list[str] = []
        self._lines: list[str] = []
        self._rows: list[Row] = []
        self.receipts: list[Receipt] = []
        self.received = 0
        self.dots_fed = 0  # paper moved so far, in dots (8 per mm): what printing takes time for
        self._reset()

    def _reset(self) -> None:
        self._table = self._decode_table(0)
        self._style = _Style()

    # -- the stream ---------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        """Take bytes as the printer's receive buffer would; partial commands wait for more."""
        self.received += len(data)
        self._pending += data
        self._kept = 0  # how much of _pending is in _raw already (a cut inside _run moves it)
        consumed = self._run(self._pending)
        self._raw += self._pending[self._kept:consumed]
        del self._pending[:consumed]

    def take_answers(self) -> bytes:
        """Bytes the engine sends back (paper status, process IDs, printer id), in order."""
        answers = bytes(self._answers)
        self._answers.clear()
        return answers

    def realtime(self, request: bytes) -> bytes:
        """The answer to a real-time request (DLE EOT n), given on arrival, ahead of the buffer."""
        return bytes((printer_status.realtime_answer(self.state, request[2]),))

    def disconnect(self) -> Receipt | None:
        """The link dropped: a command cut in half is dropped, what was printed stays."""
        self._pending.clear()
        return self.flush(cut=False)

    def flush(self, cut: bool = False, upto: int | None = None) -> Receipt | None:
        """End the current receipt; without a cut, it was torn off by hand. ``upto``: the end
        of the cut command in the buffer being run, so the receipt's bytes are its own."""
        if upto is not None:
            self._raw += self._pending[self._kept:upto]
            self._kept = upto
        self._end_line(force=False)
        if not self._lines:
            self._raw.clear()
            return None
        receipt = Receipt(self._lines, bytes(self._raw), cut, self._rows)
        self._lines, self._raw, self._rows = [], bytearray(), []
        self.receipts.append(receipt)
        if self.on_receipt:
            self.on_receipt(receipt)
        return receipt

    # -- decoding -----------------------------------------------------------------------

    def _decode_table(self, number: int) -> list[str]:
        if number not in self._tables:
            self._tables[number] = _code_page_table(self._code_pages.get(number, "CP437"))
        return self._tables[number]

    def _char(self, byte: int) -> str:
        return chr(byte) if byte < 0x80 else self._table[byte - 0x80]

    def _end_line(self, force: bool = True) -> None:
        if not self._line and not force:
            return
        text = "".join(self._line)
        width = self.columns // (2 if self._style.double_width else 1)
        if self._style.align == 1:
            text = text.center(width).rstrip()
        elif self._style.align == 2:
            text = text.rjust(width)
        self._lines.append(text)
        self.dots_fed += TEXT_ROW_DOTS * (2 if self._style.double_height else 1)
        style = self._style
        self._rows.append(Row("text", "".join(self._line), style.align, style.bold, style.double_width,
                              style.double_height, style.invert))
        self._line = []

    def _mark(self, text: str, row: Row, dots: int = 0) -> None:
        self._end_line(force=False)
        self._lines.append(text)
        self.dots_fed += dots or TEXT_ROW_DOTS
        row.align = self._style.align
        self._rows.append(row)

    def _not_paper(self, i: int, size: int) -> None:
        """Questions between receipts (status, process IDs) are no part of the next one: a
        receipt's bytes start with its first command that prints or sets up printing."""
        if not self._raw and self._kept == i:
            self._kept = i + size

    def _run(self, buf: bytearray) -> int:
        """Interpret as many whole commands as ``buf`` holds; return how many bytes."""
        i, n = 0, len(buf)
        while i < n:
            b = buf[i]
            if b == LF:
                self._end_line()
                i += 1
            elif b == DLE:
                # Real-time commands: answered on arrival by the printer around the engine;
                # the engine only steps over them.
                size = commands.length(buf, i)
                if size is None:
                    return i
                self._not_paper(i, size)
                i += size
            elif b in (ESC, GS, FS):
                used = commands.length(buf, i)
                if used is None:
                    return i
                self._command(buf, i, used)
                question = b == GS and (buf[i + 1] in (ord("r"), ord("I")) or bytes(buf[i + 1:i + 3]) == b"(H")
                if question or (b == ESC and buf[i + 1] == 0x06):  # Star's status question is one too
                    self._not_paper(i, used)
                i += used
            elif b < 0x20:
                i += 1
            else:
                self._line.append(self._char(b))
                i += 1
        return i

    def _command(self, buf: bytearray, i: int, size: int) -> None:
        """What the whole command at ``i`` does to the receipt and the answers."""
        lead, cmd = buf[i], buf[i + 1]
        if lead == ESC:
            self._esc(cmd, buf[i + 2] if size > 2 else 0, i + size)
        elif lead == GS:
            self._gs(cmd, bytes(buf[i + 2:i + size]), i + size)

    def _esc(self, cmd: int, arg: int, end: int) -> None:
        if cmd == ord("@"):
            self._end_line(force=False)
            self._reset()
        elif cmd == ord("t"):
            self._table = self._decode_table(arg)
        elif cmd == ord("a"):
            self._style.align = arg % 48 if arg >= 48 else arg
        elif cmd == ord("E"):
            self._style.bold = bool(arg & 1)
        elif cmd == ord("!"):
            self._style.double_width = bool(arg & 0x20)
            self._style.double_height = bool(arg & 0x10)
            self._style.bold = bool(arg & 0x08)
        elif cmd == ord("d"):
            self._end_line(force=False)
            self._lines.extend([""] * arg)
            self._rows.extend(Row("text") for _ in range(arg))
        elif cmd in (ord("i"), ord("m")):
            self.flush(cut=True, upto=end)

    def _gs(self, cmd: int, params: bytes, end: int) -> None:
        if cmd == ord("V"):
            self.flush(cut=True, upto=end)
        elif cmd == ord("v"):  # GS v 0 m xL xH yL yH data: raster image
            width, height = params[2] | params[3] << 8, params[4] | params[5] << 8
            picture = Image.frombytes("1", (width * 8, height), params[6:], "raw", "1;I")
            self._mark(f"[image {width * 8}x{height}]", Row("image", image=picture), dots=height)
        elif cmd == ord("("):  # GS ( x pL pH body
            kind, body = params[0], params[3:]
            if kind == ord("k") and body[:3] == b"1P0":
                data = body[3:].decode("utf-8", errors="replace")
                self._mark(f"[qr {body[3:].decode('latin-1')}]", Row("qr", text=data), dots=200)
            elif kind == ord("H") and body[:2] == b"00" and len(body) == 6 and self.answers_process_id:
                self._answers += printer_status.process_id_response(body[2:])  # everything before is on paper
        elif cmd == ord("k"):  # barcode
            data = params[1:-1] if params[0] <= 6 else params[2:]
            self._mark(f"[barcode {data.decode('latin-1')}]", Row("barcode", text=data.decode("latin-1")))
        elif cmd == ord("!"):
            self._style.double_width = bool(params[0] & 0x70)
            self._style.double_height = bool(params[0] & 0x07)
        elif cmd == ord("B"):
            self._style.invert = bool(params[0] & 1)
        elif cmd == ord("r") and self.answers_paper_status and params[0] in (1, 49):
            self._answers.append(printer_status.paper_status_byte(self.state))
        elif cmd == ord("I"):  # printer information: 65+ are text answers, the rest one byte
            text = {66: self.maker, 67: self.printer_id}.get(params[0], b"1.0")
            self._answers += b"_" + text + b"\x00" if params[0] >= 65 else b"\x20"
