"""USB printers (``usb://VID:PID``, hex, as `lsusb` shows them) through python-escpos and
pyusb. The udev rule systemd/99-comptoir-printers.rules lets the appliance user open them.

Hot-plug: an unplugged printer makes the next send or status read fail; the worker closes the
link and retries with its backoff, and once the printer is plugged back the search finds it
again and the queue resumes (the interrupted job whole, marked REPRINT).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from urllib.parse import SplitResult

from appliance.printing.transports import Transport, TransportError, register

ID = re.compile(r"^[0-9a-fA-F]{4}:[0-9a-fA-F]{4}$")
TIMEOUT_MS = 20_000


class UsbTransport(Transport):
    def __init__(self, uri: str, vendor: int, product: int) -> None:
        super().__init__(uri)
        self.vendor, self.product = vendor, product
        self._printer = None
        self._out = self._in = None

    @property
    def is_open(self) -> bool:
        return self._printer is not None

    def open(self) -> None:
        if self._printer is not None:
            return
        try:
            import usb.core
            import usb.util
            from escpos.exceptions import DeviceNotFoundError
            from escpos.printer import Usb
        except ImportError as exc:
            raise TransportError(f"USB printing needs pyusb: {exc}") from exc
        printer = Usb(self.vendor, self.product, timeout=TIMEOUT_MS)
        try:
            printer.open()  # finds the device, detaches the kernel's usblp, configures it
            interface = printer.device.get_active_configuration()[(0, 0)]
        except (DeviceNotFoundError, usb.core.USBError, usb.core.NoBackendError, ValueError) as exc:
            raise TransportError(f"USB printer {self.vendor:04x}:{self.product:04x} not found or not "
                                 f"usable: {str(exc).strip()}") from exc

        def bulk(direction: int):
            return usb.util.find_descriptor(interface, custom_match=lambda e: (
                usb.util.endpoint_direction(e.bEndpointAddress) == direction
                and usb.util.endpoint_type(e.bmAttributes) == usb.util.ENDPOINT_TYPE_BULK))

        self._out, self._in = bulk(usb.util.ENDPOINT_OUT), bulk(usb.util.ENDPOINT_IN)
        if self._out is None:
            raise TransportError("this USB device has no bulk output endpoint: not a printer?")
        self._printer = printer

    def _fail(self, what: str, exc: Exception) -> TransportError:
        self.close()
        return TransportError(f"USB {what} failed (unplugged?): {exc}")

    def write(self, data: bytes, on_input: Callable[[bytes], None] | None = None) -> None:
        if self._printer is None:
            raise TransportError("not connected")
        try:
            self._out.write(data, TIMEOUT_MS)
        except Exception as exc:  # pyusb raises USBError, or OSError-like errors from the backend
            raise self._fail("write", exc) from exc

    def read(self, size: int, timeout: float) -> bytes:
        if self._printer is None:
            raise TransportError("not connected")
        if self._in is None:
            return b""
        import usb.core

        try:
            return bytes(self._in.read(size, int(timeout * 1000)))
        except usb.core.USBTimeoutError:
            return b""
        except Exception as exc:
            raise self._fail("read", exc) from exc

    def discard_input(self) -> None:
        while self.read(64, 0.01):
            pass

    def close(self) -> None:
        printer, self._printer = self._printer, None
        if printer is not None:
            with contextlib.suppress(Exception):  # already gone with the cable
                printer.close()


@register("usb")
def _from_uri(uri: str, parts: SplitResult, profile: str, width_mm: int) -> Transport:
    ids = parts.netloc or parts.path
    if not ID.match(ids):
        raise ValueError(f"usb:// needs vendor and product ids in hex, like usb://04b8:0e15 (got {uri!r})")
    vendor, product = (int(x, 16) for x in ids.split(":"))
    return UsbTransport(uri, vendor, product)
