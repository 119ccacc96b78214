"""Epson's and Star's own printer searches, answered for the printers the box exposes, so the
"search for printers" of a native app finds them as it finds a printer of the maker's.

- **Epson** (ENPC, UDP 3289): the ePOS SDK's ``Discovery`` and Epson's utilities broadcast
  ``EPSONQ`` with a query header; a TM printer answers ``EPSONq``, the header echoed, 184
  bytes in all, its MAC address from byte 14 and its name from byte 56: what published
  clients read. The model (byte 24) and address (byte 120) are the box's own additions, in
  bytes those clients skip.
- **Star** (UDP 22222): Star's SDKs and utilities broadcast ``STR_BCAST`` … ``RQ1.0.0``; a
  printer's interface board answers ``STR_BCAST`` … ``RS1.0.1``: 302 bytes of fixed fields
  (its board and firmware, MAC and IPv4 settings, maker, model with its emulation, name),
  the length at bytes 24-25.

Both searches find an address, not a port: apps then dial 9100. So at the box's address the
printer answered for is the one exposed on port 9100 (the others are found by mDNS, which
carries their port), and each printer with its own address (system/addresses.py) answers
from it, as itself: a broadcast reaches every interface of the box, and each copy is
answered from the interface it came in by (``IP_PKTINFO``), with that interface's address and
MAC address.
The answers are built by pure functions; ``serve`` listens while the discovery setting
allows (``APPLIANCE_MDNS_INTERFACES``: off, no answers).
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import struct
import threading
import uuid
from dataclasses import dataclass

import redis

from appliance.discovery import mdns
from appliance.errors import NotFound
from appliance.printing import languages, printers
from appliance.system import addresses

log = logging.getLogger(__name__)

EPSON_PORT = 3289
STAR_PORT = 22222
RAW_PORT = 9100  # what both searches' apps dial at the address they found
EPSON_QUERY = b"EPSONQ"
EPSON_REPLY_SIZE = 184
STAR_QUERY = b"STR_BCAST"
STAR_REPLY_SIZE = 302
IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)  # Linux's value; Python names it only on some systems
PKTINFO = struct.Struct("@i4s4s")  # struct in_pktinfo: interface index, local address, header address


@dataclass(frozen=True)
class Found:
    """What a search answer says of one exposed printer."""

    name: str  # "Comptoir Cuisine": ASCII, as the printers' own name fields are
    family: str  # escpos or star
    model: str | None  # as the printer told the box
    address: str  # the box's address on the asker's network
    mac: bytes  # six bytes


def _ascii(text: str, size: int) -> bytes:
    return text.encode("ascii", "replace")[:size - 1]


def epson_reply(query: bytes, found: Found) -> bytes | None:
    """The answer of a TM printer to an ENPC query; None for what is not one."""
    if len(query) < 14 or not query.startswith(EPSON_QUERY):
        return None
    reply = bytearray(EPSON_REPLY_SIZE)
    reply[0:6] = b"EPSONq"
    reply[6:10] = query[6:10]  # the query's type and command, echoed
    reply[12:14] = struct.pack(">H", EPSON_REPLY_SIZE - 14)
    reply[14:20] = found.mac
    model = found.model if found.family == languages.ESCPOS and found.model else "TM-T88VI"
    reply[24:24 + 32] = _ascii(model, 32).ljust(32, b"\0")
    reply[56:56 + 64] = _ascii(found.name, 64).ljust(64, b"\0")
    reply[120:124] = socket.inet_aton(found.address)
    return bytes(reply)


def star_reply(query: bytes, found: Found) -> bytes | None:
    """The answer of a Star interface board to Star's search; None for what is not one.
    An Epson printer is described as a StarPRNT one: a Star app's bytes reach it drawn as a
    picture (printing/translate.py)."""
    if not query.startswith(STAR_QUERY) or b"RQ" not in query[9:20]:
        return None
    model = found.model if found.family == "star" and found.model else "mC-Print3 (STR-001)"
    fields = (
        (16, STAR_QUERY), (8, b"RS1.0.1"), (2, b""), (10, b""),
        (16, b"IFBD-HE07"), (8, b"V1.0"), (8, b"V1.0"), (10, b""),
        (10, found.mac), (4, socket.inet_aton(found.address)), (16, b"DHCP"),
        (4, b"\xff\xff\xff\x00"), (4, b""), (24, b""),
        (32, b"Star"), (32, b"STAR"), (64, _ascii(model, 64)), (32, _ascii(found.name, 32)), (2, b""),
    )
    reply = bytearray(b"".join(value[:size].ljust(size, b"\0") for size, value in fields))
    reply[24:26] = struct.pack(">H", len(reply))
    return bytes(reply)


def answered_printer(r: redis.Redis) -> printers.PrinterConfig | None:
    """The printer the searches describe: the one exposed on port 9100."""
    return next((c for c in printers.all_configs(r) if c.port == RAW_PORT), None)


def box_address(toward: str) -> str:
    """The box's address on the network ``toward`` is on (no packet is sent: a UDP socket's
    connect only picks the route)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect((toward, 9))
        return probe.getsockname()[0]


def _found(r: redis.Redis, asker: str, interface: str | None) -> Found | None:
    """What to answer a search that came in by ``interface``: the printer whose own address
    that interface holds, else the one on port 9100 at the box's address."""
    own = next(((name, held) for name, held in addresses.read(r).items()
                if held.interface == interface and held.address), None)
    if own is None and interface and interface.startswith(addresses.PREFIX):
        return None  # a printer's interface still asking the router for its address
    try:
        config = printers.get(r, own[0]) if own else answered_printer(r)
    except NotFound:
        return None
    if config is None:
        return None
    shown = printers.state(r, config.name)
    return Found(name=mdns.printer_instance(config.name).replace(" · ", " "), family=languages.family(config.language),
                 model=shown.model, address=own[1].address if own else box_address(asker),
                 mac=bytes.fromhex(own[1].mac.replace(":", "")) if own else uuid.getnode().to_bytes(6, "big"))


def _listener(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)  # each datagram says the interface it came in by
    sock.bind(("0.0.0.0", port))  # broadcasts arrive on the wildcard address only
    return sock


def _receive(sock: socket.socket) -> tuple[bytes, tuple[str, int], int]:
    """A datagram, who sent it, and the index of the interface it came in by (0: unknown)."""
    query, ancillary, _, asker = sock.recvmsg(2048, socket.CMSG_SPACE(PKTINFO.size))
    index = next((PKTINFO.unpack(data[:PKTINFO.size])[0] for level, kind, data in ancillary
                  if level == socket.IPPROTO_IP and kind == IP_PKTINFO), 0)
    return query, asker, index


def _reply(sock: socket.socket, reply: bytes, asker: tuple[str, int], index: int, source: str) -> None:
    """Sent from ``source`` out of the interface the search came in by: a printer's own
    address answers as its own device, not through the box's main interface."""
    info = PKTINFO.pack(index, socket.inet_aton(source), b"\0" * 4)
    sock.sendmsg([reply], [(socket.IPPROTO_IP, IP_PKTINFO, info)], 0, asker)


def serve(r: redis.Redis, stop: threading.Event, interfaces: str) -> None:
    """The background process's side: answer both searches until ``stop``."""
    if mdns.interfaces_setting(interfaces) is None:
        return
    makers = {EPSON_PORT: epson_reply, STAR_PORT: star_reply}
    sockets = {}
    for port in makers:
        try:
            sockets[port] = _listener(port)
        except OSError as exc:
            log.warning("printer searches on UDP %d not answered: %s", port, exc)
    try:
        while sockets and not stop.wait(0):  # each round a heartbeat of the background part
            ready, _, _ = select.select(list(sockets.values()), [], [], 1.0)
            for port, sock in sockets.items():
                if sock not in ready:
                    continue
                try:
                    query, asker, index = _receive(sock)
                    interface = socket.if_indextoname(index) if index else None
                    found = _found(r, asker[0], interface)
                except (redis.RedisError, OSError) as exc:
                    log.warning("a printer search went unanswered: %s", exc)
                    continue
                reply = makers[port](query, found) if found else None
                if reply is not None and found is not None:
                    with contextlib.suppress(OSError):
                        _reply(sock, reply, asker, index, found.address)
    finally:
        for sock in sockets.values():
            sock.close()
