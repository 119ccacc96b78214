"""What the tests' printers that call the box share (cloudprnt_printer.py, sdp_printer.py): a
thread that polls every ``every`` seconds until stopped, an engine that prints what they get,
and a box that may be restarting meanwhile (a failed poll is tried again at the next)."""

from __future__ import annotations

import threading


class PollingPrinter:
    def __init__(self, engine, name: str, every: float) -> None:
        self.engine, self.every = engine, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name=name)

    def start(self):
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    @property
    def receipts(self):
        return self.engine.receipts

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self._once()
            except OSError:
                continue  # the box restarting: try again at the next poll

    def _once(self) -> None:
        raise NotImplementedError
