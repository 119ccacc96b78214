"""The TLS context of the box's own certificate (certs.py), made again when the background
process renews the files: the web server's TLS ports and the exposed printers' own ports wrap
their connections with it, without a restart."""

from __future__ import annotations

import ssl
import time
from pathlib import Path

from appliance.system import certs


class Tls:
    """Looks at the files no more than every CHECK_EVERY seconds."""

    CHECK_EVERY = 10.0

    def __init__(self, data_dir: Path) -> None:
        self.where = certs.paths(data_dir)
        self._context: ssl.SSLContext | None = None
        self._stamp: tuple[float, float] | None = None
        self._checked = 0.0

    def context(self) -> ssl.SSLContext:
        if self._context is None or time.monotonic() - self._checked > self.CHECK_EVERY:
            self._checked = time.monotonic()
            stamp = (self.where.cert.stat().st_mtime, self.where.key.stat().st_mtime)
            if stamp != self._stamp:
                context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
                context.minimum_version = ssl.TLSVersion.TLSv1_2
                context.load_cert_chain(self.where.cert, self.where.key)
                self._context, self._stamp = context, stamp
        assert self._context is not None
        return self._context
