"""mDNS with python-zeroconf: the box announces itself, and finds network printers.

The box answers as its own name (``comptoir-3fa2.local``) and as the service ``_comptoir._tcp``
whose TXT record carries the API path, the version, the shop's name and whether pairing is
open, so a tablet finds it without anyone typing an address. Each printer the box exposes on
a port is announced as a network printer of its own (``_pdl-datastream._tcp``, "Comptoir ·
Cuisine"), with the TXT keys receipt printers carry, so an app's printer search lists it.
While it is the only box on the network it also answers as ``comptoir.local``, through its
setup page announced as ``_http._tcp`` (what a shop owner types, what Bonjour browsers list);
a second box sees the first and keeps to its own name, so ``comptoir.local`` never points at
two boxes. It follows address changes (a DHCP renewal, Wi-Fi coming up beside Ethernet) by announcing again on the
new set, and withdraws the announcement when it stops.

``APPLIANCE_MDNS_INTERFACES`` chooses where mDNS goes: ``all`` (the default, as on the box),
``none`` (off: what the tests use outside their own network namespaces), or a comma-separated
list of interface names or addresses.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable

import ifaddr
from zeroconf import InterfaceChoice, IPVersion, ServiceBrowser, ServiceInfo, ServiceStateChange, Zeroconf

from appliance import __version__
from appliance.discovery import probe
from appliance.system import addresses

logger = logging.getLogger(__name__)

SERVICE = "_comptoir._tcp.local."
ALIAS = "comptoir.local."
PAGE_SERVICE = "_http._tcp.local."
ALONE_CHECK = 2.0  # seconds spent looking for another box before taking comptoir.local
PRINTER_SERVICE = "_pdl-datastream._tcp.local."  # raw port 9100 printing, as receipt printers announce it
PRINTER_SERVICES = (PRINTER_SERVICE, "_printer._tcp.local.", "_ipp._tcp.local.")
FOLLOW_EVERY = 5.0


def interfaces_setting(value: str) -> list[str] | None:
    """None: mDNS off. []: every interface. Else the addresses named by the setting
    (``config.Settings.mdns_interfaces``: all, none, or interface names and addresses)."""
    value = value.strip()
    if value.lower() == "none":
        return None
    if value.lower() in ("", "all"):
        return []
    wanted = [part.strip() for part in value.split(",") if part.strip()]
    found = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            if isinstance(ip.ip, str) and (adapter.nice_name in wanted or ip.ip in wanted):
                found.append(ip.ip)
    return found


def own_host() -> str:
    """This box's own mDNS name: its host name (comptoir-3fa2 on the SD image)."""
    return f"{socket.gethostname().split('.')[0]}.local."


def printer_host(printer: str) -> str:
    """The mDNS host name of a printer's own address (its own name: the box's stays on the
    box's addresses)."""
    return f"{socket.gethostname().split('.')[0]}-{printer.replace('_', '-')}.local."


def other_boxes(zc: Zeroconf, seconds: float) -> list[str]:
    """The Comptoir boxes already announced on the network, found within ``seconds``."""
    names: list[str] = []

    def seen(zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange) -> None:
        if state_change is ServiceStateChange.Added:
            names.append(name)

    browser = ServiceBrowser(zc, SERVICE, handlers=[seen])
    time.sleep(seconds)
    browser.cancel()
    return names


def current_addresses(chosen: list[str]) -> list[str]:
    """The IPv4 addresses mDNS answers with: the chosen ones, or every non-loopback one but the
    printers' own."""
    return sorted(chosen) if chosen else probe.local_addresses(skip=addresses.PREFIX)


class Announcer:
    """Keeps the box announced on the current addresses, with a fresh TXT record."""

    def __init__(self, port: int, txt: Callable[[], dict], stop: threading.Event, interfaces: str = "all",
                 exposed: Callable[[], list[dict] | None] = list) -> None:
        """``exposed``: the printers apps reach on the box's ports (name, port, txt, and
        address when the printer has its own: then it is announced there, on port 9100), each
        announced as a network printer of its own; None when they cannot be known now."""
        self.port = port
        self.txt = txt
        self.stop = stop
        self.interfaces = interfaces
        self.exposed = exposed
        self.zc: Zeroconf | None = None
        self.info: ServiceInfo | None = None
        self.page: ServiceInfo | None = None  # comptoir.local, while this is the only box
        self.printers: dict[str, ServiceInfo] = {}  # exposed printers, by instance name
        self.addresses: list[str] = []
        self.properties: dict = {}

    def _info(self, addresses: list[str], properties: dict) -> ServiceInfo:
        name = instance_name(properties.get("shop") or "Comptoir")
        return ServiceInfo(SERVICE, f"{name}.{SERVICE}", port=self.port, properties=properties, server=own_host(),
                           addresses=[socket.inet_aton(a) for a in addresses])

    def _page(self, addresses: list[str], properties: dict) -> ServiceInfo:
        name = instance_name(properties.get("shop") or "Comptoir")
        return ServiceInfo(PAGE_SERVICE, f"{name}.{PAGE_SERVICE}", port=self.port, properties={"path": "/"},
                           server=ALIAS, addresses=[socket.inet_aton(a) for a in addresses])

    def announce(self, chosen: list[str]) -> None:
        """Announce anew when the addresses changed, update the TXT record when it changed."""
        addresses = current_addresses(chosen)
        properties = self.txt()
        renamed = properties.get("shop") != self.properties.get("shop")
        if addresses != self.addresses or self.zc is None or renamed:
            self.withdraw()
            if not addresses:
                return
            self.zc = Zeroconf(interfaces=chosen or InterfaceChoice.All, ip_version=IPVersion.V4Only)
            alone = not other_boxes(self.zc, ALONE_CHECK)
            self.info = self._info(addresses, properties)
            self.zc.register_service(self.info, allow_name_change=True)
            if alone:
                self.page = self._page(addresses, properties)
                self.zc.register_service(self.page, allow_name_change=True)
            self.addresses, self.properties = addresses, properties
            logger.info("announced as %s%s on %s", own_host(), f" and {ALIAS}" if alone else "", ", ".join(addresses))
        elif properties != self.properties and self.zc is not None:
            self.info = self._info(addresses, properties)
            self.zc.update_service(self.info)
            self.properties = properties
        if self.zc is not None:
            self._follow_printers(addresses)

    def _follow_printers(self, addresses: list[str]) -> None:
        """Announce each exposed printer, update the ones that changed, withdraw the ones no
        longer exposed."""
        assert self.zc is not None
        exposed = self.exposed()
        if exposed is None:  # not known just now (Redis restarting): keep them as they are
            return
        wanted = {}
        for printer in exposed:
            name = printer_instance(printer["name"])
            own = printer.get("address")
            wanted[f"{name}.{PRINTER_SERVICE}"] = ServiceInfo(
                PRINTER_SERVICE, f"{name}.{PRINTER_SERVICE}", port=9100 if own else printer["port"],
                properties=printer["txt"], server=printer_host(printer["name"]) if own else own_host(),
                addresses=[socket.inet_aton(a) for a in ([own] if own else addresses)])
        for name in [n for n in self.printers if n not in wanted]:
            self.zc.unregister_service(self.printers.pop(name))
        for name, info in wanted.items():
            known = self.printers.get(name)
            if known is None:
                self.zc.register_service(info)
            elif (known.port, known.properties, known.addresses) != (info.port, info.properties, info.addresses):
                self.zc.update_service(info)
            self.printers[name] = info

    def withdraw(self) -> None:
        if self.zc is not None:
            try:
                for info in (self.info, self.page, *self.printers.values()):
                    if info is not None:
                        self.zc.unregister_service(info)
            finally:
                self.zc.close()
        self.zc, self.info, self.page, self.addresses, self.printers = None, None, None, [], {}

    def run(self) -> None:
        if interfaces_setting(self.interfaces) is None:
            logger.info("mDNS is off (APPLIANCE_MDNS_INTERFACES=none)")
            return
        try:
            while not self.stop.is_set():
                try:
                    self.announce(interfaces_setting(self.interfaces) or [])  # names resolve anew: addresses move
                except OSError as exc:
                    logger.warning("mDNS announcement failed (%s); retrying", exc)
                    self.withdraw()
                self.stop.wait(FOLLOW_EVERY)
        finally:
            self.withdraw()


def browse(seconds: float, chosen: list[str] | None = None) -> list[dict]:
    """Network printers announced over mDNS, found within ``seconds``."""
    zc = Zeroconf(interfaces=chosen or InterfaceChoice.All, ip_version=IPVersion.V4Only)
    seen: list[tuple[str, str]] = []

    def on_change(zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange) -> None:
        if state_change is ServiceStateChange.Added:
            seen.append((service_type, name))

    try:
        ServiceBrowser(zc, list(PRINTER_SERVICES), handlers=[on_change])
        time.sleep(seconds)
        found = []
        for service_type, name in seen:
            info = zc.get_service_info(service_type, name, timeout=1500)
            if info is None:
                continue
            props = {k.decode(): (v or b"").decode(errors="replace") for k, v in info.properties.items()}
            for address in info.parsed_addresses(IPVersion.V4Only):
                found.append({"name": name.removesuffix("." + service_type), "address": address, "port": info.port,
                              "service": service_type.removesuffix(".local."),
                              "model": props.get("ty") or props.get("product", "").strip("()") or None})
        return found
    finally:
        zc.close()


LABEL_BYTES = 63  # DNS's limit on one label, which a service instance name is


def instance_name(shop: str) -> str:
    """The shop's name as a service instance label: at most 63 bytes of UTF-8, cut on a
    character boundary (a Cyrillic name is two bytes a letter), and no dot, which would split
    the label."""
    name = shop.replace(".", " ").strip() or "Comptoir"
    while len(name.encode()) > LABEL_BYTES:
        name = name[:-1]
    return name.rstrip()


def box_txt(shop: str, pairing_open: bool) -> dict:
    return {"path": "/api/v1", "version": __version__, "shop": shop, "pairing": "open" if pairing_open else "closed"}


def printer_instance(printer: str) -> str:
    """The name apps list for an exposed printer: the box's, then the printer's, as a shop
    owner says it ("Comptoir · Cuisine")."""
    return instance_name(f"Comptoir · {printer[:1].upper()}{printer[1:]}")


def printer_txt(maker: str | None, model: str | None, language: str, roles: list[str]) -> dict:
    """The TXT keys of a network printer (Apple's Bonjour Printing: txtvers, qtotal, ty,
    product, usb_MFG, usb_MDL, pdl, note), as Epson's and Star's printers fill them."""
    maker = maker or ("STAR" if language.startswith("star") else "EPSON")
    model = model or "Comptoir"
    pdl = "application/vnd.star.starprnt" if language.startswith("star") else "application/vnd.epson.escpos"
    return {"txtvers": "1", "qtotal": "1", "ty": f"{maker} {model}", "product": f"({model})", "usb_MFG": maker,
            "usb_MDL": model, "pdl": pdl, "note": ", ".join(roles)}
