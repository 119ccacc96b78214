"""Real-time printer status, read from the printer itself with DLE EOT.

We send DLE EOT 1 (printer), 2 (offline cause) and 4 (roll paper) in one write and read the
three answer bytes, one round trip. python-escpos 3.1's ``is_online()``/``paper_status()``
misread these bytes, hence this module. Every answer byte of DLE EOT has bit 1 and bit 4 set
and bits 0 and 7 clear; anything else is not a status answer and is rejected.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal, Protocol

QUERY = b"\x10\x04\x01\x10\x04\x02\x10\x04\x04"
ANSWER_LENGTH = 3

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

    def as_dict(self) -> dict:
        return {**asdict(self), "ready": self.ready, "problem": self.problem}


def _valid(byte: int) -> bool:
    return byte & 0x93 == 0x12


def parse(answer: bytes) -> PrinterStatus:
    """Decode the three answer bytes of QUERY."""
    if len(answer) != ANSWER_LENGTH or not all(_valid(b) for b in answer):
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


class Readable(Protocol):
    def write(self, data: bytes) -> None: ...
    def read(self, size: int, timeout: float) -> bytes: ...
    def discard_input(self) -> None: ...


def query(link: Readable, timeout: float) -> PrinterStatus:
    """Ask the printer for its status. Stale bytes (a late answer, an ASB message) are
    dropped first so the answer read is the answer to this question."""
    link.discard_input()
    link.write(QUERY)
    return parse(link.read(ANSWER_LENGTH, timeout))
