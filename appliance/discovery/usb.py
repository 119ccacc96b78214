"""USB printers on the box's own ports: what the printer search lists first, and what a new
box adopts first (a printer plugged into the box is the shop's for sure).

Read from sysfs, not through libusb: the search runs in the background service, whose unit
has ``PrivateDevices=yes`` (no /dev/bus/usb, where libusb refuses to start), and sysfs also
carries the model a printer announces (its ``product`` string) without opening it.
Only the print workers open the device (transports/usb.py).
"""

from __future__ import annotations

from pathlib import Path

SYSFS = Path("/sys/bus/usb/devices")
PRINTER_CLASS = "07"


def _read(path: Path) -> str | None:
    try:
        return path.read_text(errors="replace").strip() or None
    except OSError:  # not there, or the device went away while it was read
        return None


def printers(root: Path = SYSFS) -> list[dict]:
    """USB devices with a printer interface (class 7), as ``usb://VID:PID``, with the model
    they announce (e.g. "TM-T20II"), in bus order."""
    found = []
    for device in sorted(root.glob("[0-9]*-*[0-9]")) if root.is_dir() else []:
        if ":" in device.name:  # an interface, not a device
            continue
        interfaces = device.glob(f"{device.name}:*/bInterfaceClass")
        if not any(_read(i) == PRINTER_CLASS for i in interfaces):
            continue
        vendor, product = _read(device / "idVendor"), _read(device / "idProduct")
        if not vendor or not product:
            continue
        model = _read(device / "product")
        found.append({"name": model or "usb", "model": model, "uri": f"usb://{vendor}:{product}", "how": "USB"})
    return found
