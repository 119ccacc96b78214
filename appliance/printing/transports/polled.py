"""``cloudprnt://MAC`` (a Star CloudPRNT printer) and ``sdp://ID`` (an Epson printer polling with
Server Direct Print): printers that call the box (printing/polled.py), which never dials them.
This transport only checks the address; their worker offers jobs instead of sending them."""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import SplitResult

from appliance.printing.transports import Transport, TransportError, register

_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
_SDP_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")  # the ID set in the printer's WebConfig, or its address


class PolledLink(Transport):
    def open(self) -> None:
        raise TransportError("this printer calls the box; it is never dialled")

    def write(self, data: bytes, on_input: Callable[[bytes], None] | None = None) -> None:
        raise TransportError("this printer fetches its jobs")

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
    return PolledLink(uri)


@register("sdp")
def _sdp(uri: str, parts: SplitResult, profile: str, width_mm: int) -> Transport:
    if not _SDP_ID.match(uri.removeprefix("sdp://")):
        raise ValueError(f"{uri!r}: a Server Direct Print printer is sdp:// and the ID set in its WebConfig "
                         "(letters, digits, '_', '-', '.'), or its address")
    return PolledLink(uri)
