"""A bounded probe of port 9100 (raw ESC/POS) on a subnet, asking each printer that answers
for its model with GS I. Started by a person (`appliance printers discover --probe`), never
in the background, and limited to MAX_HOSTS addresses."""

from __future__ import annotations

import ipaddress
import socket
from concurrent.futures import ThreadPoolExecutor

import ifaddr

MAX_HOSTS = 1024
CONNECT_TIMEOUT = 0.4
GS_I = b"\x1dI"
MANUFACTURER, MODEL = 66, 67


def local_addresses(skip: str | None = None) -> list[str]:
    """This machine's IPv4 addresses, loopback aside, and those of interfaces named ``skip``…
    (the printers' own addresses, system/addresses.py: the box is not announced there)."""
    return sorted(ip.ip for adapter in ifaddr.get_adapters() for ip in adapter.ips
                  if isinstance(ip.ip, str) and not ip.ip.startswith("127.")
                  and not (skip and adapter.nice_name.startswith(skip)))


def local_subnets() -> list[str]:
    """The IPv4 subnets of this machine's interfaces (loopback aside)."""
    found = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            if isinstance(ip.ip, str) and not ip.ip.startswith("127."):
                found.append(str(ipaddress.ip_network(f"{ip.ip}/{ip.network_prefix}", strict=False)))
    return sorted(set(found))


def hosts(subnets: list[str]) -> list[str]:
    addresses: list[str] = []
    for subnet in subnets:
        network = ipaddress.ip_network(subnet, strict=False)
        if network.num_addresses > MAX_HOSTS:
            raise ValueError(f"{subnet} has {network.num_addresses} addresses; probe at most {MAX_HOSTS} at once")
        addresses.extend(str(h) for h in network.hosts())
    if len(addresses) > MAX_HOSTS:
        raise ValueError(f"{len(addresses)} addresses; probe at most {MAX_HOSTS} at once")
    return addresses


def _ask(sock: socket.socket, what: int) -> str | None:
    """GS I 66/67: the printer answers "_" + text + NUL."""
    sock.sendall(GS_I + bytes([what]))
    answer = b""
    try:
        while not answer.endswith(b"\x00") and len(answer) < 100:
            chunk = sock.recv(100)
            if not chunk:
                break
            answer += chunk
    except TimeoutError:
        pass
    if answer.startswith(b"_") and answer.endswith(b"\x00"):
        return answer[1:-1].decode("ascii", errors="replace").strip() or None
    return None


def _probe_one(address: str, port: int) -> dict | None:
    try:
        sock = socket.create_connection((address, port), timeout=CONNECT_TIMEOUT)
    except OSError:
        return None
    with sock:
        sock.settimeout(1.0)
        try:
            maker, model = _ask(sock, MANUFACTURER), _ask(sock, MODEL)
        except OSError:
            maker = model = None
    label = " ".join(part for part in (maker, model) if part) or None
    return {"address": address, "port": port, "model": label, "uri": f"tcp://{address}:{port}" if port != 9100
            else f"tcp://{address}"}


def probe(addresses: list[str], port: int = 9100, concurrency: int = 64) -> list[dict]:
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        return [found for found in pool.map(lambda a: _probe_one(a, port), addresses) if found]
