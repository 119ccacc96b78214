"""systemd's notify protocol (READY=1, WATCHDOG=1): one datagram to $NOTIFY_SOCKET.

Eight lines of standard library do it; no dependency is worth adding for that. Outside
systemd (no NOTIFY_SOCKET) it does nothing.
"""

import os
import socket


def notify(state: str) -> None:
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return
    if address.startswith("@"):
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
        sock.connect(address)
        sock.sendall(state.encode())
