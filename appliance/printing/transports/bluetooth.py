"""Bluetooth printers: ESC/POS over RFCOMM (``bt://MAC[/CHANNEL]``, channel 1 by default),
with the standard library's Bluetooth sockets (Debian's Python has them; PyPI's pybluez
does not build on 3.11).

Bluetooth printers drop their link often. Nothing special is needed here: a failed send
raises TransportError, the worker closes the link, dials again with its backoff, and sends
the interrupted job again whole with the REPRINT mark; a printer that is off keeps its jobs
queued like any other.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Callable
from urllib.parse import SplitResult

from appliance.printing.transports import Transport, TransportError, register
from appliance.printing.transports.stream import SocketTransport

MAC = re.compile(r"^[0-9A-F]{2}(:[0-9A-F]{2}){5}$")
CONNECT_TIMEOUT = 8.0  # pages a sleeping printer: slower than a LAN connect


def available() -> str | None:
    """None when this machine can open RFCOMM sockets, else why not, in plain words."""
    if not hasattr(socket, "AF_BLUETOOTH"):
        return "this Python was built without Bluetooth sockets (use Debian's python3 on the box)"
    try:
        socket.socket(socket.AF_BLUETOOTH, socket.SOCK_STREAM, socket.BTPROTO_RFCOMM).close()
    except OSError as exc:
        return f"this machine has no Bluetooth adapter or kernel support ({exc.strerror})"
    return None


class BluetoothTransport(SocketTransport):
    def __init__(self, uri: str, mac: str, channel: int,
                 dial: Callable[[], socket.socket] | None = None) -> None:
        super().__init__(uri)
        self.mac, self.channel = mac, channel
        self._dial = dial  # a stand-in stream socket, for tests on machines without a radio

    def dial(self) -> socket.socket:
        if self._dial is not None:
            return self._dial()
        problem = available()
        if problem:
            raise TransportError(problem)
        sock = socket.socket(socket.AF_BLUETOOTH, socket.SOCK_STREAM, socket.BTPROTO_RFCOMM)
        sock.settimeout(CONNECT_TIMEOUT)
        try:
            sock.connect((self.mac, self.channel))
        except OSError:
            sock.close()
            raise
        return sock


@register("bt")
def _from_uri(uri: str, parts: SplitResult, profile: str, width_mm: int) -> Transport:
    mac = parts.netloc.upper()
    if not MAC.match(mac):
        raise ValueError(f"bt:// needs the printer's address, like bt://00:11:22:33:44:55/1 (got {uri!r})")
    channel = parts.path.strip("/") or "1"
    if not channel.isdigit() or not 1 <= int(channel) <= 30:
        raise ValueError(f"RFCOMM channel 1-30 in {uri!r}")
    return BluetoothTransport(uri, mac, int(channel))
