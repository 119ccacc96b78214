"""A printer's own address on the shop's network, for real, inside network namespaces this test
makes: a "router" (a bridge, Debian's dnsmasq handing out addresses by DHCP, and the shop's
two printers), the box (a whole `appliance serve`, on a veth into the bridge) and an app's
tablet (another veth). Not one packet leaves the namespaces. Skipped, with the reason, where
they cannot be made or a tool is missing."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from appliance.discovery import mdns
from appliance.system import addresses
from tests.box import ROOT, wait_for
from tests.test_discovery import ip
from tests.test_epos import answer, odoo_image


@dataclass
class Shop:
    router: str
    box: str
    app: str
    net: str  # "10.232.N"
    box_if: str
    leases: Path

    def run(self, ns: str, *args: str) -> subprocess.Popen:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        return subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-m", "tests.netns_peer", *args],
                                cwd=ROOT, env=env, text=True, stdout=subprocess.PIPE)

    def said(self, ns: str, *args: str) -> str:
        return self.run(ns, *args).communicate(timeout=60)[0]


@pytest.fixture
def shop(tmp_path) -> Iterator[Shop]:
    for tool in ("dnsmasq", "udhcpc"):
        if not shutil.which(tool):
            pytest.skip(f"{tool} is not installed (apt install dnsmasq-base udhcpc)")
    tag = f"{os.getpid() % 10000}{random.randint(0, 99)}"
    net = f"10.232.{random.randint(10, 250)}"
    router, box, app = f"crt{tag}", f"cbx{tag}", f"cap{tag}"
    try:
        ip("netns", "add", router)
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"cannot make network namespaces here ({exc}); run as root with iproute2")
    dnsmasq = None
    try:
        ip("netns", "add", box)
        ip("netns", "add", app)
        ip("-n", router, "link", "add", "br0", "type", "bridge")
        ip("-n", router, "addr", "add", f"{net}.1/24", "dev", "br0")
        ip("-n", router, "addr", "add", f"{net}.4/24", "dev", "br0")  # the second printer's
        ip("-n", router, "link", "set", "br0", "up")
        for ns, address in ((box, f"{net}.2"), (app, f"{net}.3")):
            ip("link", "add", f"v{ns}", "netns", ns, "type", "veth", "peer", f"p{ns}", "netns", router)
            ip("-n", router, "link", "set", f"p{ns}", "master", "br0", "up")
            ip("-n", ns, "addr", "add", f"{address}/24", "dev", f"v{ns}")
            ip("-n", ns, "link", "set", f"v{ns}", "up")
            ip("-n", ns, "link", "set", "lo", "up")
            ip("-n", ns, "route", "add", "default", "via", f"{net}.1")
        leases = tmp_path / "leases"
        dnsmasq = subprocess.Popen(
            ["ip", "netns", "exec", router, "dnsmasq", "--no-daemon", "--conf-file=/dev/null", "--port=0",
             "--user=root", "--interface=br0", "--bind-interfaces", "--dhcp-authoritative",
             f"--dhcp-range={net}.100,{net}.150,255.255.255.0,10m", f"--dhcp-leasefile={leases}",
             f"--pid-file={tmp_path / 'dnsmasq.pid'}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        yield Shop(router, box, app, net, f"v{box}", leases)
    finally:
        if dnsmasq is not None:
            dnsmasq.kill()
            dnsmasq.wait()
        for ns in (router, box, app):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def test_a_printer_with_its_own_address_is_reached_there_by_apps_that_know_only_an_ip(shop: Shop,
                                                                                      tmp_path) -> None:
    """The owner gives the kitchen printer its own address: the box leases one from the shop's
    router (its own MAC address, the same after a restart), and there an app's python-escpos
    on port 9100, Odoo's ePOS-Print request (devid=local_printer) and Epson's and Star's
    searches all reach the kitchen printer; the box's own address still reaches the receipt
    printer on 9100. Given back, the address is gone and the lease released."""
    from appliance import config
    from appliance.printing import printers
    from appliance.runtime import redis_server
    from appliance.store import client

    receipt_printer, kitchen_printer = shop.run(shop.router, "printer", f"{shop.net}.1"), \
        shop.run(shop.router, "printer", f"{shop.net}.4")
    printed: dict[str, list[str]] = {"receipt": [], "kitchen": []}

    for name, device in (("receipt", receipt_printer), ("kitchen", kitchen_printer)):
        assert device.stdout is not None and device.stdout.readline().strip() == "ready"
        threading.Thread(target=lambda d=device, n=name: printed[n].extend(json.loads(x) for x in d.stdout),
                         daemon=True).start()
    data = tmp_path / "box"
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "APPLIANCE_DATA_DIR")}
    env["APPLIANCE_MDNS_INTERFACES"] = shop.box_if
    argv = ["ip", "netns", "exec", shop.box, sys.executable, "-m", "appliance", "--data-dir", str(data), "serve",
            "--host", "0.0.0.0", "--port", "8080", "--https-port", "0", "--epos-port", "0", "--epos-https-port", "0",
            "--no-emulated-printer"]
    log = (tmp_path / "serve.log").open("ab")
    box = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    box_ip = f"{shop.net}.2"
    try:
        settings = config.load(data)
        wait_for(lambda: redis_server.is_up(settings), 30, "the box's Redis")
        r = client.connect(settings)
        printers.add(r, printers.validate("caisse", f"tcp://{shop.net}.1", ["receipt"]))
        printers.add(r, printers.validate("cuisine", f"tcp://{shop.net}.4", ["kitchen"]))
        printers.expose(r, "caisse", 9100)
        printers.expose(r, "cuisine", None, own_address=True)

        def leased() -> str | None:
            held = addresses.read(r).get("cuisine")
            return held.address if held and held.state == "ready" else None

        own = wait_for(leased, 60, "the kitchen printer's own address from the router")
        held = addresses.read(r)["cuisine"]
        assert own.startswith(f"{shop.net}.") and 100 <= int(own.rsplit(".", 1)[1]) <= 150
        assert held.mac in shop.leases.read_text() and own in shop.leases.read_text()  # the router's own record
        wait_for(lambda: printers.state(r, "cuisine").model and printers.state(r, "caisse").model, 30,
                 "the box to know its printers")

        # An app that knows only "the printer's IP", and one given the box's address.
        assert shop.said(shop.app, "escpos", own, "Zupa pomidorowa x2").strip() == "sent"
        wait_for(lambda: any("Zupa pomidorowa x2" in t for t in printed["kitchen"]), 30, "the kitchen ticket")
        assert shop.said(shop.app, "escpos", box_ip, "Ticket de caisse").strip() == "sent"
        wait_for(lambda: any("Ticket de caisse" in t for t in printed["receipt"]), 30, "the receipt")
        assert not any("Zupa" in t for t in printed["receipt"]) and not any("caisse" in t for t in printed["kitchen"])

        # Odoo's kitchen printer, its field set to the printer's own address.
        got = json.loads(shop.said(shop.app, "post", f"http://{own}:8080/cgi-bin/epos/service.cgi?"
                                   "devid=local_printer&timeout=30000", odoo_image(height=24)))
        assert got["status"] == 200 and answer(got["body"])["success"] == "true"
        assert "[image 576x24]\n" in printed["kitchen"] and "[image 576x24]\n" not in printed["receipt"]

        # An app's search: each printer answers from its own address, as itself.
        found = wait_for(lambda: (lambda f: f if len(f["epson"]) == 2 and len(f["star"]) == 2 and f["mdns"] else None)(
            json.loads(shop.said(shop.app, "apps", f"{shop.net}.3", f"{shop.net}.255", "3"))), 60, "the search")
        by_sender = {e["from"]: e for e in found["epson"]}
        assert by_sender[own]["name"] == "Comptoir Cuisine" and by_sender[own]["mac"] == held.mac.replace(":", "")
        assert by_sender[box_ip]["name"] == "Comptoir Caisse"
        assert {s["from"]: s["name"] for s in found["star"]} == {own: "Comptoir Cuisine", box_ip: "Comptoir Caisse"}
        kitchen_record = next(m for m in found["mdns"] if m["name"].startswith("Comptoir · Cuisine"))
        assert kitchen_record["addresses"] == [own] and kitchen_record["port"] == 9100
        assert kitchen_record["name"] == f"Comptoir · Cuisine.{mdns.PRINTER_SERVICE}"

        # A restart: the same MAC address, so the router leases the same address again.
        box.terminate()
        box.wait(30)
        box = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        wait_for(lambda: redis_server.is_up(settings), 30, "the box's Redis again")
        r = client.connect(settings)
        wait_for(lambda: leased() == own and not _refused(own, shop), 60, "the same address after a restart")

        # Given back: the address no longer answers, its lease is released.
        printers.expose(r, "cuisine", None, own_address=False)
        wait_for(lambda: "cuisine" not in addresses.read(r), 30, "the address given back")
        wait_for(lambda: _refused(own, shop), 30, "the address gone")
        wait_for(lambda: held.mac not in shop.leases.read_text(), 30, "the lease released")
    finally:
        box.terminate()
        box.wait(30)
        log.close()
        for device in (receipt_printer, kitchen_printer):
            device.kill()
            device.wait()


def _refused(address: str, shop: Shop) -> bool:
    """Whether nothing answers on ``address`` port 9100, asked from the app's namespace."""
    done = subprocess.run(["ip", "netns", "exec", shop.app, sys.executable, "-c",
                           f"import socket; socket.create_connection(({address!r}, 9100), timeout=1)"],
                          capture_output=True, timeout=30)
    return done.returncode != 0
