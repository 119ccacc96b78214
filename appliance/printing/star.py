"""Star Micronics' side of the conversation: the bytes that ask a Star printer how it is and
whether a job is on paper, and how its answers read. Pure: no I/O.

From Star's Line Mode and StarPRNT command specifications:

- ``ESC ACK SOH`` asks, in real time (answered on arrival, ahead of the buffer), for the
  Automatic Status (ASB). Its first byte, header 1, carries the ASB's length in bits 1-3 and 5
  (bit 0 set, bits 4 and 7 clear); header 2 is its version; then printer status bytes: status
  1 (offline bit 3, cover open bit 5, ETB executed bit 1), status 2 (mechanical error bit 2,
  cutter error bit 3, non-recoverable bit 5, head too hot bit 6), status 3, status 4 (paper near
  end bit 2, paper end bit 3), status 5, status 6: the ETB counter, five bits spread over bits
  1-3 and 5-6 of the eighth byte.
- ``ETB``, in order: once everything before it is printed, the printer adds one to its ETB
  counter (0-31) and, when ASB is on, sends the ASB; the next ``ESC ACK SOH`` shows the count.
- ``ESC GS ETX 1 n1 n2``, in order (StarPRNT, and Line Mode on recent models): the printer
  prints what its line buffer holds, waits for the motor to stop, adds one to its print-end
  counter and answers ``ESC GS ETX 1 n1 n2 counter NUL``: n1 and n2 come back as sent, so they
  name the job whose end it proves.
- ``ESC # * LF NUL`` asks the model and version: ``ESC # * , <model Ver x.y> LF NUL``.

A Star printer ignores Epson's DLE EOT (or answers its EOT with Star's own status byte), and
an Epson printer ignores ESC ACK SOH: asking Star's question first tells the two apart.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

ESC, GS, ETX, ETB, ACK, SOH, NUL, LF, RS = 0x1B, 0x1D, 0x03, 0x17, 0x06, 0x01, 0x00, 0x0A, 0x1E
STATUS_REQUEST = bytes((ESC, ACK, SOH))  # real time: the ASB, now
MODEL_REQUEST = b"\x1b#*\n\x00"
ETB_REQUEST = bytes((ETB,))
RASTER_START, RASTER_END = b"\x1b*rA", b"\x1b*rB"  # Star Graphic's raster mode, entered and left
MIN_ASB = 7  # header 1, header 2, printer status 1-5: version 1; ETB counter from 9 bytes on
ASB_LENGTH = 9  # what the box's own ASB (virtual ports, the fake printer) says: version 3


def print_end_request(token: int) -> bytes:
    """ESC GS ETX 1 n1 n2: answered once everything before it is on paper; ``token``
    (0-65535) comes back with the answer."""
    return bytes((ESC, GS, ETX, 1, token & 0xFF, (token >> 8) & 0xFF))


def print_end_answer(token: int, counter: int) -> bytes:
    return print_end_request(token) + bytes((counter & 0xFF, NUL))


# Whole-command lengths of Star's fixed ESC commands, by the byte after ESC.
_ESC_FIXED = {ord("@"): 2, ord("E"): 2, ord("F"): 2, ord("4"): 2, ord("5"): 2, ord("0"): 2, ord("-"): 3,
              ord("W"): 3, ord("h"): 3, ord("a"): 3, ord("d"): 3, ord("z"): 3, ord("i"): 4, 0x07: 4,
              ACK: 3, 0x0C: 3, RS: 4}


def length(buf: bytes | bytearray, i: int, raster: bool = False) -> int | None:
    """How long the Star command (or text byte) at ``buf[i]`` is, or None while ``buf`` does
    not hold all of it: what lets the fake printer and the virtual ports step over pictures and
    barcodes. ``raster``: in raster mode, ``b``/``k`` start a dot row. Epson's GS and DLE
    commands are measured as Epson's (a Star printer steps over them)."""
    from appliance.printing import commands  # ESC/POS lengths: Epson's commands, stepped over

    n, b = len(buf), buf[i]
    if b in (GS, 0x10, 0x1C):
        return commands.length(buf, i)
    if raster and b in (ord("b"), ord("k")):
        if i + 3 > n:
            return None
        size = 3 + (buf[i + 1] | buf[i + 2] << 8)
        return size if i + size <= n else None
    if b != ESC:
        return 1
    if i + 3 > n:
        return None if i + 2 > n or buf[i + 1] not in _ESC_FIXED or _ESC_FIXED[buf[i + 1]] > 2 else 2
    cmd = buf[i + 1]
    if cmd == GS:
        what = buf[i + 2]
        if what == ETX:
            size = 6
        elif what in (ord("t"), ord("a")):
            size = 4
        elif what == ord("y"):
            if i + 4 > n:
                return None
            kind = buf[i + 3]
            if kind == ord("D"):
                if i + 8 > n:
                    return None
                size = 8 + (buf[i + 6] | buf[i + 7] << 8)
            else:
                size = 6 if kind == ord("S") else 4
        else:
            size = 3
        return size if i + size <= n else None
    if cmd == ord("*"):
        if buf[i + 2] != ord("r"):
            return 3
        if i + 4 > n:
            return None
        if buf[i + 3] in b"ABCR":
            return 4
        end = bytes(buf[i + 4:i + 20]).find(b"\x00")
        return None if end < 0 and n - i < 20 else 4 if end < 0 else end + 5
    if cmd == ord("#"):
        end = bytes(buf[i:i + 256]).find(b"\n\x00")
        return None if end < 0 and n - i < 256 else 2 if end < 0 else end + 2
    if cmd == ord("b"):  # barcode: ESC b n1 n2 n3 n4 data RS
        end = bytes(buf[i + 6:i + 300]).find(bytes((RS,)))
        return None if end < 0 and n - i < 300 else 6 if end < 0 else end + 7
    if cmd == ord("X"):  # 24-dot bit image: ESC X n1 n2, three bytes a column
        if i + 4 > n:
            return None
        size = 4 + 3 * (buf[i + 2] | buf[i + 3] << 8)
        return size if i + size <= n else None
    size = _ESC_FIXED.get(cmd, 3)
    return size if i + size <= n else None


def asb_length(header: int) -> int:
    """The ASB's length in bytes, from its first byte."""
    return ((header >> 1) & 0x07) | ((header >> 2) & 0x08)


def is_asb_header(byte: int) -> bool:
    return byte & 0x91 == 0x01 and asb_length(byte) >= MIN_ASB


def _header(length: int) -> int:
    return 0x01 | ((length & 0x07) << 1) | ((length & 0x08) << 2)


def etb_counter(status6: int) -> int:
    return ((status6 >> 1) & 0x07) | ((status6 >> 2) & 0x18)


def _etb_bits(counter: int) -> int:
    counter &= 0x1F
    return ((counter & 0x07) << 1) | ((counter & 0x18) << 2)


@dataclass(frozen=True)
class Asb:
    """What an ASB says, in the box's terms (``status.PrinterStatus`` holds the first four)."""

    online: bool
    paper: Literal["ok", "near_end", "out"]
    cover_open: bool
    error: bool
    etb: int | None  # the ETB counter (None: an ASB too short to carry it)

    @property
    def ready(self) -> bool:
        return self.online and self.paper != "out" and not self.cover_open and not self.error


def parse_asb(frame: bytes) -> Asb:
    """Decode a whole ASB frame (``asb_length(frame[0])`` bytes)."""
    status1, status2, status4 = frame[2], frame[3], frame[5]
    paper: Literal["ok", "near_end", "out"] = "out" if status4 & 0x08 else "near_end" if status4 & 0x04 else "ok"
    return Asb(online=not status1 & 0x08, paper=paper, cover_open=bool(status1 & 0x20),
               error=bool(status2 & 0x6C), etb=etb_counter(frame[7]) if len(frame) >= 8 else None)


def asb(*, online: bool = True, paper: str = "ok", cover_open: bool = False, error: bool = False,
        etb: int = 0) -> bytes:
    """A 9-byte ASB, as a Star printer sends it (the fake printer's, the virtual ports')."""
    status1 = (0x08 if not online or cover_open or paper == "out" or error else 0) | (0x20 if cover_open else 0)
    status2 = 0x20 if error else 0
    status4 = {"ok": 0, "near_end": 0x04, "out": 0x0C}[paper]
    return bytes((_header(ASB_LENGTH), 0x06, status1, status2, 0, status4, 0, _etb_bits(etb), 0))


@dataclass(frozen=True)
class Answer:
    kind: Literal["asb", "print_end", "model"]
    asb: Asb | None = None
    token: int = 0  # print_end: the n1 n2 it came back with
    text: str = ""  # model: "TSP143IIIW Ver1.0"


class AnswerReader:
    """Splits what a Star printer sends into answers, however the bytes arrive (an answer
    may come in two reads, or two answers in one). Bytes that start no answer are skipped."""

    def __init__(self) -> None:
        self.pending = bytearray()

    def feed(self, data: bytes) -> Iterator[Answer]:
        self.pending += data
        while self.pending:
            taken = self._one()
            if taken is None:
                return
            length, answer = taken
            del self.pending[:length]
            if answer is not None:
                yield answer

    def _one(self) -> tuple[int, Answer | None] | None:
        """(bytes taken, the answer or None for a skipped byte), or None: wait for more."""
        data = self.pending
        first = data[0]
        if first == ESC:
            if len(data) < 3:
                return None
            if data[1] == GS and data[2] == ETX:
                if len(data) < 8:
                    return None
                return 8, Answer("print_end", token=data[4] | data[5] << 8)
            if data[1:3] == b"#*":
                end = data.find(b"\n\x00", 3)
                if end < 0:
                    return None if len(data) < 256 else (1, None)
                return end + 2, Answer("model", text=bytes(data[3:end]).lstrip(b",").decode("ascii", "replace").strip())
            return 1, None
        if is_asb_header(first):
            length = asb_length(first)
            if len(data) < length:
                return None
            return length, Answer("asb", asb=parse_asb(bytes(data[:length])))
        return 1, None
