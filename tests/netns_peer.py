"""Runs inside a network namespace made by tests/test_discovery.py (never on the host's own
network): the box's side (announce itself and a fake printer) or the tablet's side (find)."""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
import time

from zeroconf import IPVersion, ServiceBrowser, ServiceInfo, ServiceStateChange, Zeroconf

from appliance import config
from appliance.discovery import mdns, probe
from tests.fakeprinter import FakePrinter


def box(address: str, printer_port: int, api_port: int = 8080) -> None:
    printer = FakePrinter(host=address, port=printer_port)
    printer.engine.maker, printer.engine.printer_id = b"EPSON", b"TM-T20II"
    zc = Zeroconf(interfaces=[address], ip_version=IPVersion.V4Only)
    announced = ServiceInfo("_pdl-datastream._tcp.local.", "Kitchen printer._pdl-datastream._tcp.local.",
                            port=printer_port, addresses=[socket.inet_aton(address)],
                            properties={"ty": "EPSON TM-T20II"}, server="kitchen-printer.local.")
    zc.register_service(announced, allow_name_change=True)  # a second box in the test: "Kitchen printer (2)"
    announcer = mdns.Announcer(api_port, lambda: mdns.box_txt("Chez Marie", True), threading.Event(),
                               config.load().mdns_interfaces)  # APPLIANCE_MDNS_INTERFACES: the test's veth
    thread = threading.Thread(target=announcer.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while announcer.info is None and time.monotonic() < deadline:  # announced (it looked for other boxes first)
        time.sleep(0.05)
    print("ready", flush=True)
    sys.stdin.read()  # until the test closes our stdin
    announcer.stop.set()
    thread.join(10)
    zc.unregister_service(announced)
    zc.close()
    printer.stop()


def find_box(seconds: float, chosen: list[str], service: str = mdns.SERVICE) -> dict | None:
    """What a tablet app does: look for a Comptoir box, return its address and TXT data."""
    zc = Zeroconf(interfaces=chosen, ip_version=IPVersion.V4Only)
    try:
        end = time.monotonic() + seconds
        names: list[str] = []
        ServiceBrowser(zc, service, handlers=[lambda zeroconf, service_type, name, state_change: names.append(name)])
        while time.monotonic() < end and not names:
            time.sleep(0.05)
        if not names:
            return None
        info = zc.get_service_info(service, names[0], timeout=3000)
        if info is None:
            return None
        return {"name": names[0], "addresses": info.parsed_addresses(IPVersion.V4Only), "port": info.port,
                "server": info.server,
                "txt": {k.decode(): (v or b"").decode() for k, v in info.properties.items()}}
    finally:
        zc.close()


def tablet(address: str, subnet: str, printer_port: int, seconds: float) -> None:
    found = {"box": find_box(seconds, [address])}
    if found["box"] is not None:
        found["printers"] = mdns.browse(2.0, [address])
        found["probe"] = probe.probe(probe.hosts([subnet]), printer_port)
    print(json.dumps(found), flush=True)


def pages(address: str, seconds: float) -> None:
    """What a phone's browser finds: the boxes' setup pages, with the name each answers to."""
    zc = Zeroconf(interfaces=[address], ip_version=IPVersion.V4Only)
    names: list[str] = []
    ServiceBrowser(zc, mdns.PAGE_SERVICE,
                   handlers=[lambda zeroconf, service_type, name, state_change: names.append(name)])
    time.sleep(seconds)
    found = []
    for name in sorted(set(names)):
        info = zc.get_service_info(mdns.PAGE_SERVICE, name, timeout=3000)
        if info is not None:
            found.append({"server": info.server, "port": info.port, "addresses": info.parsed_addresses()})
    zc.close()
    print(json.dumps(found), flush=True)


# Epson's and Star's printer searches, byte for byte as their SDKs and utilities send them.
EPSON_SEARCH = b"EPSONQ\x03\x00\x00\x01\x00\x00\x00\x00"
STAR_SEARCH = b"STR_BCAST" + bytes(7) + b"RQ1.0.0" + b"\x00\x00\x1c\x64\x31"


def field(data: bytes, start: int, end: int) -> str:
    """A NUL-padded text field of a search answer."""
    return data[start:end].split(b"\0")[0].decode("latin-1")


def apps(address: str, broadcast: str, seconds: float) -> None:
    """What an app's "search for printers" does: browse mDNS for network printers, then
    broadcast Epson's and Star's own searches and read who answers."""
    zc = Zeroconf(interfaces=[address], ip_version=IPVersion.V4Only)
    names: list[str] = []
    ServiceBrowser(zc, mdns.PRINTER_SERVICE, handlers=[
        lambda zeroconf, service_type, name, state_change: names.append(name)
        if state_change is ServiceStateChange.Added else None])
    time.sleep(seconds)
    found: dict[str, list] = {"mdns": [], "epson": [], "star": []}
    for name in sorted(set(names)):
        info = zc.get_service_info(mdns.PRINTER_SERVICE, name, timeout=3000)
        if info is not None:
            found["mdns"].append({"name": name, "addresses": info.parsed_addresses(), "port": info.port,
                                  "txt": {k.decode(): (v or b"").decode() for k, v in info.properties.items()}})
    zc.close()
    for key, port, search in (("epson", 3289, EPSON_SEARCH), ("star", 22222, STAR_SEARCH)):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
            sock.bind((address, 0))
            sock.settimeout(2.0)
            sock.sendto(search, (broadcast, port))
            with contextlib.suppress(TimeoutError):
                while True:
                    data, (sender, _) = sock.recvfrom(2048)
                    found[key].append({"from": sender, "size": len(data), "head": data[:9].decode("latin-1"),
                                       "mac": data[14:20].hex() if key == "epson" else data[78:84].hex(),
                                       "name": field(data, 56, 120) if key == "epson" else field(data, 268, 300),
                                       "model": field(data, 24, 56) if key == "epson" else field(data, 204, 268)})
    print(json.dumps(found), flush=True)


def printer(address: str) -> None:
    """A printer on the shop's network, port 9100, saying each receipt's text as it prints."""
    device = FakePrinter(host=address, port=9100)
    device.engine.maker, device.engine.printer_id = b"EPSON", b"TM-T20II"
    print("ready", flush=True)
    said = 0
    while True:
        receipts = device.wait_receipts(said + 1, timeout=3600)
        for receipt in receipts[said:]:
            print(json.dumps(receipt.text), flush=True)
        said = len(receipts)


def escpos_app(address: str, text: str) -> None:
    """An app that knows only "the printer's IP": python-escpos to port 9100 there."""
    from escpos.printer import Network

    app = Network(address, port=9100, timeout=10)
    app.open()
    app.text(text + "\n")
    app.cut()
    app.close()
    print("sent", flush=True)


def post(url: str, body: str) -> None:
    """A web app's ePOS-Print request (Odoo's: devid=local_printer), its answer printed."""
    import requests

    session = requests.Session()
    session.trust_env = False
    answer = session.post(url, data=body.encode(), timeout=30, headers={"Content-Type": "text/plain;charset=UTF-8",
                                                                        "Origin": "https://odoo.example"})
    print(json.dumps({"status": answer.status_code, "body": answer.text}), flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "box":
        box(sys.argv[2], int(sys.argv[3]), *(int(a) for a in sys.argv[4:5]))
    elif sys.argv[1] == "pages":
        pages(sys.argv[2], float(sys.argv[3]))
    elif sys.argv[1] == "printer":
        printer(sys.argv[2])
    elif sys.argv[1] == "escpos":
        escpos_app(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "post":
        post(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "apps":
        apps(sys.argv[2], sys.argv[3], float(sys.argv[4]))
    else:
        tablet(sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5]))
