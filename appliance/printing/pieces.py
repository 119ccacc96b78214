"""What an app printing to a virtual port said, cut into pieces by its language's splitter
(``virtual_ports.Splitter`` for ESC/POS, ``star_splitter.StarSplitter`` for Star's)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal, Protocol

Kind = Literal["job", "realtime", "info", "asb", "in_order", "clear", "overflow"]


@dataclass(frozen=True)
class Piece:
    """A job's bytes, or a question (``n`` its argument, ``data`` the command for in-order
    questions)."""

    kind: Kind
    data: bytes = b""
    n: int = 0


class Bounds(Protocol):
    """The most one receipt from an app may be (``virtual_ports.Limits``)."""

    max_bytes: int
    max_mm: float


@dataclass
class Cutter:
    """What both languages' splitters share: the receipt gathered so far, and how it ends
    (whole, cut short by a lost link, or past the bounds). Each splitter says its marks and
    its cut in its own language."""

    INCOMPLETE: ClassVar[bytes]
    TOO_LONG: ClassVar[bytes]
    CUT: ClassVar[bytes]

    limits: Bounds
    ended: bool = False
    _buffer: bytearray = field(default_factory=bytearray)
    _job: bytearray = field(default_factory=bytearray)
    _prints: bool = False
    _mm: float = 0.0

    def pending(self) -> bytes:
        """What was read and is not yet a job: fed to a new splitter, it gives the same jobs
        (questions taken out, setup kept)."""
        return bytes(self._job) + bytes(self._buffer)

    def _leave(self) -> bytes:
        """What takes the printer out of a mode the receipt so far left it in, where its
        banner and cut would not print (Star's raster mode, Epson's page mode)."""
        return b""

    def _overflow(self) -> list[Piece]:
        """The receipt so far, ended under its banner; nothing more is read."""
        job = bytes(self._job) + self._leave() if self._prints else b""
        self._job.clear()
        self._buffer.clear()
        self._prints, self.ended = False, True
        return [Piece("job", job + self.TOO_LONG + self.CUT), Piece("overflow")]

    def _end(self) -> list[Piece]:
        """The job so far, if it prints anything (setup alone waits for its receipt)."""
        if not self._prints:
            return []
        job = bytes(self._job)
        self._job.clear()
        self._prints, self._mm = False, 0.0
        return [Piece("job", job)]

    def close(self, whole: bool) -> list[Piece]:
        """The connection ended: what was not yet a job becomes one, marked when the link
        was lost rather than closed."""
        leave = self._leave()
        pieces = self._end()
        if pieces and not whole:  # cut after it, or the next receipt goes on the same paper
            return [Piece("job", self.INCOMPLETE + pieces[0].data + leave + self.CUT)]
        return pieces
