"""How the driver speaks to a printer of each family, so that ``driver.py`` holds one
conversation for all of them: the real-time status question, the in-order question that
names a job (Epson's GS ( H process ID, Star's ESC GS ETX print-end counter), the one that
names none (Epson's GS r, Star's ETB), who the printer is, what a job sends, and how the
answers read. ``Reader``s turn each family's answer bytes into the same ``Reading``s.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from appliance.printing import languages, render, star, star_render
from appliance.printing import status as printer_status

# Star's models, by what ``ESC # *`` answers, and the language each speaks best.
_STAR_MODELS = ((re.compile(r"^(TSP1\d\dIV|MCP|MC-?PRINT|SM-|MPOP|MCL|TSP100IV)", re.I), "starprnt"),
                (re.compile(r"^(TSP1\d\d|TSP143|FVP10)", re.I), "star-graphic"),
                (re.compile(r"^(TSP[4-9]\d\d|TUP|SP7|HSP)", re.I), "star-line"))


def star_language(model: str | None, current: str) -> str:
    """The Star language for a model (``TSP143IIIW Ver1.0``: star-graphic); a model the box
    does not know keeps a Star language it was given, else raster (every Star printer takes it)."""
    for pattern, language in _STAR_MODELS:
        if model and pattern.match(model.strip()):
            return language
    return current if current in languages.STAR else "star-graphic"


@dataclass(frozen=True)
class Reading:
    kind: Literal["status", "confirmed", "paper", "info"]
    status: printer_status.PrinterStatus | None = None  # status
    token: str = ""  # confirmed: the job's token it came back with
    text: str = ""  # info: the maker, then the model


class EscposReader:
    """Epson's answers: three DLE EOT bytes make a status."""

    def __init__(self) -> None:
        self._answers = printer_status.AnswerReader()
        self._realtime = bytearray()

    def asked(self) -> None:
        """A new status question is out: a half answer to an older one is stale."""
        self._realtime.clear()

    def feed(self, data: bytes) -> Iterator[Reading]:
        for answer in self._answers.feed(data):
            if answer.kind == "realtime":
                self._realtime.append(answer.byte)
                if len(self._realtime) == printer_status.ANSWER_LENGTH:
                    yield Reading("status", printer_status.parse(bytes(self._realtime)))
                    self._realtime.clear()
            elif answer.kind == "process_id":
                yield Reading("confirmed", token=answer.text)
            elif answer.kind == "paper":
                yield Reading("paper")
            elif answer.kind == "info":
                yield Reading("info", text=answer.text)


class StarReader:
    """Star's answers: each ASB is a status, and each step of its ETB counter a job that
    reached the paper (ETB confirms in order, naming no job)."""

    def __init__(self) -> None:
        self._answers = star.AnswerReader()
        self._etb: int | None = None

    def asked(self) -> None:
        pass  # an ASB comes whole

    def feed(self, data: bytes) -> Iterator[Reading]:
        for answer in self._answers.feed(data):
            if answer.kind == "asb" and answer.asb is not None:
                asb = answer.asb
                yield Reading("status", printer_status.PrinterStatus(asb.online, asb.paper, asb.cover_open, asb.error))
                if asb.etb is not None:
                    steps = 0 if self._etb is None else (asb.etb - self._etb) % 32
                    self._etb = asb.etb
                    for _ in range(steps):
                        yield Reading("paper")
            elif answer.kind == "print_end":
                yield Reading("confirmed", token=str(answer.token))
            elif answer.kind == "model":
                yield Reading("info", text="Star")
                yield Reading("info", text=answer.text)


@dataclass(frozen=True)
class Dialect:
    family: Literal["escpos", "star"]
    status_request: bytes
    # Sent after a job when the printer names no job: its answer (Epson's GS r) or the step of
    # its ETB counter the next status shows (Star) confirms the oldest job in its hands.
    paper_request: bytes
    identity_request: bytes

    def reader(self) -> EscposReader | StarReader:
        return EscposReader() if self.family == languages.ESCPOS else StarReader()

    def token(self, n: int) -> str:
        """The ``n``-th job's name in the in-order question."""
        if self.family == languages.ESCPOS:
            n %= 95 ** 4
            return "".join(chr(32 + (n // 95 ** k) % 95) for k in range(4))
        return str(n % 65536)

    def in_order_request(self, token: str) -> bytes:
        """Answered with ``token`` once everything before it is on paper."""
        if self.family == languages.ESCPOS:
            return printer_status.process_id_request(token)
        return star.print_end_request(int(token))


EPSON = Dialect(languages.ESCPOS, printer_status.QUERY, printer_status.PAPER_STATUS_REQUEST,
                printer_status.IDENTITY_REQUEST)
STAR = Dialect("star", star.STATUS_REQUEST, star.ETB_REQUEST, star.MODEL_REQUEST)


def for_language(language: str) -> Dialect:
    return STAR if languages.family(language) == "star" else EPSON


def compose(payload: bytes, language: str, *, copies: int, drawer: bool, reprint: bool, profile: str,
            moved_from: str | None) -> list[bytes]:
    """Everything one job sends, in the printer's language (``payload`` is in it already)."""
    if languages.family(language) == "star":
        return star_render.compose(payload, copies=copies, drawer=drawer, reprint=reprint, language=language,
                                   moved_from=moved_from)
    return render.compose(payload, copies=copies, drawer=drawer, reprint=reprint, profile=profile,
                          moved_from=moved_from)
