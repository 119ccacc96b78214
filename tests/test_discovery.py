"""mDNS and the 9100 probe, for real, but only inside two network namespaces this test makes
(a veth pair between "the box" and "a tablet"): not one packet leaves this machine's own
sandbox. Skipped, with the reason, where namespaces cannot be made."""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from appliance.discovery import mdns
from tests.box import ROOT, wait_for


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


@dataclass
class Lan:
    box_ns: str
    tablet_ns: str
    box_ip: str
    tablet_ip: str
    subnet: str
    box_if: str

    def run(self, ns: str, *args: str, **kwargs) -> subprocess.Popen:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "APPLIANCE_MDNS_INTERFACES": self.box_if}
        return subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-m", "tests.netns_peer", *args],
                                cwd=ROOT, env=env, text=True, stdout=subprocess.PIPE, **kwargs)


@pytest.fixture
def lan() -> Iterator[Lan]:
    tag = f"{os.getpid() % 10000}{random.randint(0, 99)}"
    net = random.randint(10, 250)
    box_ns, tablet_ns, box_if, tablet_if = f"cbox{tag}", f"ctab{tag}", f"vb{tag}", f"vt{tag}"
    try:
        ip("netns", "add", box_ns)
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"cannot make network namespaces here ({exc}); run as root with iproute2")
    try:
        ip("netns", "add", tablet_ns)
        ip("link", "add", box_if, "netns", box_ns, "type", "veth", "peer", tablet_if, "netns", tablet_ns)
        for ns, dev, address in ((box_ns, box_if, f"10.231.{net}.1/24"), (tablet_ns, tablet_if, f"10.231.{net}.2/24")):
            ip("-n", ns, "addr", "add", address, "dev", dev)
            ip("-n", ns, "link", "set", dev, "up", "multicast", "on")
            ip("-n", ns, "link", "set", "lo", "up")
        yield Lan(box_ns, tablet_ns, f"10.231.{net}.1", f"10.231.{net}.2", f"10.231.{net}.0/29", box_if)
    finally:
        for ns in (box_ns, tablet_ns):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def test_a_tablet_finds_the_box_and_its_printer(lan: Lan) -> None:
    port = random.randint(20000, 30000)
    box = lan.run(lan.box_ns, "box", lan.box_ip, str(port), stdin=subprocess.PIPE)
    try:
        assert box.stdout is not None and box.stdout.readline().strip() == "ready"
        tablet = lan.run(lan.tablet_ns, "tablet", lan.tablet_ip, lan.subnet, str(port), "10")
        out, _ = tablet.communicate(timeout=60)
        found = json.loads(out)
        assert found["box"] is not None, "the tablet did not find the box"
        assert found["box"]["addresses"] == [lan.box_ip] and found["box"]["port"] == 8080
        assert found["box"]["server"] == f"{socket.gethostname().split('.')[0]}.local."  # its own name
        assert found["box"]["txt"] == {"path": "/api/v1", "version": mdns.box_txt("", False)["version"],
                                       "shop": "Chez Marie", "pairing": "open"}
        assert [(p["name"], p["address"], p["port"], p["model"]) for p in found["printers"]] == [
            ("Kitchen printer", lan.box_ip, port, "EPSON TM-T20II")]
        assert found["probe"] == [{"address": lan.box_ip, "port": port, "model": "EPSON TM-T20II",
                                   "uri": f"tcp://{lan.box_ip}:{port}"}]
    finally:
        if box.stdin:
            box.stdin.close()  # the box stops: it withdraws its announcement
        box.wait(20)
    gone = lan.run(lan.tablet_ns, "tablet", lan.tablet_ip, lan.subnet, str(port), "3")
    out, _ = gone.communicate(timeout=30)
    assert json.loads(out)["box"] is None


def test_the_announcement_follows_a_new_address(lan: Lan) -> None:
    box = lan.run(lan.box_ns, "box", lan.box_ip, str(random.randint(20000, 30000)), stdin=subprocess.PIPE)
    try:
        assert box.stdout is not None and box.stdout.readline().strip() == "ready"
        second = lan.box_ip.rsplit(".", 1)[0] + ".5"
        ip("-n", lan.box_ns, "addr", "add", f"{second}/24", "dev", lan.box_if)  # a DHCP renewal, a 2nd link

        def announced_on_both() -> bool:
            tablet = lan.run(lan.tablet_ns, "tablet", lan.tablet_ip, lan.subnet, "1", "5")
            out, _ = tablet.communicate(timeout=30)
            box_found = json.loads(out)["box"]
            return box_found is not None and sorted(box_found["addresses"]) == sorted([lan.box_ip, second])

        wait_for(announced_on_both, 40, "the announcement to carry the new address")
    finally:
        if box.stdin:
            box.stdin.close()
        box.wait(20)


def test_comptoir_local_is_the_first_box_only(lan: Lan) -> None:
    """A phone finds the setup page as comptoir.local while there is one box; a second box
    keeps to its own name, and comptoir.local still leads to the first."""
    def pages() -> list[dict]:
        out, _ = lan.run(lan.tablet_ns, "pages", lan.tablet_ip, "4").communicate(timeout=60)
        return json.loads(out)

    first = lan.run(lan.box_ns, "box", lan.box_ip, str(random.randint(20000, 30000)), "8080", stdin=subprocess.PIPE)
    second = None
    try:
        assert first.stdout is not None and first.stdout.readline().strip() == "ready"
        wait_for(lambda: pages() == [{"server": mdns.ALIAS, "port": 8080, "addresses": [lan.box_ip]}], 40,
                 "comptoir.local, the first box's page")
        second = lan.run(lan.box_ns, "box", lan.box_ip, str(random.randint(30001, 40000)), "8081",
                         stdin=subprocess.PIPE)
        assert second.stdout is not None and second.stdout.readline().strip() == "ready"  # it has looked, announced
        assert pages() == [{"server": mdns.ALIAS, "port": 8080, "addresses": [lan.box_ip]}]
    finally:
        for box in (first, second):
            if box is not None and box.stdin:
                box.stdin.close()
                box.wait(20)


def test_a_new_box_prints_its_welcome_receipt_on_the_first_printer_it_finds(lan: Lan, tmp_path) -> None:
    """A whole box in its namespace, a receipt printer on the "shop's network" (the other
    namespace, port 9100): the box finds it by itself, gives it the emulated printer's roles
    and prints the welcome receipt on it, with the setup page's address and the setup code."""
    import threading

    from appliance import config
    from appliance.access import owner
    from appliance.printing import printers
    from appliance.runtime import redis_server
    from appliance.store import client

    printer = lan.run(lan.tablet_ns, "printer", lan.tablet_ip)
    assert printer.stdout is not None and printer.stdout.readline().strip() == "ready"
    printed: list[str] = []
    threading.Thread(target=lambda: printed.extend(json.loads(line) for line in printer.stdout), daemon=True).start()
    data = tmp_path / "box"
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "APPLIANCE_DATA_DIR")}
    env["APPLIANCE_MDNS_INTERFACES"] = lan.box_if
    with (tmp_path / "serve.log").open("wb") as log:
        box = subprocess.Popen(["ip", "netns", "exec", lan.box_ns, sys.executable, "-m", "appliance", "--data-dir",
                                str(data), "serve", "--host", "127.0.0.1", "--port", "8080", "--https-port", "0",
                                "--epos-port", "0", "--epos-https-port", "0", "--adopt-first-printer"],
                               cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        settings = config.load(data)
        wait_for(lambda: redis_server.is_up(settings), 30, "the box's Redis")
        r = client.connect(settings)
        code = owner.setup_code(r)
        welcome = wait_for(lambda: next((t for t in printed if code in t), None), 90, "the welcome receipt")
        assert f"http://{lan.box_ip}:8080/" in welcome
        real = [c for c in printers.all_configs(r) if not c.emulated]
        assert [(c.uri, sorted(c.roles)) for c in real] == [(f"tcp://{lan.tablet_ip}", ["bar", "kitchen", "receipt"])]
    finally:
        box.terminate()
        box.wait(30)
        printer.kill()
        printer.wait()


def test_an_app_s_printer_search_finds_each_exposed_printer_until_it_is_no_longer_exposed(lan: Lan,
                                                                                          tmp_path) -> None:
    """A whole box in its namespace, its kitchen printer on the "shop's network", exposed on the
    box's port 9100: an app's search finds it by mDNS (python-zeroconf browsing as apps do), by
    Epson's search and by Star's (their packets as their SDKs send them); unexposed, it is gone."""
    from appliance import config
    from appliance.printing import printers
    from appliance.runtime import redis_server
    from appliance.store import client

    printer = lan.run(lan.tablet_ns, "printer", lan.tablet_ip)
    assert printer.stdout is not None and printer.stdout.readline().strip() == "ready"
    data = tmp_path / "box"
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "APPLIANCE_DATA_DIR")}
    env["APPLIANCE_MDNS_INTERFACES"] = lan.box_if
    with (tmp_path / "serve.log").open("wb") as log:
        box = subprocess.Popen(["ip", "netns", "exec", lan.box_ns, sys.executable, "-m", "appliance", "--data-dir",
                                str(data), "serve", "--host", "0.0.0.0", "--port", "8080", "--https-port", "0",
                                "--epos-port", "0", "--epos-https-port", "0"],
                               cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    broadcast = lan.box_ip.rsplit(".", 1)[0] + ".255"

    def search() -> dict:
        app = lan.run(lan.tablet_ns, "apps", lan.tablet_ip, broadcast, "3")
        return json.loads(app.communicate(timeout=60)[0])

    try:
        settings = config.load(data)
        wait_for(lambda: redis_server.is_up(settings), 30, "the box's Redis")
        r = client.connect(settings)
        printers.add(r, printers.validate("cuisine", f"tcp://{lan.tablet_ip}", ["kitchen"]))
        printers.expose(r, "cuisine", 9100)
        wait_for(lambda: printers.state(r, "cuisine").model, 30, "the box to know its printer")
        found = wait_for(lambda: (lambda f: f if f["mdns"] and f["epson"] and f["star"] else None)(search()), 60,
                         "the printer in an app's search")
        [announced] = found["mdns"]
        assert announced["name"] == f"Comptoir · Cuisine.{mdns.PRINTER_SERVICE}"
        assert announced["addresses"] == [lan.box_ip] and announced["port"] == 9100
        assert announced["txt"]["ty"] == "EPSON TM-T20II" and announced["txt"]["usb_MDL"] == "TM-T20II"
        assert announced["txt"]["pdl"] == "application/vnd.epson.escpos" and announced["txt"]["note"] == "kitchen"
        [epson] = found["epson"]
        assert epson == {"from": lan.box_ip, "size": 184, "head": "EPSONq\x03\x00\x00", "mac": epson["mac"],
                         "name": "Comptoir Cuisine", "model": "TM-T20II"}
        [star] = found["star"]
        assert star["from"] == lan.box_ip and star["size"] == 302 and star["head"] == "STR_BCAST"
        assert star["name"] == "Comptoir Cuisine" and star["mac"] == epson["mac"]
        printers.expose(r, "cuisine", None)
        wait_for(lambda: search() == {"mdns": [], "epson": [], "star": []}, 60, "the printer gone from the search")
    finally:
        box.terminate()
        box.wait(30)
        printer.kill()
        printer.wait()


def test_a_long_shop_name_is_cut_to_a_dns_label_on_a_letter() -> None:
    name = mdns.instance_name("Ресторан «Золотой петушок» на Красной площади. Москва")
    assert len(name.encode()) <= 63 and "." not in name
    assert name.encode().decode() == name and name.startswith("Ресторан «Золотой петушок»")
    assert mdns.instance_name("Chez Zofia") == "Chez Zofia"
