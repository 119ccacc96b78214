"""`appliance network`: the box's presence on the shop's network, one small process.

- the mDNS announcement (discovery/mdns.py), refreshed as addresses, the shop's name or the
  pairing state change;
- the back office forwarder (sync/forwarder.py);
- the printer searches the setup page asks for (discovery/search.py), and a new box's look
  for its first printer, which prints the welcome receipt (discovery/first_printer.py);
- the virtual network printers' ports (printing/raw_port.py);
- the box's own Wi-Fi access point when it has no network at all (wifi.py, on the SD image);
- the HTTPS certificate, made again when the box's addresses change or it nears its end
  (certs.py; the web process picks it up).

None blocks another: the announcer and the searches run on their own threads. systemd's watchdog is fed
while the forwarder's loop turns.
"""

from __future__ import annotations

import logging
import signal
import threading
import time

import redis

from appliance import certs, wifi
from appliance.config import Settings
from appliance.discovery import first_printer, mdns, probe, search
from appliance.printing import raw_port
from appliance.runtime import sdnotify
from appliance.runtime.redis_server import connect
from appliance.sync import forwarder, shop

CERTIFICATE_CHECK = 30.0


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
    announcing = threading.Thread(target=announcer.run, name="mdns", daemon=True)
    announcing.start()
    threading.Thread(target=search.serve, args=(r, announcer.stop), name="search", daemon=True).start()
    if adopt_first_printer:
        threading.Thread(target=first_printer.serve, args=(r, port, announcer.stop), name="first-printer",
                         daemon=True).start()
    if manage_wifi:
        threading.Thread(target=wifi.serve, args=(r, announcer.stop), name="wifi", daemon=True).start()
    threading.Thread(target=raw_port.Ports(r, host, announcer.stop).run, name="raw-ports", daemon=True).start()
    threading.Thread(target=_renew_certificate, args=(settings, announcer.stop), name="certs", daemon=True).start()
    feeding = threading.Thread(target=_watchdog, args=(sender,), name="watchdog", daemon=True)
    feeding.start()
    sdnotify.notify("READY=1")
    sender.run()
    announcing.join(5)  # withdraws the announcement on the way out


def _renew_certificate(settings: Settings, stop: threading.Event) -> None:
    while not stop.wait(CERTIFICATE_CHECK):
        try:
            if certs.ensure(settings.data_dir, probe.local_addresses()):
                logging.getLogger(__name__).info("HTTPS certificate renewed for the box's addresses")
        except OSError as exc:
            logging.getLogger(__name__).warning("HTTPS certificate not renewed: %s", exc)


def _watchdog(sender: forwarder.Forwarder) -> None:
    while not sender.stopping:
        sdnotify.notify("WATCHDOG=1")
        time.sleep(1.0)
