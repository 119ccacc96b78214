"""A Star app's byte stream, cut into jobs and questions as it arrives (the virtual ports'
``Splitter`` for apps that speak Star: Line Mode, StarPRNT or raster). Pure: no I/O.

- a job ends at Star's cut (``ESC d n``), at the end of a raster page (``ESC FF`` or ``ESC * r
  B`` after dot rows), or when the app closes the connection;
- questions: ``ESC ACK SOH`` (real time: the ASB, now), ``ETB`` and ``ESC GS ETX 1 n1 n2`` (in
  order: answered once every job before them is on paper), ``ESC # *`` (the model), ``ESC RS
  a n`` (ASB sent by itself, on or off), ``ESC RS E n`` (the ETB counter back to 0).

The bounds are the ESC/POS splitter's (``virtual_ports.Limits``): bytes, and paper counted
as the stream goes (text lines, feeds, dot rows, bit images).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from appliance.printing import star
from appliance.printing.commands import DOTS_PER_MM, LINE_MM
from appliance.printing.pieces import Cutter, Piece

ESC, LF, ETB = 0x1B, 0x0A, 0x17
_BANNER = star.RASTER_END + b"\x1b@\x1bE\x1bi\x01\x01*** INCOMPLET / INCOMPLETE ***\x1bi\x00\x00\x1bF\n"
INCOMPLETE = _BANNER + b"(link lost / liaison perdue)\n"
TOO_LONG = b"\n" + _BANNER + b"(too long / trop long)\n"
CUT = b"\x1bd\x03"


@dataclass
class StarSplitter(Cutter):
    """As ``virtual_ports.Splitter``, for Star's languages; yields the same ``Piece``s."""

    INCOMPLETE: ClassVar[bytes] = INCOMPLETE
    TOO_LONG: ClassVar[bytes] = TOO_LONG
    CUT: ClassVar[bytes] = CUT

    _raster: bool = False
    _rows: int = 0  # dot rows of the raster page so far

    def _leave(self) -> bytes:
        return star.RASTER_END if self._raster else b""

    def feed(self, data: bytes) -> list[Piece]:
        if self.ended:
            return []
        self._buffer += data
        buf, i, pieces = self._buffer, 0, []
        while i < len(buf):
            size = star.length(buf, i, raster=self._raster)
            if size is None:
                if len(self._job) + len(buf) - i > self.limits.max_bytes:
                    return pieces + self._overflow()
                break
            cmd = bytes(buf[i:i + size])
            i += size
            pieces += self._command(cmd)
            if len(self._job) > self.limits.max_bytes or self._mm > self.limits.max_mm:
                return pieces + self._overflow()
        del buf[:i]
        return pieces

    def _command(self, cmd: bytes) -> list[Piece]:
        b = cmd[0]
        if b == ETB:
            return [*self._end(), Piece("in_order", data=cmd)]
        if b == ESC and len(cmd) >= 3:
            code, arg = cmd[1], cmd[2]
            if cmd == star.STATUS_REQUEST:
                return [Piece("realtime")]
            if code == ord("#"):
                return [Piece("info")]
            if code == star.RS and len(cmd) == 4 and arg in (ord("a"), ord("E")):
                return [Piece("asb", n=cmd[3] & 1) if arg == ord("a") else Piece("clear")]
            if code == star.GS and arg == star.ETX:
                return [*self._end(), Piece("in_order", data=cmd)] if cmd[3] == 1 else []
        self._job += cmd
        if b == LF and not self._raster:
            self._mm += LINE_MM
        elif b >= 0x20 and b != ESC and not self._raster:
            self._prints = True
        elif self._raster and b in (ord("b"), ord("k")):
            self._prints, self._rows = True, self._rows + 1
            self._mm += 1 / DOTS_PER_MM
        elif b == ESC and len(cmd) >= 2:
            return self._esc(cmd)
        return []

    def _esc(self, cmd: bytes) -> list[Piece]:
        code = cmd[1]
        if code == ord("*") and len(cmd) >= 4 and cmd[2] == ord("r"):
            if cmd[3] == ord("A"):
                self._raster, self._rows = True, 0
            elif cmd[3] == ord("B"):
                self._raster = False
                if self._rows:
                    return self._end()
        elif (code == 0x0C and self._raster and self._rows) or code == ord("d"):  # a page's end (ESC FF), a cut
            return self._end()
        elif code == ord("a") and len(cmd) >= 3:
            self._mm += cmd[2] * LINE_MM
        elif code in (ord("X"), ord("b")) or (code == star.GS and cmd[2:4] == b"yP"):
            self._prints = True
            self._mm += 3.0 if code == ord("X") else 10.0
        return []

    def _end(self) -> list[Piece]:
        self._rows = 0
        return super()._end()
