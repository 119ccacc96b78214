"""`appliance background`: the box's services beside the API and the printers, one small process.

- the mDNS announcement (discovery/mdns.py), refreshed as addresses, the shop's name or the
  pairing state change, with a record for each exposed printer; the answers to Epson's and
  Star's own printer searches (discovery/vendor_search.py);
- the back office forwarder (sync/forwarder.py);
- the printer searches the setup page asks for (discovery/search.py), and a new box's look
  for its first printer, which prints the welcome receipt (onboarding/first_printer.py);
- the virtual network printers' ports (printing/virtual_ports.py), which also take ePOS-Print
  and WebPRNT requests for their printer (printing/port_http.py), and the printers' own
  addresses on the shop's network (system/addresses.py);
- QZ-compatible printing for web POS, on its websocket ports (printing/qz_socket.py);
- the box's own Wi-Fi access point when it has no network at all (system/wifi.py, on the SD image);
- the HTTPS certificate, made again when the box's addresses change or it nears its end
  (system/certs.py; the web process picks it up).

None blocks another: each service is a ``Part`` on its own thread, the forwarder on the main
one (the process ends with it). A part's loop waits between its rounds with ``part.wait``, and
each wait is its heartbeat: systemd's watchdog is fed, and the heartbeat ``/healthz`` reads is
written, only while every part has beaten lately, so a part that hangs is seen as surely as one
that raised.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable

import redis

from appliance.config import Settings
from appliance.discovery import mdns, probe, search, vendor_search
from appliance.onboarding import first_printer
from appliance.printing import printers, qz_socket, virtual_ports
from appliance.runtime import sdnotify
from appliance.store import keys
from appliance.store.client import connect
from appliance.sync import forwarder, shop
from appliance.system import addresses, certs, wifi
from appliance.system.tls import Tls

CERTIFICATE_CHECK = 30.0
HEARTBEAT_EVERY = 5.0  # a write to the card each time: not every second
HEARTBEAT_TTL = 15
QUIET = 120.0  # a part that has not waited for this long is stuck (its longest round: a subnet probe)


def run(settings: Settings, host: str, port: int, adopt_first_printer: bool = False,
        manage_wifi: bool = False, qz_ports: tuple[int, int] = (0, 0)) -> None:
    """``qz_ports``: the QZ-compatible websocket ports, secure and plain (0: not opened)."""
    r = connect(settings)
    stop = threading.Event()
    # An app's connection is served by threads that hand the interpreter to one another (the
    # listener's, the connection's): not after the default 5 ms turn of a busy neighbour.
    sys.setswitchinterval(0.0005)

    def txt() -> dict:
        try:
            return mdns.box_txt(shop.name(r), shop.pairing_open(r))
        except redis.RedisError:
            return mdns.box_txt("Comptoir", False)

    def exposed() -> list[dict] | None:
        try:
            own = {name: held.address for name, held in addresses.read(r).items() if held.address}
            return [{"name": c.name, "port": c.port, "address": own.get(c.name),
                     "txt": mdns.printer_txt(shown.maker, shown.model, c.language, c.roles)}
                    for c in printers.all_configs(r) if c.port or c.name in own
                    for shown in [printers.state(r, c.name)]]
        except redis.RedisError:
            return None

    def stopped(signum, frame) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, stopped)
    signal.signal(signal.SIGINT, stopped)
    parts = [Part("mdns", lambda part: mdns.Announcer(port, txt, part, settings.mdns_interfaces, exposed).run(), stop),
             Part("vendor-search", lambda part: vendor_search.serve(r, part, settings.mdns_interfaces), stop),
             Part("printer-search", lambda part: search.serve(r, part, settings.mdns_interfaces), stop),
             Part("virtual-printers", lambda part: virtual_ports.Ports(r, host, part, Tls(settings.data_dir)).run(),
                  stop),
             Part("qz", lambda part: qz_socket.Ports(r, host, part, Tls(settings.data_dir), *qz_ports).run(), stop),
             Part("printer-addresses", lambda part: addresses.serve(r, part, settings.data_dir), stop),
             Part("certificates", lambda part: _renew_certificate(settings, part), stop)]
    if adopt_first_printer:
        parts.append(Part("first-printer", lambda part: first_printer.serve(r, port, part, settings.mdns_interfaces),
                          stop))
    if manage_wifi:
        parts.append(Part("wifi", lambda part: wifi.serve(r, part), stop))
    for part in parts:
        part.start()
    sender = Part("backoffice", lambda part: forwarder.Forwarder(r, part).run(), stop)
    threading.Thread(target=_watchdog, args=(r, [sender, *parts], stop), name="watchdog", daemon=True).start()
    sdnotify.notify("READY=1")
    sender.run()
    stop.set()
    parts[0].thread.join(5)  # the announcement is withdrawn on the way out


def _renew_certificate(settings: Settings, part: Part) -> None:
    while not part.wait(CERTIFICATE_CHECK):
        try:
            if certs.ensure(settings.data_dir, probe.local_addresses()):
                logging.getLogger(__name__).info("HTTPS certificate renewed for the box's addresses")
        except OSError as exc:
            logging.getLogger(__name__).warning("HTTPS certificate not renewed: %s", exc)


class Part:
    """One service of the background process: a name, and a loop that runs until the process
    stops or its work is done (mDNS when it is off, the first printer once found). The loop
    is given the part itself, to wait on as on the process's stop event (``wait``,
    ``is_set``); each wait is a heartbeat. One that raises has crashed, one that has not
    waited for ``QUIET`` seconds is stuck: either way it is logged, and the process is no
    longer healthy."""

    def __init__(self, name: str, loop: Callable[[Part], object], stop: threading.Event) -> None:
        self.name, self.loop, self.stop = name, loop, stop
        self.crashed = self.finished = False
        self.beat = time.monotonic()
        self.thread = threading.Thread(target=self.run, name=name, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def wait(self, timeout: float) -> bool:
        self.beat = time.monotonic()
        return self.stop.wait(timeout)

    def is_set(self) -> bool:
        return self.stop.is_set()

    def running(self, now: float) -> bool:
        return not self.crashed and (self.finished or now - self.beat <= QUIET)

    def run(self) -> None:
        try:
            self.loop(self)
            self.finished = True
        except Exception:
            self.crashed = True
            logging.getLogger(__name__).exception("%s stopped", self.name)


def _watchdog(r: redis.Redis, parts: list[Part], stop: threading.Event) -> None:
    """systemd's watchdog is fed, and the heartbeat /healthz reads is written, only while every
    part runs and beats: a part that crashed or hangs makes the process unhealthy (systemd
    restarts it, and an update's trial sees it), not silently smaller."""
    beat = 0.0
    reported: set[str] = set()
    while not stop.wait(1.0):
        now = time.monotonic()
        alive = {part.name: part.running(now) for part in parts}
        if all(alive.values()):
            sdnotify.notify("WATCHDOG=1")
        for name in {name for name, running in alive.items() if not running} - reported:
            logging.getLogger(__name__).error("%s does not answer: the box is not healthy", name)
            reported.add(name)
        if now - beat >= HEARTBEAT_EVERY:
            with contextlib.suppress(redis.RedisError):
                r.set(keys.background_heartbeat(), json.dumps({"pid": os.getpid(), "parts": alive}),
                      ex=HEARTBEAT_TTL)
                beat = now
