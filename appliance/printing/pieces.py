"""What an app printing to a virtual port said, cut into pieces by its language's splitter
(``virtual_ports.Splitter`` for ESC/POS, ``star_splitter.StarSplitter`` for Star's)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["job", "realtime", "info", "asb", "in_order", "clear", "overflow"]


@dataclass(frozen=True)
class Piece:
    """A job's bytes, or a question (``n`` its argument, ``data`` the command for in-order
    questions)."""

    kind: Kind
    data: bytes = b""
    n: int = 0
