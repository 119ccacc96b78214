"""`appliance network`: the box's presence on the shop's network, one small process.

- the mDNS announcement (discovery/mdns.py), refreshed as addresses, the shop's name or the
  pairing state change;
- the back office forwarder (sync/forwarder.py);
- the printer searches the setup page asks for (discovery/search.py), and a new box's look
  for its first printer, which prints the welcome receipt (onboarding/first_printer.py);
- the virtual network printers' ports (printing/raw_port.py);
- the box's own Wi-Fi access point when it has no network at all (wifi.py, on the SD image);
- the HTTPS certificate, made again when the box's addresses change or it nears its end
  (certs.py; the web process picks it up).

None blocks another: each service is a ``Part`` on its own thread, the forwarder on the main
one (the process ends with it). systemd's watchdog is fed, and the heartbeat ``/healthz`` reads
is written, only while every part runs.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import threading
import time
from collections.abc import Callable

import redis

from appliance import certs, wifi
from appliance.config import Settings
from appliance.discovery import mdns, probe, search
from appliance.onboarding import first_printer
from appliance.printing import raw_port
from appliance.runtime import sdnotify
from appliance.store import keys
from appliance.store.client import connect
from appliance.sync import forwarder, shop

CERTIFICATE_CHECK = 30.0
HEARTBEAT_EVERY = 5.0  # a write to the card each time: not every second
HEARTBEAT_TTL = 15


def run(settings: Settings, host: str, port: int, adopt_first_printer: bool = False,
        manage_wifi: bool = False) -> None:
    r = connect(settings)

    def txt() -> dict:
        try:
            return mdns.box_txt(shop.name(r), shop.pairing_open(r))
        except redis.RedisError:
            return mdns.box_txt("Comptoir", False)

    announcer = mdns.Announcer(port, txt)
    sender = forwarder.Forwarder(r)

    def stop(signum, frame) -> None:
        sender.stopping = True
        announcer.stop.set()  # the searches stop with it

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    parts = [Part("mdns", announcer.run), Part("printer-search", lambda: search.serve(r, announcer.stop)),
             Part("virtual-printers", raw_port.Ports(r, host, announcer.stop).run),
             Part("certificates", lambda: _renew_certificate(settings, announcer.stop))]
    if adopt_first_printer:
        parts.append(Part("first-printer", lambda: first_printer.serve(r, port, announcer.stop)))
    if manage_wifi:
        parts.append(Part("wifi", lambda: wifi.serve(r, announcer.stop)))
    for part in parts:
        part.start()
    threading.Thread(target=_watchdog, args=(r, sender, parts), name="watchdog", daemon=True).start()
    sdnotify.notify("READY=1")
    sender.run()
    parts[0].thread.join(5)  # the announcement is withdrawn on the way out


def _renew_certificate(settings: Settings, stop: threading.Event) -> None:
    while not stop.wait(CERTIFICATE_CHECK):
        try:
            if certs.ensure(settings.data_dir, probe.local_addresses()):
                logging.getLogger(__name__).info("HTTPS certificate renewed for the box's addresses")
        except OSError as exc:
            logging.getLogger(__name__).warning("HTTPS certificate not renewed: %s", exc)


class Part:
    """One service of the network process: a name, and a loop that runs until the process
    stops or its work is done (mDNS when it is off, the first printer once found). One that
    raises has crashed: it is logged, and the process is no longer healthy."""

    def __init__(self, name: str, loop: Callable[[], object]) -> None:
        self.name, self.loop, self.crashed = name, loop, False
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _run(self) -> None:
        try:
            self.loop()
        except Exception:
            self.crashed = True
            logging.getLogger(__name__).exception("%s stopped", self.name)


def _watchdog(r: redis.Redis, sender: forwarder.Forwarder, parts: list[Part]) -> None:
    """systemd's watchdog is fed, and the heartbeat /healthz reads is written, only while every
    part runs: a part that crashed makes the process unhealthy (systemd restarts it, and an
    update's trial sees it), not silently smaller."""
    beat = 0.0
    while not sender.stopping:
        alive = {part.name: not part.crashed for part in parts}
        if all(alive.values()):
            sdnotify.notify("WATCHDOG=1")
        if time.monotonic() - beat >= HEARTBEAT_EVERY:
            with contextlib.suppress(redis.RedisError):
                r.set(keys.network_heartbeat(), json.dumps({"pid": os.getpid(), "parts": alive}), ex=HEARTBEAT_TTL)
                beat = time.monotonic()
        time.sleep(1.0)
