"""Document -> ESC/POS bytes, for one printer profile and paper width. Pure: no I/O.

python-escpos does the byte-level work, and its MagicEncode picks, character by character,
a code page the profile says the printer has (CP858 for "Crème brûlée", CP852 for "Żurek",
CP866 for "Борщ" on the default profile), so mixed-language receipts print right.
"""

from __future__ import annotations

import functools
import io
import re
import textwrap
from dataclasses import dataclass

from escpos import capabilities
from escpos.exceptions import Error as EscposError
from escpos.magicencode import Encoder
from escpos.printer import Dummy
from PIL import Image

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

INIT = b"\x1b@"
DRAWER_KICK = b"\x1bp\x00\x19\xfa"  # ESC p 0: pulse pin 2 for 50 ms on, 500 ms off


class RenderError(ValueError):
    """The document is valid JSON but cannot print on this printer (its message goes to the client)."""


@dataclass(frozen=True)
class Paper:
    """Printable width of the two roll sizes shops use, in dots and in Font A columns."""

    mm: int

    @property
    def dots(self) -> int:
        return 576 if self.mm == 80 else 384

    @property
    def columns(self) -> int:
        return 48 if self.mm == 80 else 32


def known_profiles() -> list[str]:
    return sorted(capabilities.CAPABILITIES["profiles"])


def printer_for(profile: str, paper: Paper) -> Dummy:
    """A byte-collecting printer whose profile knows the real paper width (most profiles
    leave it unknown, and python-escpos then prints a warning to stdout on every image)."""
    if profile not in capabilities.CAPABILITIES["profiles"]:
        raise RenderError(f"unknown printer profile {profile!r}")
    p = Dummy(profile=profile, magic_encode_args={"encoder": _encoder(profile)})
    data = p.profile.profile_data
    p.profile.profile_data = {**data, "media": {**data.get("media", {}),
                                                "width": {"mm": paper.mm, "pixels": paper.dots}}}
    return p


@functools.cache
def _code_page_tables(profile: str) -> dict:
    """Character tables of the profile's code pages, built once and kept: building them costs
    more than rendering a whole receipt."""
    return {}


def _encoder(profile: str) -> Encoder:
    """A code page chooser for one receipt. The tables are shared; the choices are not
    (python-escpos prefers the code pages it used before, which would make a receipt's bytes
    depend on the receipts rendered before it)."""
    encoder = Encoder(capabilities.get_profile(profile).get_code_pages())
    encoder.available_characters = _code_page_tables(profile)
    return encoder


_SIZES = {"normal": (1, 1), "wide": (2, 1), "tall": (1, 2), "double": (2, 2)}


def _set(p: Dummy, *, align: str = "left", bold: bool = False, underline: int = 0,
         size: str = "normal", invert: bool = False) -> None:
    width, height = _SIZES[size]
    p.set_with_default(align=align, bold=bold, underline=underline, invert=invert,
                       double_width=width == 2, double_height=height == 2)


_NON_ASCII = re.compile(r"([^\x00-\x7f]+)")


# Every control character but the line feed: ESC, GS, DLE... typed into a customer's name
# or a note would reach the printer as a command (a drawer pulse, a cut, a reset).
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")
CONTROL_MARK = "?"


# What no receipt code page holds, as a person would write it on paper: the thin and narrow
# spaces Babel puts in French and Polish numbers ("1 234,50 €"), and the rouble sign ("rub."
# in Cyrillic).
_PAPER = str.maketrans({"\u202f": " ", "\u2009": " ", "\u2007": " ", "\u20bd": "\u0440\u0443\u0431."})


def printable(text: str) -> str:
    """Text as text: a tab becomes a space, any other control character a visible mark, what
    no code page holds the way a person writes it (``_PAPER``). Only a document's own fields
    (``cut``, ``drawer``, a barcode) make commands."""
    return _CONTROL.sub(lambda m: " " if m.group() == "\t" else CONTROL_MARK, text.translate(_PAPER))


def write_text(p: Dummy, text: str) -> None:
    """Write text, never commands (see ``printable``); ASCII runs go straight out once a code
    page is selected (every ESC/POS code page keeps ASCII in its lower half), only the other
    runs go through MagicEncode, whose per-character code page search is the slowest part of
    rendering."""
    for index, run in enumerate(_NON_ASCII.split(printable(text))):
        if not run:
            continue
        if index % 2 == 0 and p.magic.encoding is not None:
            p._raw(run.encode("ascii"))
        else:
            p.text(run)


def fit_columns(columns: list[str], width: int) -> list[str]:
    """Lay columns on lines of ``width`` characters: every column but the first keeps its
    natural width and sits at the right; the first wraps into the room that is left."""
    rest = " ".join(columns[1:])
    room = width - len(rest) - 1
    if room < 4:  # the right-hand columns alone overflow: put them on their own line
        return [*(textwrap.wrap(columns[0], width) or [""]), rest.rjust(width)[:width]]
    first = textwrap.wrap(columns[0], room) or [""]
    lines = [line.ljust(room) for line in first[:-1]]
    lines.append(first[-1].ljust(room) + " " + rest)
    return lines


def flatten(picture: Image.Image, dots: int) -> Image.Image:
    """A logo as paper shows it: transparent parts white (not black), no wider than ``dots``."""
    img = picture.convert("RGBA")
    flat = Image.new("RGB", img.size, "white")
    flat.paste(img, mask=img.getchannel("A"))
    if flat.width > dots:
        flat = flat.resize((dots, max(1, round(flat.height * dots / flat.width))))
    return flat


def _image(p: Dummy, data: bytes, paper: Paper, align: str) -> None:
    with Image.open(io.BytesIO(data)) as source:
        flat = flatten(source, paper.dots)
    _set(p, align=align)
    p.image(flat, impl="bitImageRaster", center=False)


def _line(p: Dummy, line, paper: Paper) -> None:
    match line:
        case TextLine():
            _set(p, align=line.align, bold=line.bold, underline=int(line.underline), size=line.size,
                 invert=line.invert)
            write_text(p, line.text + "\n")
        case ColumnsLine():
            _set(p, bold=line.bold, size=line.size)
            width = paper.columns // _SIZES[line.size][0]
            write_text(p, "".join(row + "\n" for row in fit_columns(list(line.columns), width)))
        case RuleLine():
            _set(p)
            write_text(p, (line.rule if isinstance(line.rule, str) else "-") * paper.columns + "\n")
        case BarcodeLine():
            _set(p, align=line.align)
            spec = line.barcode
            data = spec.data
            kind = spec.type
            if kind == "CODE128" and not data.startswith("{"):
                data = "{B" + data  # code set B: letters and digits, what tablets send
            # _hw_barcode is barcode() without its stray print() to stdout and without the
            # software fallback: every ESC/POS receipt printer draws these natively.
            p._hw_barcode(data, kind, height=spec.height, width=2 if paper.mm == 58 else 3,
                          pos="BELOW" if spec.hri else "OFF", font="A", align_ct=False,
                          function_type="B", check=kind != "CODE128")
        case QrLine():
            _set(p, align=line.align)
            native = bool(p.profile.supports("qrCode"))
            p.qr(line.qr.data, size=line.qr.size, native=native)
        case ImageLine():
            _image(p, line.image, paper, line.align)
        case FeedLine():
            p.ln(line.feed)


MAX_RENDERED = 2 * 1024 * 1024  # bytes of one copy: a few metres of paper


def render(doc: Document, profile: str = "default", width_mm: int = 80) -> bytes:
    """The bytes of one copy of ``doc``, starting from the printer's reset state; RenderError
    past MAX_RENDERED (the document's own limits keep it far below)."""
    paper = Paper(width_mm)
    p = printer_for(profile, paper)
    try:
        for index, line in enumerate(doc.lines):
            try:
                _line(p, line, paper)
            except (EscposError, ValueError) as exc:
                raise RenderError(f"lines[{index}]: {exc}") from exc
        _set(p)
        if doc.cut:
            p.cut()
    finally:
        p.close()
    if len(p.output) > MAX_RENDERED:
        raise RenderError(f"the receipt renders to {len(p.output)} bytes; at most {MAX_RENDERED}")
    return INIT + p.output


def reprint_banner(profile: str = "default") -> bytes:
    """The mark printed above a job that may already have come out once, so the kitchen
    sees it is a copy and does not cook the order twice."""
    return _banner(" REPRINT ", profile)


def duplicate_banner(profile: str = "default") -> bytes:
    """The mark above a job printed again on request (the history's "Reprint"): a copy, not
    a new order."""
    return _banner(" DUPLICATA / COPY ", profile)


def _banner(text: str, profile: str) -> bytes:
    p = printer_for(profile, Paper(80))
    _set(p, align="center", bold=True, size="double", invert=True)
    p.text(f"{text}\n")
    _set(p)
    p.close()
    return INIT + p.output


def moved_banner(source: str, profile: str = "default") -> bytes:
    """The line above a job its own printer could not print, so the kitchen knows where it
    was meant to come out."""
    p = printer_for(profile, Paper(80))
    _set(p, bold=True)
    write_text(p, f"moved from {source}\n")
    _set(p)
    p.close()
    return p.output


def compose(payload: bytes, *, copies: int, drawer: bool, reprint: bool, profile: str,
            moved_from: str | None = None) -> list[bytes]:
    """Everything one job sends, in pieces written one after the other (the copies are the
    same bytes, never multiplied in memory): optional REPRINT and "moved from" marks, drawer
    pulse first (so the drawer opens while the receipt prints), then the copies."""
    head = reprint_banner(profile) if reprint else INIT
    if moved_from:
        head += moved_banner(moved_from, profile)
    return [head + (DRAWER_KICK if drawer else b""), *([payload] * copies)]
