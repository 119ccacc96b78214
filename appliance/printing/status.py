"""What a printer says back, and the requests that make it speak.

Two kinds of request, and the difference is the whole point of "printed":

- Real-time (DLE EOT): the printer answers the moment the bytes arrive, ahead of whatever
  its buffer still holds. It tells whether the printer can print now (online, paper,
  cover), never whether a receipt reached the paper. We send DLE EOT 1, 2 and 4 in one
  write and read three bytes. python-escpos 3.1's ``is_online()``/``paper_status()``
  misread them, hence this module.
- In order: the printer answers when its engine reaches the request, so an answer that
  follows a receipt proves the receipt is on paper. GS ( H fn 48 carries a process ID of
  our choosing (Epson TM series and many compatibles); GS r 1 (paper sensor status) is
  understood by nearly every ESC/POS printer but carries no ID, so its answers confirm
  jobs in the order they were sent.

The answers share one byte stream and are told apart by their shape (Epson's "identifying
transmission data"): DLE EOT bytes are 0xx1xx10, GS r bytes 0xx0xx00, a process ID
response is 37h 22h d1 d2 d3 d4 00h, GS I text answers are 5Fh ... 00h.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

QUERY = b"\x10\x04\x01\x10\x04\x02\x10\x04\x04"
ANSWER_LENGTH = 3
PAPER_STATUS_REQUEST = b"\x1dr\x01"  # GS r 1
IDENTITY_REQUEST = b"\x1dIB\x1dIC"  # GS I 66, GS I 67: maker, then model
_PROCESS_ID_HEAD = b"\x1d(H\x06\x00\x30\x30"  # GS ( H pL pH fn=48 m=48, then d1..d4
_PROCESS_ID_ANSWER = b"\x37\x22"

Paper = Literal["ok", "near_end", "out"]


class StatusError(Exception):
    """The printer did not answer, or answered something that is not a status."""


@dataclass(frozen=True)
class PrinterStatus:
    online: bool  # it answered and is not in its offline state
    paper: Paper
    cover_open: bool
    error: bool  # cutter jam, head too hot... (DLE EOT 2, bit 6)

    @property
    def ready(self) -> bool:
        return self.online and self.paper != "out" and not self.cover_open and not self.error

    @property
    def problem(self) -> str | None:
        """What a person at the counter must fix, in their words."""
        if self.cover_open:
            return "cover open"
        if self.paper == "out":
            return "out of paper"
        if self.error:
            return "printer error (cutter or head)"
        if not self.online:
            return "printer offline"
        return None


def is_realtime_answer(byte: int) -> bool:
    return byte & 0x93 == 0x12


def parse(answer: bytes) -> PrinterStatus:
    """Decode the three answer bytes of QUERY."""
    if len(answer) != ANSWER_LENGTH or not all(is_realtime_answer(b) for b in answer):
        raise StatusError(f"not a status answer: {answer.hex(' ') or 'nothing'}")
    printer, offline, paper = answer
    if paper & 0x60:
        roll: Paper = "out"
    elif paper & 0x0C:
        roll = "near_end"
    else:
        roll = "ok"
    return PrinterStatus(
        online=not printer & 0x08,
        paper="out" if offline & 0x20 else roll,
        cover_open=bool(offline & 0x04),
        error=bool(offline & 0x40),
    )


def encode(status: PrinterStatus) -> bytes:
    """The answer a printer in ``status`` gives to QUERY (for emulated printers)."""
    offline = not status.ready
    printer = 0x12 | (0x08 if offline else 0)
    cause = 0x12 | (0x04 if status.cover_open else 0) | (0x20 if status.paper == "out" else 0) \
        | (0x40 if status.error else 0)
    paper = 0x12 | {"ok": 0, "near_end": 0x0C, "out": 0x6C}[status.paper]
    return bytes((printer, cause, paper))


def realtime_answer(status: PrinterStatus, n: int) -> int:
    """The byte a printer in ``status`` answers to DLE EOT n (for emulated printers)."""
    printer, cause, paper = encode(status)
    return {1: printer, 2: cause, 4: paper}.get(n, 0x12)


def paper_status_byte(status: PrinterStatus) -> int:
    """The byte a printer answers to GS r 1 (bit 4 clear, unlike every DLE EOT answer)."""
    return 0x03 if status.paper == "near_end" else 0x00


def process_id_request(pid: str) -> bytes:
    """GS ( H fn 48: "tell me ``pid`` once everything before this is printed"."""
    data = pid.encode("ascii")
    if len(data) != 4 or not all(0x20 <= b <= 0x7E for b in data):
        raise ValueError(f"a process ID is 4 printable ASCII characters: {pid!r}")
    return _PROCESS_ID_HEAD + data


def process_id_response(data: bytes) -> bytes:
    """What a printer sends back for a process ID (for emulated printers)."""
    return _PROCESS_ID_ANSWER + bytes(data) + b"\x00"


# -- telling the answers apart ----------------------------------------------------------------

Kind = Literal["realtime", "paper", "process_id", "info"]


@dataclass(frozen=True)
class Answer:
    kind: Kind
    byte: int = 0  # realtime, paper
    text: str = ""  # process_id, info


class AnswerReader:
    """Sorts a printer's answer stream into answers. Bytes that fit no known shape (an Auto
    Status Back message, line noise) are dropped one at a time; a message cut across two
    reads waits for its end."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> Iterator[Answer]:
        self._buffer += data
        buf = self._buffer
        i = 0
        while i < len(buf):
            byte = buf[i]
            if byte in (0x37, 0x5F):  # header ... NUL messages
                end = buf.find(b"\x00", i + 1)
                if end < 0:
                    if len(buf) - i > 80:  # not a message after all
                        i += 1
                        continue
                    break
                body = bytes(buf[i + 1:end])
                if byte == 0x37 and len(body) == 5 and body[0] == 0x22:
                    yield Answer("process_id", text=body[1:].decode("ascii", "replace"))
                elif byte == 0x5F:
                    yield Answer("info", text=body.decode("latin-1"))
                i = end + 1
            elif is_realtime_answer(byte):
                yield Answer("realtime", byte)
                i += 1
            elif byte & 0x90 == 0:
                yield Answer("paper", byte)
                i += 1
            else:
                i += 1
        del buf[:i]
