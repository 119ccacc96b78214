"""Finding Bluetooth printers, through BlueZ with Debian's python3-bluez (pybluez). On the
box, the venv sees Debian's packages (it is made with --system-site-packages). Pairing a
printer that asks for a PIN: `bluetoothctl pair MAC` (most receipt printers use 0000 or 1234)."""

from __future__ import annotations

IMAGING_MAJOR_CLASS = 0x06  # printers are "imaging" devices in the Bluetooth class of device


class Unavailable(Exception):
    """No Bluetooth here, said in words a shop owner can act on."""


def scan(seconds: int = 8) -> list[dict]:
    try:
        import bluetooth  # Debian's python3-bluez
    except ImportError:
        raise Unavailable("Bluetooth scanning needs BlueZ and python3-bluez (apt install bluez python3-bluez; "
                          "the box's image has them)") from None
    try:
        devices = bluetooth.discover_devices(duration=seconds, lookup_names=True, lookup_class=True)
    except OSError as exc:  # bluetooth.BluetoothError is an OSError
        raise Unavailable(f"no usable Bluetooth adapter: {exc}") from None
    found = []
    for mac, name, device_class in devices:
        found.append({"address": mac, "name": name, "uri": f"bt://{mac}/1",
                      "printer": (device_class >> 8) & 0x1F == IMAGING_MAJOR_CLASS})
    return sorted(found, key=lambda d: (not d["printer"], d["name"] or ""))
