"""How long an ESC/POS command is: what lets a reader step over image data and barcodes
instead of mistaking their bytes for commands. Shared by the emulated print engine
(emulated/engine.py) and the virtual network printers (virtual_ports.py), which both cut a byte stream
into whole commands as it arrives.
"""

from __future__ import annotations

ESC, GS, DLE, FS, LF = 0x1B, 0x1D, 0x10, 0x1C, 0x0A
# Paper, for what a receipt costs: 203 dpi on every receipt printer the box drives, and a text
# line at the default spacing (1/6 inch).
DOTS_PER_MM = 8
LINE_MM = 4.25

# Parameter byte counts of the fixed-length commands python-escpos and tablets send.
ESC_FIXED = {
    ord("@"): 0, ord("2"): 0, ord("i"): 0, ord("m"): 0, ord("L"): 0, ord("S"): 0, ord("<"): 0,
    ord("!"): 1, ord("-"): 1, ord("3"): 1, ord("E"): 1, ord("G"): 1, ord("M"): 1, ord("R"): 1,
    ord("U"): 1, ord("V"): 1, ord("a"): 1, ord("d"): 1, ord("e"): 1, ord("J"): 1, ord("t"): 1,
    ord("{"): 1, ord("r"): 1, ord(" "): 1, ord("T"): 1, ord("="): 1, ord("c"): 2, ord("$"): 2,
    ord("\\"): 2, ord("B"): 2, ord("p"): 3, ord("W"): 8,
}
GS_FIXED = {
    ord("!"): 1, ord("B"): 1, ord("H"): 1, ord("I"): 1, ord("a"): 1, ord("b"): 1, ord("f"): 1,
    ord("h"): 1, ord("r"): 1, ord("w"): 1, ord("/"): 1, ord("L"): 2, ord("W"): 2, ord("$"): 2,
    ord("\\"): 2, ord("P"): 2, ord("^"): 3,
}
CUT_WITH_FEED = (65, 66, 97, 98, 103, 104)  # GS V m n: the forms that feed n before cutting


def length(buf: bytes | bytearray, i: int) -> int | None:
    """Length of the command that starts at ``buf[i]`` (ESC, GS, FS or DLE), or None while
    ``buf`` does not hold all of it yet. Unknown commands are taken to have one parameter."""
    size = declared(buf, i)
    return size if size is not None and i + size <= len(buf) else None


def declared(buf: bytes | bytearray, i: int) -> int | None:
    """The length the command at ``buf[i]`` says it has, once its header is in ``buf``, its
    data or not: what lets a reader refuse a picture of 4 GB before taking any of it."""
    n = len(buf)
    if i + 1 >= n:
        return None
    lead, cmd = buf[i], buf[i + 1]
    return {ESC: _esc, GS: _gs, FS: _fs, DLE: _dle}[lead](buf, i, cmd, n)


def _dle(buf: bytes | bytearray, i: int, cmd: int, n: int) -> int | None:
    if cmd != 0x14:  # DLE EOT n, DLE ENQ n
        return 3
    if i + 2 >= n:
        return None
    return 10 if buf[i + 2] == 8 else 5  # DLE DC4 fn=8 (clear buffers) is longer


def _fs(buf: bytes | bytearray, i: int, cmd: int, n: int) -> int | None:
    if cmd == ord("("):
        return None if i + 4 >= n else 5 + (buf[i + 3] | buf[i + 4] << 8)
    return {ord("p"): 4, ord("C"): 3, ord("-"): 3, ord("!"): 3, ord("W"): 3, ord("S"): 4}.get(cmd, 2)


def _esc(buf: bytes | bytearray, i: int, cmd: int, n: int) -> int | None:
    if cmd == ord("*"):  # bit image: m nL nH data
        if i + 4 >= n:
            return None
        dots = buf[i + 3] | buf[i + 4] << 8
        return 5 + dots * (3 if buf[i + 2] in (32, 33) else 1)
    if cmd == ord("D"):  # tab stops, NUL-terminated
        end = buf.find(b"\x00", i + 2)
        return None if end < 0 else end - i + 1
    return 2 + ESC_FIXED.get(cmd, 1)


def _gs(buf: bytes | bytearray, i: int, cmd: int, n: int) -> int | None:
    if cmd == ord("V"):  # cut: m, or m n for the feed-and-cut forms
        return None if i + 2 >= n else 4 if buf[i + 2] in CUT_WITH_FEED else 3
    if cmd == ord("v"):  # GS v 0 m xL xH yL yH data: raster image
        return None if i + 7 >= n else 8 + (buf[i + 4] | buf[i + 5] << 8) * (buf[i + 6] | buf[i + 7] << 8)
    if cmd == ord("("):  # GS ( x pL pH ...
        return None if i + 5 > n else 5 + (buf[i + 3] | buf[i + 4] << 8)
    if cmd == ord("8"):  # GS 8 L p1 p2 p3 p4 ...
        return None if i + 7 > n else 7 + int.from_bytes(buf[i + 3:i + 7], "little")
    if cmd == ord("k"):  # barcode: NUL-terminated (m <= 6) or counted
        if i + 2 >= n:
            return None
        if buf[i + 2] <= 6:
            end = buf.find(b"\x00", i + 3)
            return None if end < 0 else end - i + 1
        return None if i + 3 >= n else 4 + buf[i + 3]
    if cmd == ord("*"):  # downloaded bit image: x y data
        return None if i + 3 >= n else 4 + buf[i + 2] * buf[i + 3] * 8
    return 2 + GS_FIXED.get(cmd, 1)


def is_cut(buf: bytes | bytearray, i: int) -> bool:
    """GS V, or the older ESC i / ESC m."""
    return (buf[i] == GS and buf[i + 1] == ord("V")) or (buf[i] == ESC and buf[i + 1] in (ord("i"), ord("m")))


def raster_bands(data: bytes, row: int, height: int, band: int) -> bytes:
    """A picture (``height`` rows of ``row`` bytes, one bit a dot, black set) as GS v 0 bands
    of ``band`` rows: a printer's receive buffer is small, and one huge command stalls it."""
    out = bytearray()
    for top in range(0, height, band):
        rows = min(band, height - top)
        out += b"\x1dv0\x00" + bytes((row & 0xFF, row >> 8, rows & 0xFF, rows >> 8))
        out += data[top * row:(top + rows) * row]
    return bytes(out)
