"""The first real printer a new box finds prints its welcome receipt.

A box fresh out of its box prints on its emulated printer, which nobody sees. While it is not
claimed and has no real printer, the network process looks for one (a USB printer, or one
answering on port 9100 or by mDNS on the shop's network: the same search the setup page
starts, Bluetooth aside, since a Bluetooth printer must be paired first) soon after it starts
and then every ``INTERVAL`` seconds. The first one found is added with the roles the
emulated printer held (it steps aside, as for any real printer) and prints the welcome
receipt: the setup page's address, its QR code and the setup code. Physical access to the
printer is the proof of ownership, as the setup code's on the console is.

Off the shop's network (mDNS off, as in the tests) the network search does nothing by itself:
only USB is looked at (discovery/search.py).
"""

from __future__ import annotations

import logging
import re
import threading

import redis

from appliance import admin, wifi
from appliance.discovery import probe, search
from appliance.errors import ServiceError
from appliance.printing import jobs, printers
from appliance.printing.request import JobRequest
from appliance.printing.testpage import welcome_page
from appliance.sync import shop

log = logging.getLogger(__name__)

FIRST_LOOK = 5.0
INTERVAL = 30.0


def wanted(r: redis.Redis) -> bool:
    """Still looking: the box is not claimed and no real printer is configured."""
    return not admin.claimed(r) and not any(not c.emulated for c in printers.all_configs(r))


def usb_printers() -> list[dict]:
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


def adopt(r: redis.Redis, found: dict, address: str) -> printers.PrinterConfig | None:
    """Add ``found`` with the emulated printer's roles and print the welcome receipt on it."""
    roles = sorted({role for c in printers.all_configs(r) if c.emulated for role in c.roles}) or printers.NEW_BOX_ROLES
    name = re.sub(r"[^a-z0-9_-]+", "-", (found.get("model") or found["how"]).lower()).strip("-")[:32] or "printer"
    config = printers.add(r, printers.validate(name, found["uri"], roles))
    welcome(r, config.name, address)
    log.info("first printer found: %s (%s), welcome receipt sent to it", config.name, config.uri)
    return config


def welcome(r: redis.Redis, printer: str, address: str) -> None:
    """Queue the welcome receipt on ``printer`` while the box is not claimed."""
    code = admin.setup_code(r)
    if code:
        access_point = wifi.access_point(r) if wifi.has_wifi() else None
        jobs.submit(r, JobRequest.model_validate({"printer": printer, "document": welcome_page(
            shop.name(r), address, code, access_point)}))


def setup_address(port: int) -> str:
    """The setup page by the box's address (what any phone opens, mDNS or not)."""
    addresses = probe.local_addresses()
    host = addresses[0] if addresses else "comptoir.local"
    return f"http://{host}{'' if port == 80 else f':{port}'}/"


def serve(r: redis.Redis, port: int, stop: threading.Event) -> None:
    """The network process's side: look until a printer is found or the box is claimed."""
    wait = FIRST_LOOK
    while not stop.wait(wait):
        wait = INTERVAL
        try:
            if not wanted(r):
                return
            found = usb_printers() or search.search("", bluetooth_too=False)[0]
            if found:
                adopt(r, found[0], setup_address(port))
                return
        except (redis.RedisError, ServiceError, OSError) as exc:
            log.warning("looking for a first printer: %s; trying again", exc)
