"""A printer's own address on the shop's network, for apps that take only an address.

Odoo's Epson printers post to ``http://PRINTER/cgi-bin/epos/service.cgi?devid=local_printer``,
receiptio dials port 9100, and many apps have one field, "the printer's IP": given the box's
address, they all reach one printer. Given its own address, each reaches its own. The box makes
a second network interface for the printer on its Ethernet, a macvlan with its own MAC address,
so the shop's router sees one more device and leases it an address by DHCP as it would to the
printer; whatever arrives there is for that printer (port 9100, ePOS-Print, Epson's and Star's
searches, its mDNS record: the modules that serve them ask ``printer_at``).

Two ways to hold the lease, by what runs on the machine:
- **NetworkManager** (the card): a macvlan connection with NetworkManager's own DHCP, kept and
  renewed by NetworkManager, back after a reboot before the box starts; the box adds and
  deletes it (its polkit rule lets the comptoir user).
- **``ip`` and BusyBox's ``udhcpc``** (a Debian machine without NetworkManager, run as root; the
  tests' network namespaces): the interface made with ``ip link``, a ``udhcpc`` per printer
  renewing the lease with the script below, which only puts the address on the interface (no
  route, no DNS: the box's own interface has those).

The MAC address is made from the box's own and the printer's name, so the router leases the
same address again after a restart. Wi-Fi cannot carry one: an access point takes frames only
from the MAC address that joined it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import shutil
import subprocess
import threading
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

import redis

from appliance.printing import printers
from appliance.store import keys

log = logging.getLogger(__name__)

FOLLOW_EVERY = 1.0
PREFIX = "cpt"  # the interfaces' names: cpt + 8 hex digits (IFNAMSIZ leaves 15)
CONNECTION = "comptoir-printer-"  # NetworkManager connections' names: + the interface's
ASKING, NEEDS_ETHERNET = "asking the router", "needs the box on Ethernet"
UDHCPC_SCRIPT = """#!/bin/sh
# udhcpc's events for a printer's own address (appliance/system/addresses.py).
case "$1" in
  deconfig) ip -4 addr flush dev "$interface" ;;
  bound) ip -4 addr flush dev "$interface"; ip -4 addr add "$ip/${mask:-24}" dev "$interface" ;;
  renew) ip -4 addr replace "$ip/${mask:-24}" dev "$interface" ;;
esac
"""


@dataclass(frozen=True)
class Address:
    """A printer's own address, as the page and the CLI show it."""

    address: str | None  # None until the router leased one
    interface: str
    mac: str
    state: str  # "ready", ASKING, or why it cannot have one


def interface_name(printer: str) -> str:
    return PREFIX + hashlib.sha256(printer.encode()).hexdigest()[:8]


def mac_for(printer: str, box: int | None = None) -> str:
    """A locally administered unicast MAC address, the same for this box and printer on every
    start (``box``: the box's own MAC as a number)."""
    seed = f"{uuid.getnode() if box is None else box}/{printer}".encode()
    octets = bytearray(hashlib.sha256(seed).digest()[:6])
    octets[0] = (octets[0] & 0xFC) | 0x02
    return ":".join(f"{o:02x}" for o in octets)


def read(r: redis.Redis) -> dict[str, Address]:
    """Every printer's own address as the background process last wrote it."""
    return {name.decode(): Address(**json.loads(value)) for name, value in r.hgetall(keys.printer_addresses()).items()}


def printer_at(r: redis.Redis, address: str) -> str | None:
    """The printer whose own address an app dialled (None: the box's own address)."""
    address = address.split("%")[0].removeprefix("::ffff:")
    return next((name for name, held in read(r).items() if held.address == address), None)


def _ip(*args: str, check: bool = True) -> str:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check, timeout=10).stdout


def _held(interface: str) -> str | None:
    """The IPv4 address on ``interface`` now (None: none yet, or no such interface)."""
    try:
        found = json.loads(_ip("-j", "-4", "addr", "show", "dev", interface) or "[]")
    except (subprocess.CalledProcessError, json.JSONDecodeError):
        return None
    return next((a["local"] for link in found for a in link.get("addr_info", [])), None)


def parent_interface() -> str | None:
    """The Ethernet interface the printers' addresses hang from: the one of the default route,
    else the first interface up with an IPv4 address (a shop network without internet)."""
    try:
        for route in json.loads(_ip("-j", "route", "show", "default") or "[]"):
            if route.get("dev"):
                return route["dev"]
        for link in json.loads(_ip("-j", "-4", "addr", "show", "up") or "[]"):
            if link.get("ifname") != "lo" and not link["ifname"].startswith(PREFIX) and link.get("addr_info"):
                return link["ifname"]
        _said("no interface with an IPv4 address")
    except subprocess.CalledProcessError as exc:
        _said(f"ip {' '.join(exc.cmd[1:])}: {(exc.stderr or '').strip() or exc.returncode}")
    except (json.JSONDecodeError, OSError) as exc:
        _said(f"the interfaces could not be read: {exc}")
    return None


_last_said: list[str] = []


def _said(why: str) -> None:
    """Why no Ethernet interface was found, in the journal once (it is asked every second)."""
    if _last_said != [why]:
        log.warning("printers' own addresses: no Ethernet interface found (%s)", why)
        _last_said[:] = [why]


def _wireless(interface: str) -> bool:
    return Path(f"/sys/class/net/{interface}/wireless").exists()


class _NetworkManager:
    """Addresses as NetworkManager connections (the card)."""

    def __init__(self) -> None:
        self.failed: dict[str, str | None] = {}

    @staticmethod
    def running() -> bool:
        if not shutil.which("nmcli"):
            return False
        done = subprocess.run(["nmcli", "-t", "-f", "RUNNING", "general"], capture_output=True, text=True,
                              check=False, timeout=10)
        return done.returncode == 0 and done.stdout.strip() == "running"

    def _nmcli(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["nmcli", *args], capture_output=True, text=True, check=False, timeout=30)

    def held(self) -> set[str]:
        listed = self._nmcli("-t", "-f", "NAME", "connection", "show").stdout.split()
        return {name.removeprefix(CONNECTION) for name in listed if name.startswith(CONNECTION)}

    def parent(self) -> str | None:
        """The Ethernet device NetworkManager has connected (on the card, the box's services
        may not run ``ip``: it drops capabilities at start, which their sandbox forbids)."""
        for line in self._nmcli("-t", "-f", "DEVICE,TYPE,STATE", "device", "status").stdout.splitlines():
            device, kind, state = [*line.split(":"), "", ""][:3]
            if kind == "ethernet" and state.startswith("connected"):
                return device
        _said("NetworkManager has no Ethernet device connected")
        return None

    def address(self, interface: str) -> str | None:
        shown = self._nmcli("-g", "IP4.ADDRESS", "device", "show", interface).stdout.strip()
        return shown.split(" | ")[0].split("/")[0] or None if shown else None

    def ensure(self, interface: str, mac: str, parent: str) -> str | None:
        if interface in self.held():
            return self.failed.get(interface)
        done = self._nmcli("connection", "add", "type", "macvlan", "con-name", CONNECTION + interface,
                           "ifname", interface, "dev", parent, "mode", "bridge", "tap", "no",
                           "802-3-ethernet.cloned-mac-address", mac, "ipv4.method", "auto",
                           "ipv4.never-default", "yes", "ipv4.ignore-auto-dns", "yes", "ipv6.method", "disabled",
                           "connection.autoconnect", "yes")
        if done.returncode == 0:
            done = self._nmcli("connection", "up", CONNECTION + interface)  # asks the router now
        self.failed[interface] = (done.stderr.strip() or "NetworkManager refused") if done.returncode else None
        return self.failed[interface]

    def remove(self, interface: str) -> None:
        self._nmcli("connection", "delete", CONNECTION + interface)
        self.failed.pop(interface, None)

    def close(self) -> None:
        """NetworkManager keeps the leases while the box is stopped: nothing to undo."""


class _Udhcpc:
    """Addresses as ``ip link`` interfaces with a ``udhcpc`` each (root, no NetworkManager)."""

    def __init__(self, data_dir: Path) -> None:
        self.script = data_dir / "udhcpc.sh"
        self.clients: dict[str, subprocess.Popen] = {}

    def held(self) -> set[str]:
        with contextlib.suppress(subprocess.CalledProcessError, json.JSONDecodeError):
            return {link["ifname"] for link in json.loads(_ip("-j", "link", "show", "type", "macvlan") or "[]")
                    if link["ifname"].startswith(PREFIX)}
        return set()

    @staticmethod
    def parent() -> str | None:
        return parent_interface()

    @staticmethod
    def address(interface: str) -> str | None:
        return _held(interface)

    def ensure(self, interface: str, mac: str, parent: str) -> str | None:
        if not shutil.which("udhcpc"):
            return "udhcpc is not installed (apt install udhcpc)"
        if interface not in self.held():
            made = subprocess.run(["ip", "link", "add", "link", parent, "name", interface, "address", mac,
                                   "type", "macvlan", "mode", "bridge"], capture_output=True, text=True,
                                  check=False, timeout=10)
            if made.returncode:
                return made.stderr.strip()
            _ip("link", "set", interface, "up", check=False)
        client = self.clients.get(interface)
        if client is None or client.poll() is not None:
            if not self.script.exists():
                self.script.write_text(UDHCPC_SCRIPT)
                self.script.chmod(0o755)
            # -f: in the foreground, renewing; -R: the lease given back when the printer's address goes.
            self.clients[interface] = subprocess.Popen(
                ["udhcpc", "-f", "-R", "-i", interface, "-s", str(self.script), "-t", "5", "-T", "2", "-A", "5"],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return None

    def remove(self, interface: str) -> None:
        client = self.clients.pop(interface, None)
        if client is not None:
            client.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                client.wait(5)
        _ip("link", "delete", interface, check=False)

    def close(self) -> None:
        """The box stopping: the addresses go with it (no client would renew them)."""
        for interface in list(self.clients):
            self.remove(interface)


def serve(r: redis.Redis, stop: threading.Event, data_dir: Path) -> None:
    """The background process's side: the addresses the owner asked for, held until ``stop``;
    what each is doing published for the page. Nothing runs (no process, no ``ip``) until a
    printer wants one."""
    backend: _NetworkManager | _Udhcpc | None = None
    published: dict[str, Address] | None = None
    try:
        while not stop.wait(0):
            try:
                wanted = {c.name for c in printers.all_configs(r) if c.own_address}
                if wanted and backend is None:
                    backend = _NetworkManager() if _NetworkManager.running() else _Udhcpc(data_dir)
                if backend is not None:
                    now = _follow(backend, wanted)
                    if now != published:
                        _publish(r, now)
                        published = now
            except redis.RedisError as exc:
                log.warning("printers' own addresses: %s; trying again", exc)
            except (OSError, subprocess.SubprocessError) as exc:
                log.warning("printers' own addresses: %s", exc)
            stop.wait(FOLLOW_EVERY)
    finally:
        if backend is not None:
            backend.close()


def _follow(backend: _NetworkManager | _Udhcpc, wanted: set[str]) -> dict[str, Address]:
    interfaces = {interface_name(name): name for name in wanted}
    for interface in backend.held() - set(interfaces):
        backend.remove(interface)  # its printer was removed or gave its address back
    parent = backend.parent()
    now = {}
    for interface, name in interfaces.items():
        mac = mac_for(name)
        problem = NEEDS_ETHERNET if parent is None or _wireless(parent) else backend.ensure(interface, mac, parent)
        held = None if problem else backend.address(interface)
        now[name] = Address(held, interface, mac, problem or ("ready" if held else ASKING))
    return now


def _publish(r: redis.Redis, now: dict[str, Address]) -> None:
    with r.pipeline() as pipe:
        pipe.delete(keys.printer_addresses())
        if now:
            pipe.hset(keys.printer_addresses(), mapping={name: json.dumps(asdict(a)) for name, a in now.items()})
        pipe.execute()
    for name, held in now.items():
        if held.address:
            log.info("printer %s has its own address %s (%s)", name, held.address, held.interface)

