"""``file://PATH`` printers.

- PATH is a directory: the built-in emulated printer. It interprets the bytes like a real
  ESC/POS printer, answers status requests, and writes each cut receipt into the directory
  as ``.txt`` (what the paper says), ``.png`` (what it looks like) and ``.bin`` (the exact
  bytes).
- PATH is anything else (``/dev/usb/lp0``, a plain file): the bytes are appended to it. Such
  a link cannot carry answers, so a job counts as printed once it is written.
"""

from __future__ import annotations

import itertools
import logging
import os
import time
from pathlib import Path
from urllib.parse import SplitResult, unquote

from appliance.printing.emulator import Emulator, Receipt
from appliance.printing.preview import render_png
from appliance.printing.transports import Transport, TransportError, register

log = logging.getLogger(__name__)


class EmulatedTransport(Transport):
    def __init__(self, uri: str, directory: Path, profile: str = "default", columns: int = 48) -> None:
        super().__init__(uri)
        self.directory = directory
        self.dots = 576 if columns == 48 else 384
        self.emulator = Emulator(profile=profile, columns=columns, on_receipt=self._save)
        self._open = False
        self._numbers = itertools.count(1)

    @property
    def is_open(self) -> bool:
        return self._open

    def open(self) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise TransportError(f"cannot use {self.directory}: {exc}") from exc
        self._open = True

    def _save(self, receipt: Receipt) -> None:
        stem = self.directory / f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{next(self._numbers):04d}"
        stem.with_suffix(".bin").write_bytes(receipt.raw)
        try:
            stem.with_suffix(".png").write_bytes(render_png(receipt, self.dots, self.emulator.columns))
        except (OSError, ValueError) as exc:  # a picture is a nicety: the receipt itself is saved
            log.warning("no preview for %s: %s", stem.name, exc)
        # Written last and renamed into place: a .txt that exists is complete.
        partial = stem.with_suffix(".txt.part")
        partial.write_text(receipt.text, encoding="utf-8")
        partial.rename(stem.with_suffix(".txt"))

    def write(self, data: bytes) -> None:
        if not self._open:
            raise TransportError("not connected")
        self.emulator.feed(data)

    def read(self, size: int, timeout: float) -> bytes:
        return self.emulator.take_answers()[:size]

    def discard_input(self) -> None:
        self.emulator.take_answers()

    def close(self) -> None:
        if self._open:
            self.emulator.flush()
        self._open = False


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

    def write(self, data: bytes) -> None:
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
        return EmulatedTransport(uri, path, profile=profile, columns=48 if width_mm == 80 else 32)
    return DeviceFileTransport(uri, path)
