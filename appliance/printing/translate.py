"""A job's bytes, for the printer at hand: any app on any printer.

A job is written in one printer language: the one of the printer it was rendered for, or
the one the app that sent it speaks (ESC/POS from a virtual port or ePOS-Print, Star's from a
Star app). When the printer that prints it speaks another (the box learnt the printer's
language after the job came, the job moved to a backup of another maker, an ESC/POS app
prints on a Star printer), the box reads the bytes as a printer of their language would,
draws the receipts, and sends the pictures in the printer's own raster: ``ESC * r`` raster
for Star, ``GS v 0`` for Epson. Within one family (Star Line Mode and StarPRNT) nothing
changes. Pure: no I/O.
"""

from __future__ import annotations

from appliance.printing import commands, languages, preview, star_render
from appliance.printing.emulated.engine import Receipt
from appliance.printing.emulated.star_engine import StarEngine
from appliance.printing.render import Paper


def needed(source: str, target: str) -> bool:
    """Do bytes in ``source`` need drawing again to print on a ``target`` printer? Every Star
    printer takes Star raster; only Star Graphic ones take no text."""
    both_star = languages.family(source) == languages.family(target) == "star"
    return not (source == target or (both_star and target != "star-graphic"))


def receipts(payload: bytes, source: str, width_mm: int) -> list[Receipt]:
    """The receipts ``payload`` prints, read as a printer of its language reads it."""
    if languages.family(source) == languages.ESCPOS:
        return list(star_render.receipts_of(payload, width_mm))
    paper = Paper(width_mm)
    engine = StarEngine(columns=paper.columns, dots=paper.dots)
    engine.feed(payload)
    engine.flush()
    return engine.receipts


def _escpos_raster(picture, cut: bool) -> bytes:
    """A picture as ESC/POS: GS v 0, then the cut (GS V 66 0: feed to the cutter, cut)."""
    picture = picture.convert("1")
    bands = commands.raster_bands(picture.tobytes("raw", "1;I"), -(-picture.width // 8), picture.height, 256)
    return b"\x1b@" + bands + (b"\x1dVB\x00" if cut else b"")


def translate(payload: bytes, source: str, target: str, width_mm: int = 80) -> bytes:
    """``payload`` (written in ``source``) as a ``target`` printer prints it."""
    if not needed(source, target):
        return payload
    paper = Paper(width_mm)
    pages = [(preview.draw(receipt, paper.dots, paper.columns), receipt.cut)
             for receipt in receipts(payload, source, width_mm)]
    if languages.family(target) == languages.ESCPOS:
        return b"".join(_escpos_raster(picture, cut) for picture, cut in pages)
    return b"".join(star_render.raster(picture, cut=cut) for picture, cut in pages)
