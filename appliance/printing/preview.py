"""A picture of a receipt, as the emulated printer would have printed it: PNG, paper width.

Text is drawn in a monospaced font with the receipt's alignment, bold and sizes; raster
images as printed; QR codes redrawn from their data; barcodes as bars under their digits (a
sketch: the printer draws the real symbology). DejaVu Sans Mono (Debian's fonts-dejavu-core,
on Raspberry Pi OS too) covers French, Polish and Russian; without it Pillow's own font is
used and some letters may show as boxes.
"""

from __future__ import annotations

import functools
import io
import zlib
from pathlib import Path

import qrcode
from PIL import Image, ImageDraw, ImageFont, ImageOps

from appliance.printing.emulated.engine import Receipt, Row

FONTS = ("/usr/share/fonts/truetype/dejavu/DejaVuSansMono{}.ttf",
         "/usr/share/fonts/dejavu/DejaVuSansMono{}.ttf")
MARGIN = 12


@functools.cache
def _font(size: int, bold: bool) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for pattern in FONTS:
        path = Path(pattern.format("-Bold" if bold else ""))
        if path.exists():
            return ImageFont.truetype(str(path), size)
    return ImageFont.load_default(size)


@functools.lru_cache(maxsize=2048)
def _glyph(char: str, cell: int, bold: bool) -> Image.Image:
    """One character in its cell, drawn once: a receipt is a few hundred pastes of these,
    which is what lets a raster-only printer's receipt be drawn in a few milliseconds."""
    glyph = Image.new("L", (cell, round(cell * 2)), 255)
    ImageDraw.Draw(glyph).text((0, 0), char, fill=0, font=_font(round(cell * 1.6), bold))
    return glyph


def _text(row: Row, dots: int, columns: int) -> Image.Image:
    cell = dots // columns
    height = round(cell * 2)
    image = Image.new("L", (max(1, cell * len(row.text)), height), 255)
    for index, char in enumerate(row.text):
        if char != " ":
            image.paste(_glyph(char, cell, row.bold), (index * cell, 0))
    if row.invert:
        image = ImageOps.invert(image)
    width_scale, height_scale = (2 if row.double_width else 1), (2 if row.double_height else 1)
    if width_scale > 1 or height_scale > 1:
        image = image.resize((image.width * width_scale, height * height_scale))
    return image


def _qr(row: Row) -> Image.Image:
    code = qrcode.QRCode(border=1, box_size=6)
    code.add_data(row.text)
    return code.make_image().get_image().convert("L")


def _barcode(row: Row, dots: int, columns: int) -> Image.Image:
    digits = row.text.removeprefix("{B")
    bars = Image.new("L", (min(dots, 8 + 22 * len(digits)), 80), 255)
    draw = ImageDraw.Draw(bars)
    pattern = zlib.crc32(digits.encode())
    x = 4
    for position in range(bars.width // 3 - 4):
        if (pattern >> (position % 32)) & 1 or position % 5 == 0:
            draw.rectangle((x, 0, x + 1, 58), fill=0)
        x += 3
    label = _text(Row("text", digits), dots, columns)
    bars.paste(label, ((bars.width - label.width) // 2, 60))
    return bars


def draw(receipt: Receipt, dots: int = 576, columns: int = 48) -> Image.Image:
    """The receipt as the paper shows it, ``dots`` wide, black and white: the jobs page's
    picture, and what a raster-only printer (Star Graphic) is sent."""
    pieces: list[tuple[Image.Image, int]] = []
    for row in receipt.rows:
        if row.kind == "text":
            pieces.append((_text(row, dots, columns), row.align))
        elif row.kind == "image" and row.image is not None:
            pieces.append((row.image.convert("L"), row.align))
        elif row.kind == "qr":
            pieces.append((_qr(row), row.align))
        elif row.kind == "barcode":
            pieces.append((_barcode(row, dots, columns), row.align))
    paper = Image.new("L", (dots, max(1, sum(image.height for image, _ in pieces))), 255)
    y = 0
    for image, align in pieces:
        if image.width > dots:
            image = image.resize((dots, max(1, round(image.height * dots / image.width))))
        x = {0: 0, 1: (dots - image.width) // 2, 2: dots - image.width}.get(align, 0)
        paper.paste(image, (x, y))
        y += image.height
    return paper.convert("1", dither=Image.Dither.NONE)  # text: crisp edges, not a dither


def render_png(receipt: Receipt, dots: int = 576, columns: int = 48) -> bytes:
    paper = ImageOps.expand(draw(receipt, dots, columns).convert("L"), MARGIN, fill=255)
    out = io.BytesIO()
    paper.convert("1").save(out, "PNG", optimize=True)
    return out.getvalue()


def picture_of(payload: bytes, width_mm: int = 80) -> bytes:
    """What a job's bytes look like on paper (its first receipt), as a PNG: the setup page's
    preview of a waiting job."""
    from appliance.printing.emulated.engine import Engine

    columns, dots = (48, 576) if width_mm == 80 else (32, 384)
    engine = Engine(columns=columns)
    engine.feed(payload)
    engine.flush()
    if not engine.receipts:
        raise ValueError("these bytes print nothing")
    return render_png(engine.receipts[0], dots, columns)
