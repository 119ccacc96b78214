"""``file://PATH`` printers.

- PATH is a directory (``?speed=MM_PER_S`` optional, 0 for instant): the built-in emulated
  printer, a ``EmulatedPrinter`` that behaves like a real one (buffer, speed, real-time and
  in-order answers) and writes each cut receipt into the directory as ``.txt`` (what the
  paper says), ``.png`` (what it looks like) and ``.bin`` (the receipt's exact bytes).
- PATH is anything else (``/dev/usb/lp0``, a plain file): the bytes are appended to it. Such
  a link cannot carry answers, so a job counts as printed once it is written.
"""

from __future__ import annotations

import itertools
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import SplitResult, parse_qs, unquote

from appliance.printing.emulated.engine import Receipt
from appliance.printing.emulated.printer import EmulatedPrinter
from appliance.printing.preview import render_png
from appliance.printing.transports import Transport, TransportError, register
from appliance.printing.transports.stream import SocketTransport

log = logging.getLogger(__name__)

# About 0.5 s for a 30-line receipt, as a real thermal printer: the first try of the box
# shows what a rush looks like.
EMULATED_SPEED = 225.0


class EmulatedTransport(SocketTransport):
    """The link to a ``EmulatedPrinter`` living in this process, over a socket pair: the
    worker talks to it exactly as to a network printer (buffer, speed, answers). Its power
    is this process's: a crash loses its buffer as a power cut would."""

    def __init__(self, uri: str, directory: Path, profile: str = "default", columns: int = 48,
                 speed_mm_s: float | None = EMULATED_SPEED) -> None:
        super().__init__(uri)
        self.directory = directory
        self.dots = 576 if columns == 48 else 384
        self.columns = columns
        self.printer = EmulatedPrinter(profile=profile, columns=columns, speed_mm_s=speed_mm_s,
                                      on_receipt=self._save)
        self._numbers = itertools.count(1)

    def dial(self) -> socket.socket:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise TransportError(f"cannot use {self.directory}: {exc}") from exc
        ours, theirs = socket.socketpair()
        threading.Thread(target=self.printer.serve, args=(theirs,), daemon=True, name="emulated-printer").start()
        return ours

    def _save(self, receipt: Receipt) -> None:
        stem = self.directory / f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{next(self._numbers):04d}"
        try:
            stem.with_suffix(".bin").write_bytes(receipt.raw)
            try:
                stem.with_suffix(".png").write_bytes(render_png(receipt, self.dots, self.columns))
            except (OSError, ValueError) as exc:  # a picture is a nicety: the receipt itself is saved
                log.warning("no preview for %s: %s", stem.name, exc)
            # Written last and renamed into place: a .txt that exists is complete.
            partial = stem.with_suffix(".txt.part")
            partial.write_text(receipt.text, encoding="utf-8")
            partial.rename(stem.with_suffix(".txt"))
        except OSError as exc:  # the paper ran out, in a way: the receipt is not kept
            log.error("emulated printer: cannot save %s: %s", stem.name, exc)


class DeviceFileTransport(Transport):
    answers_status = False

    def __init__(self, uri: str, path: Path) -> None:
        super().__init__(uri)
        self.path = path
        self._fd: int | None = None

    @property
    def is_open(self) -> bool:
        return self._fd is not None

    def open(self) -> None:
        if self._fd is None:
            try:
                self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            except OSError as exc:
                raise TransportError(f"cannot open {self.path}: {exc}") from exc

    def write(self, data: bytes, on_input: Callable[[bytes], None] | None = None) -> None:
        if self._fd is None:
            raise TransportError("not open")
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view):]
            if self.path.is_file():
                os.fsync(self._fd)
        except OSError as exc:
            self.close()
            raise TransportError(f"write to {self.path} failed: {exc}") from exc

    def read(self, size: int, timeout: float) -> bytes:
        return b""

    def discard_input(self) -> None:
        pass

    def close(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)


@register("file")
def _from_uri(uri: str, parts: SplitResult, profile: str, width_mm: int) -> Transport:
    path = Path(unquote(parts.netloc + parts.path))
    if not path.is_absolute():
        raise ValueError(f"file printer URI needs an absolute path (file:///...): {uri!r}")
    if path.is_dir() or uri.endswith("/") or (not path.exists() and not path.suffix):
        query = parse_qs(parts.query)
        try:
            speed = float(query["speed"][0]) if "speed" in query else EMULATED_SPEED
        except ValueError as exc:
            raise ValueError(f"speed in {uri!r} is in mm/s, 0 for instant") from exc
        return EmulatedTransport(uri, path, profile=profile, columns=48 if width_mm == 80 else 32,
                                 speed_mm_s=speed or None)
    return DeviceFileTransport(uri, path)
