"""The first real printer a new box finds prints its welcome receipt.

A box fresh out of its box prints on its emulated printer, which nobody sees. While it is not
claimed and has no real printer, the background process looks for one (a USB printer, or one
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

from appliance.access import owner
from appliance.discovery import search
from appliance.errors import ServiceError
from appliance.onboarding.receipts import print_welcome, setup_addresses
from appliance.printing import printers

log = logging.getLogger(__name__)

FIRST_LOOK = 5.0
INTERVAL = 30.0


def wanted(r: redis.Redis) -> bool:
    """Still looking: the box is not claimed and no real printer is configured."""
    return not owner.claimed(r) and not any(not c.emulated for c in printers.all_configs(r))


def adopt(r: redis.Redis, found: dict, addresses: list[str]) -> printers.PrinterConfig | None:
    """Add ``found`` with the emulated printer's roles and print the welcome receipt on it."""
    roles = sorted({role for c in printers.all_configs(r) if c.emulated for role in c.roles}) or printers.NEW_BOX_ROLES
    name = re.sub(r"[^a-z0-9_-]+", "-", (found.get("model") or found["how"]).lower()).strip("-")[:32] or "printer"
    config = printers.add(r, printers.validate(name, found["uri"], roles))
    print_welcome(r, config.name, addresses)
    log.info("first printer found: %s (%s), welcome receipt sent to it", config.name, config.uri)
    return config


def serve(r: redis.Redis, port: int, stop: threading.Event, interfaces: str) -> None:
    """The background process's side: look until a printer is found or the box is claimed
    (``interfaces``: where mDNS may browse)."""
    wait = FIRST_LOOK
    while not stop.wait(wait):
        wait = INTERVAL
        try:
            if not wanted(r):
                return
            found = search.search("", interfaces, bluetooth_too=False)[0]  # USB first, then the network
            if found:
                adopt(r, found[0], setup_addresses(port))
                return
        except (redis.RedisError, ServiceError, OSError) as exc:
            log.warning("looking for a first printer: %s; trying again", exc)
