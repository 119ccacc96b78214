"""USB printers on the box's own ports: what the printer search lists first, and what a new
box adopts first (a printer plugged into the box is the shop's for sure)."""

from __future__ import annotations


def printers() -> list[dict]:
    """USB devices with a printer interface (class 7), as ``usb://VID:PID``."""
    try:
        import usb.core

        devices = list(usb.core.find(find_all=True))
    except Exception:  # no libusb, no USB bus (a test machine): nothing found
        return []
    found = []
    for device in devices:
        try:
            printing = any(interface.bInterfaceClass == 7 for config in device for interface in config)
        except Exception:  # a device that went away while it was read
            continue
        if printing:
            found.append({"name": "usb", "model": None, "uri": f"usb://{device.idVendor:04x}:{device.idProduct:04x}",
                          "how": "USB"})
    return found

