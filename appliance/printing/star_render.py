"""Document -> bytes for Star printers, in each of their languages. Pure: no I/O.

- **Star Line Mode** and **StarPRNT** share their text commands: Star's code pages (``ESC GS
  t n``: CP858 for "Crème brûlée", CP852 for "Żurek", CP866 for "Борщ", chosen character by
  character), bold (``ESC E``/``ESC F``), underline (``ESC -``), inverse (``ESC 4``/``ESC 5``),
  sizes (``ESC i``), alignment (``ESC GS a``), QR codes (``ESC GS y``), barcodes (``ESC b``),
  pictures in 24-dot bands (``ESC X``), feed (``ESC a``), the cut (``ESC d 3``: feed to the
  cutter, partial cut) and the drawer (``ESC BEL`` + ``BEL``).
- **Star Graphic** (the TSP100 family, TSP143III included) prints no text at all: the box
  draws the receipt, as it draws it for the jobs page (``preview.draw``, fonts with accents,
  Polish and Cyrillic), and sends it as raster lines: ``ESC * r A``, ``b n1 n2 data`` a dot
  row, ``ESC * r B``. Every Star printer takes raster, so ESC/POS bytes an app sent are
  printed on a Star printer the same way: drawn from the app's bytes, sent as a picture.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

from PIL import Image

from appliance.printing import preview, star
from appliance.printing import render as escpos
from appliance.printing.document import (
    BarcodeLine,
    ColumnsLine,
    Document,
    FeedLine,
    ImageLine,
    QrLine,
    RuleLine,
    TextLine,
)
from appliance.printing.emulated.engine import Engine, Receipt, Row
from appliance.printing.render import Paper, RenderError, fit_columns, printable

ESC, GS = 0x1B, 0x1D
INIT = b"\x1b@"
CUT = b"\x1bd\x03"  # ESC d 3: feed to the cutter, partial cut
DRAWER_KICK = b"\x1b\x07\x14\x14\x07"  # ESC BEL: 200 ms on, 200 ms off; BEL: drive drawer 1
# ESC GS t n: Star's numbers (Line Mode and StarPRNT manuals), in the order they are tried.
CODE_PAGES = {"cp858": 4, "cp852": 5, "cp866": 10, "cp1252": 32, "cp1250": 33, "cp1251": 34, "cp437": 1,
              "cp855": 11, "cp857": 12, "cp737": 15}
_SIZES = {"normal": (1, 1), "wide": (2, 1), "tall": (1, 2), "double": (2, 2)}
_ALIGN = {"left": 0, "center": 1, "right": 2}
_BARCODES = {"UPC-A": 1, "EAN8": 2, "EAN13": 3, "CODE39": 4, "ITF": 5, "CODE128": 6}


# -- text: Line Mode and StarPRNT --------------------------------------------------------------

class TextWriter:
    """Text into Star bytes (``out``), remembering the code page in force so a switch is sent
    only when a character needs another one. Text is text: control characters become marks
    (``render.printable``)."""

    def __init__(self, out: bytearray) -> None:
        self.out = out
        self.page: str | None = None

    def write(self, value: str) -> None:
        for char in printable(value):
            if char.isascii():
                if self.page is None:
                    self._select("cp858")
                self.out += char.encode("ascii")
                continue
            for page in ([self.page] if self.page else []) + list(CODE_PAGES):
                try:
                    encoded = char.encode(page)
                except UnicodeEncodeError:
                    continue
                if page != self.page:
                    self._select(page)
                self.out += encoded
                break
            else:
                self.out += b"?"

    def _select(self, page: str) -> None:
        self.out += bytes((ESC, GS, ord("t"), CODE_PAGES[page]))
        self.page = page


class _Text(TextWriter):
    """One receipt's bytes, from its reset."""

    def __init__(self) -> None:
        super().__init__(bytearray(INIT))

    def raw(self, data: bytes) -> None:
        self.out += data

    def text(self, value: str) -> None:
        self.write(value)

    def style(self, *, align: str = "left", bold: bool = False, underline: bool = False, size: str = "normal",
              invert: bool = False) -> None:
        width, height = _SIZES[size]
        self.out += bytes((ESC, GS, ord("a"), _ALIGN[align]))
        self.out += b"\x1bE" if bold else b"\x1bF"
        self.out += bytes((ESC, ord("-"), 1 if underline else 0))
        self.out += b"\x1b4" if invert else b"\x1b5"
        self.out += bytes((ESC, ord("i"), height - 1, width - 1))


def _bands(picture: Image.Image, paper: Paper, align: str) -> bytes:
    """A picture as ESC X bands of 24 dots, placed on the paper's width by its alignment."""
    picture = escpos.flatten(picture, paper.dots).convert("1")
    canvas = Image.new("1", (paper.dots, -(-picture.height // 24) * 24), 1)
    x = {"left": 0, "center": (paper.dots - picture.width) // 2, "right": paper.dots - picture.width}[align]
    canvas.paste(picture, (x, 0))
    out = bytearray(b"\x1b0")  # line spacing 3 mm: 24 dots, band against band
    pixels = canvas.load()
    for top in range(0, canvas.height, 24):
        band = bytearray()
        for column in range(canvas.width):
            for third in range(3):
                byte = 0
                for bit in range(8):
                    if not pixels[column, top + third * 8 + bit]:
                        byte |= 0x80 >> bit
                band.append(byte)
        out += bytes((ESC, ord("X"), canvas.width & 0xFF, canvas.width >> 8)) + band + b"\n"
    return bytes(out + b"\x1bz\x01")  # back to 4 mm lines


def text_commands(doc: Document, width_mm: int = 80) -> bytes:
    """One copy of ``doc`` in Star Line Mode / StarPRNT."""
    paper = Paper(width_mm)
    t = _Text()
    for index, line in enumerate(doc.lines):
        try:
            _line(t, line, paper)
        except (ValueError, OSError) as exc:
            raise RenderError(f"lines[{index}]: {exc}") from exc
    t.style()
    if doc.cut:
        t.raw(CUT)
    if len(t.out) > escpos.MAX_RENDERED:
        raise RenderError(f"the receipt renders to {len(t.out)} bytes; at most {escpos.MAX_RENDERED}")
    return bytes(t.out)


def _line(t: _Text, line, paper: Paper) -> None:
    match line:
        case TextLine():
            t.style(align=line.align, bold=line.bold, underline=bool(line.underline), size=line.size,
                    invert=line.invert)
            t.text(line.text)
            t.raw(b"\n")
        case ColumnsLine():
            t.style(bold=line.bold, size=line.size)
            for row in fit_columns(list(line.columns), paper.columns // _SIZES[line.size][0]):
                t.text(row)
                t.raw(b"\n")
        case RuleLine():
            t.style()
            t.text((line.rule if isinstance(line.rule, str) else "-") * paper.columns)
            t.raw(b"\n")
        case BarcodeLine():
            t.style(align=line.align)
            spec = line.barcode
            t.raw(bytes((ESC, ord("b"), _BARCODES[spec.type], 2 if spec.hri else 1, 1 if paper.mm == 58 else 2,
                         spec.height)) + spec.data.encode("ascii") + b"\x1e")
        case QrLine():
            data = line.qr.data.encode("utf-8")
            t.style(align=line.align)
            t.raw(b"\x1b\x1dyS0\x02" + b"\x1b\x1dyS1\x01" + bytes((ESC, GS, ord("y"), ord("S"), ord("2"),
                                                                  min(line.qr.size, 8))))
            t.raw(b"\x1b\x1dyD1\x00" + bytes((len(data) & 0xFF, len(data) >> 8)) + data + b"\x1b\x1dyP\n")
        case ImageLine():
            with Image.open(io.BytesIO(line.image)) as source:
                t.raw(_bands(source, paper, line.align))
        case FeedLine():
            t.raw(bytes((ESC, ord("a"), line.feed)))


# -- raster: Star Graphic, and any picture -------------------------------------------------------

def raster(picture: Image.Image, *, cut: bool) -> bytes:
    """A picture (``dots`` wide) as one raster page: entered, sent a dot row at a time (blank
    rows as feeds), then ended with the cut or without it (``ESC * r E 1 NUL``: no cut)."""
    picture = picture.convert("1")
    out = [star.RASTER_START + b"\x1b*rP0\x00" + (b"\x1b*rE13\x00" if cut else b"\x1b*rE1\x00")]
    data = picture.tobytes("raw", "1;I")
    stride = -(-picture.width // 8)
    blank = 0
    for start in range(0, len(data), stride):
        line = data[start:start + stride].rstrip(b"\0")
        if not line:
            blank += 1
            continue
        if blank:
            out.append(b"\x1b*rY%d\x00" % blank)
            blank = 0
        out.append(b"b%c%c%s" % (len(line) & 0xFF, len(line) >> 8, line))
    if blank:
        out.append(b"\x1b*rY%d\x00" % blank)
    out.append(star.RASTER_END)
    return b"".join(out)


def receipts_of(escpos_bytes: bytes, width_mm: int) -> Iterator[Receipt]:
    """The receipts an ESC/POS stream prints, read as an Epson printer would."""
    paper = Paper(width_mm)
    engine = Engine(columns=paper.columns)
    engine.feed(escpos_bytes)
    engine.flush()
    yield from engine.receipts


def raster_of_escpos(escpos_bytes: bytes, width_mm: int = 80) -> bytes:
    """ESC/POS bytes (a document rendered for Epson, or what an app sent) drawn and sent as
    Star raster, a page per receipt, each cut where the ESC/POS cut it."""
    paper = Paper(width_mm)
    pages = [raster(preview.draw(receipt, paper.dots, paper.columns), cut=receipt.cut)
             for receipt in receipts_of(escpos_bytes, width_mm)]
    return b"".join(pages)


def render(doc: Document, language: str, width_mm: int = 80) -> bytes:
    """One copy of ``doc`` in a Star language."""
    if language == "star-graphic":
        return raster_of_escpos(escpos.render(doc, "default", width_mm), width_mm)
    return text_commands(doc, width_mm)


# -- a job's marks -----------------------------------------------------------------------------

def duplicate_banner(language: str) -> bytes:
    """The mark above a job printed again on request, in a Star printer's language (the
    Epson one: ``render.duplicate_banner``)."""
    return INIT + _banner(" DUPLICATA / COPY ", language, inverted=True)


def _banner(text: str, language: str, *, inverted: bool) -> bytes:
    if language == "star-graphic":
        row = Row("text", text, align=1, bold=True, double_width=inverted, double_height=inverted, invert=inverted)
        return raster(preview.draw(Receipt([text], b"", False, [row])), cut=False)
    t = _Text()
    t.style(align="center", bold=True, size="double" if inverted else "normal", invert=inverted)
    t.text(text)
    t.raw(b"\n")
    t.style()
    return bytes(t.out)


def compose(payload: bytes, *, copies: int, drawer: bool, reprint: bool, language: str,
            moved_from: str | None = None) -> list[bytes]:
    """Everything one job sends to a Star printer, as ``render.compose`` for Epson's: the
    REPRINT and "moved from" marks, the drawer first, then the copies."""
    head = _banner(" REPRINT ", language, inverted=True) if reprint else INIT
    if moved_from:
        head += _banner(f"moved from {moved_from}", language, inverted=False)
    return [head + (DRAWER_KICK if drawer else b""), *([payload] * copies)]
