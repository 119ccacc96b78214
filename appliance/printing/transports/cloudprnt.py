"""``cloudprnt://MAC``: a Star CloudPRNT printer. It calls the box (``printing/cloudprnt.py``),
the box never dials it: this transport only checks the address, and its worker offers jobs
instead of sending them."""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import SplitResult

from appliance.printing.transports import Transport, TransportError, register

_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")


class CloudprntLink(Transport):
    def open(self) -> None:
        raise TransportError("a CloudPRNT printer calls the box; it is never dialled")

    def write(self, data: bytes, on_input: Callable[[bytes], None] | None = None) -> None:
        raise TransportError("a CloudPRNT printer fetches its jobs")

    def read(self, size: int, timeout: float) -> bytes:
        return b""

    def discard_input(self) -> None:
        pass

    def close(self) -> None:
        pass

    @property
    def is_open(self) -> bool:
        return False


@register("cloudprnt")
def _cloudprnt(uri: str, parts: SplitResult, profile: str, width_mm: int) -> Transport:
    if not _MAC.match(uri.removeprefix("cloudprnt://")):
        raise ValueError(f"{uri!r}: a CloudPRNT printer is cloudprnt:// and its MAC, lowercase (cloudprnt://00:11:62:1a:2b:3c)")
    return CloudprntLink(uri)
