"""USB printers (``usb://VID:PID``, hex, as `lsusb` shows them), driven through pyusb on the
printer interface's bulk endpoints. The udev rule systemd/99-comptoir-printers.rules lets the
appliance user open them; the kernel's usblp is detached from the interface while the box
holds it.

Proved against a real USB device (the image test's printer gadget on the dummy controller),
which showed what a library's one-call ``open`` hides:
- no USB reset and no new configuration when the device is already configured (python-escpos
  does both on every open; a reset between jobs is a needless re-enumeration);
- answers are read a whole packet at a time (a bulk IN read shorter than the packet the printer
  sends overflows), the rest kept for the next read; libusb's timeout 0 means "forever", so a
  read that must not wait asks for 1 ms;
- writes go in pieces with a short timeout, so the printer's answers are read while its buffer
  is full (pyusb reports what a timed-out transfer did send), and a printer that takes nothing
  is waited for as on the network (stream.STALL_LIMIT), not dropped after one timeout.

Hot-plug: an unplugged printer makes the next write or read fail; the worker closes the link
and retries with its backoff, and once the printer is plugged back the queue resumes (the
interrupted job whole, marked REPRINT).
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable
from urllib.parse import SplitResult

from appliance.printing.transports import Transport, TransportError, register
from appliance.printing.transports.stream import STALL_LIMIT

ID = re.compile(r"^[0-9a-fA-F]{4}:[0-9a-fA-F]{4}$")
PRINTER_CLASS = 7
PIECE = 4096  # bytes a write transfer
WRITE_TIMEOUT_MS = 500  # then the answers are read, and the write goes on


class UsbTransport(Transport):
    def __init__(self, uri: str, vendor: int, product: int) -> None:
        super().__init__(uri)
        self.vendor, self.product = vendor, product
        self._device = None
        self._interface: int | None = None
        self._out = self._in = None
        self._pending = b""  # answers read with a packet, not yet asked for
        self.stalled_since: float | None = None

    @property
    def is_open(self) -> bool:
        return self._device is not None

    def open(self) -> None:
        if self._device is not None:
            return
        try:
            import usb.core
            import usb.util
        except ImportError as exc:
            raise TransportError(f"USB printing needs pyusb: {exc}") from exc
        name = f"{self.vendor:04x}:{self.product:04x}"
        try:
            device = usb.core.find(idVendor=self.vendor, idProduct=self.product)
        except usb.core.NoBackendError as exc:
            raise TransportError(f"USB printing needs libusb-1.0: {exc}") from exc
        if device is None:
            raise TransportError(f"USB printer {name} is not plugged in")
        try:
            try:
                config = device.get_active_configuration()
            except usb.core.USBError:  # not configured yet (the kernel usually does it at plug-in)
                device.set_configuration()
                config = device.get_active_configuration()
            interfaces = list(config)
            interface = next((i for i in interfaces if i.bInterfaceClass == PRINTER_CLASS), interfaces[0])
            number = interface.bInterfaceNumber
            if device.is_kernel_driver_active(number):
                device.detach_kernel_driver(number)
            usb.util.claim_interface(device, number)
        except (usb.core.USBError, NotImplementedError, IndexError) as exc:
            usb.util.dispose_resources(device)
            raise TransportError(f"USB printer {name} is not usable: {str(exc).strip()}") from exc

        def bulk(direction: int):
            return usb.util.find_descriptor(interface, custom_match=lambda e: (
                usb.util.endpoint_direction(e.bEndpointAddress) == direction
                and usb.util.endpoint_type(e.bmAttributes) == usb.util.ENDPOINT_TYPE_BULK))

        self._out, self._in = bulk(usb.util.ENDPOINT_OUT), bulk(usb.util.ENDPOINT_IN)
        if self._out is None:
            usb.util.dispose_resources(device)
            raise TransportError(f"USB device {name} has no bulk output endpoint: not a printer?")
        self._device, self._interface, self._pending = device, number, b""

    def _fail(self, what: str, exc: Exception) -> TransportError:
        self.close()
        return TransportError(f"USB {what} failed (unplugged?): {str(exc).strip()}")

    def write(self, data: bytes, on_input: Callable[[bytes], None] | None = None) -> None:
        if self._device is None:
            raise TransportError("not connected")
        import usb.core

        view = memoryview(data)
        progress = time.monotonic()
        try:
            while view:
                try:
                    sent = self._out.write(view[:PIECE], WRITE_TIMEOUT_MS)
                except usb.core.USBTimeoutError:
                    sent = 0
                if sent:
                    view, progress, self.stalled_since = view[sent:], time.monotonic(), None
                elif time.monotonic() - progress > STALL_LIMIT:
                    raise self._fail("write", TimeoutError(f"the printer took no data for {STALL_LIMIT:.0f} s"))
                else:
                    self.stalled_since = self.stalled_since or progress
                if on_input is not None and self._in is not None:
                    answers = self.read(4096, 0)
                    if answers:
                        on_input(answers)
        except TransportError:
            raise
        except Exception as exc:  # pyusb raises USBError, or OSError-like errors from the backend
            raise self._fail("write", exc) from exc
        finally:
            self.stalled_since = None

    def read(self, size: int, timeout: float) -> bytes:
        if self._device is None:
            raise TransportError("not connected")
        if self._in is None:
            return b""
        if not self._pending:
            import usb.core

            packet = self._in.wMaxPacketSize or 64
            try:  # whole packets, or the printer's answer overflows the read
                self._pending = bytes(self._in.read(max(packet, -(-size // packet) * packet),
                                                    max(1, int(timeout * 1000))))
            except usb.core.USBTimeoutError:
                return b""
            except Exception as exc:
                raise self._fail("read", exc) from exc
        got, self._pending = self._pending[:size], self._pending[size:]
        return got

    def discard_input(self) -> None:
        while self.read(4096, 0):
            pass

    def close(self) -> None:
        device, self._device = self._device, None
        self._pending = b""
        if device is not None:
            import usb.util

            with contextlib.suppress(Exception):  # already gone with the cable
                usb.util.release_interface(device, self._interface)
            with contextlib.suppress(Exception):
                usb.util.dispose_resources(device)


@register("usb")
def _from_uri(uri: str, parts: SplitResult, profile: str, width_mm: int) -> Transport:
    ids = parts.netloc or parts.path
    if not ID.match(ids):
        raise ValueError(f"usb:// needs vendor and product ids in hex, like usb://04b8:0e15 (got {uri!r})")
    vendor, product = (int(x, 16) for x in ids.split(":"))
    return UsbTransport(uri, vendor, product)
