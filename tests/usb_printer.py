"""A real USB receipt printer inside the booted card, for the image test (test_image.py puts
this file and its unit on the card; it never ships).

The card's kernel has the dummy USB controller (``dummy_hcd``: a device side and a host side
joined in software) and the printer gadget function (``usb_f_printer``). This builds, through
configfs, a USB device of class 7 on the device side, announced as an Epson TM-T20II
(04b8:0e15, its IEEE 1284 device ID in the gadget's ``pnp_string``); the box sees it on its
host side as it would see the cable of a real one (enumeration, usblp, udev, libusb).

Behind ``/dev/g_printer0`` (the data the host writes to the bulk OUT endpoint, and what is
written back goes to bulk IN) sits the box's own printer model, ``EmulatedPrinter``: a small
receive buffer, an engine printing at a set speed, DLE EOT answered at once, GS r / GS ( H
when the engine reaches them. The gadget's other status channel is one byte, the USB printer
class's GET_PORT_STATUS (paper empty, selected, not error; set with the
GADGET_SET_PRINTER_STATUS ioctl): it follows the paper.

A small HTTP server on port 9999 (forwarded to the host's loopback by qemu) lets the test read
what reached the paper (``GET /``) and the box's journal when it fails (``GET /journal``), and
pull the cable out or put it back (``POST /unplug``, ``POST /plug``: the gadget unbound from
the controller, or bound again). A printer unplugged keeps its buffer and prints what it had,
as a self-powered one does.

Run as root by the box's own Python: ``/opt/comptoir/venv/bin/python usb_printer.py``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import select
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from appliance.printing.emulated.printer import EmulatedPrinter

CONFIGFS = Path("/sys/kernel/config")
GADGET = CONFIGFS / "usb_gadget" / "tmt20"
DEVICE = "/dev/g_printer0"
PNP = "MFG:EPSON;CMD:ESC/POS;MDL:TM-T20II;CLS:PRINTER;DES:EPSON TM-T20II;"
SPEED_MM_S = 80.0  # a slow printer: a long receipt is still printing when the cable goes
# include/uapi/linux/usb/g_printer.h: _IOWR('g', 0x22, unsigned char); the status bits
GADGET_SET_PRINTER_STATUS = 0xC0016722
NOT_ERROR, SELECTED, PAPER_EMPTY = 0x08, 0x10, 0x20


def write(path: Path, value: str) -> None:
    path.write_text(value)


def build_gadget() -> str:
    """The gadget in configfs, not yet bound; the dummy controller's name."""
    subprocess.run(["modprobe", "-a", "configfs", "libcomposite", "dummy_hcd", "usb_f_printer"], check=True)
    if not (CONFIGFS / "usb_gadget").is_dir():
        subprocess.run(["mount", "-t", "configfs", "none", str(CONFIGFS)], check=True)
    GADGET.mkdir(exist_ok=True)
    write(GADGET / "idVendor", "0x04b8")
    write(GADGET / "idProduct", "0x0e15")
    write(GADGET / "bcdUSB", "0x0200")
    strings = GADGET / "strings" / "0x409"
    strings.mkdir(parents=True, exist_ok=True)
    write(strings / "manufacturer", "EPSON")
    write(strings / "product", "TM-T20II")
    write(strings / "serialnumber", "X4ZE012345")
    config = GADGET / "configs" / "c.1"
    (config / "strings" / "0x409").mkdir(parents=True, exist_ok=True)
    write(config / "strings" / "0x409" / "configuration", "printer")
    write(config / "MaxPower", "2")  # self-powered
    function = GADGET / "functions" / "printer.usb0"
    function.mkdir(parents=True, exist_ok=True)
    write(function / "pnp_string", PNP)
    write(function / "q_len", "2")  # two requests a direction: the gadget buffers little
    link = config / "printer.usb0"
    if not link.exists():
        link.symlink_to(function)
    return sorted(p.name for p in Path("/sys/class/udc").iterdir())[0]


class UsbPrinter:
    def __init__(self) -> None:
        self.printer = EmulatedPrinter(speed_mm_s=SPEED_MM_S)
        self.udc = build_gadget()
        self.plugged = threading.Event()
        self.connections = 0

    def plug(self, plugged: bool) -> None:
        if plugged == self.plugged.is_set():
            return
        write(GADGET / "UDC", self.udc if plugged else "\n")
        (self.plugged.set if plugged else self.plugged.clear)()

    def run(self) -> None:
        """One cable at a time: open the gadget's device once the host has configured it,
        carry bytes both ways until the cable goes, then wait for it to come back."""
        while True:
            self.plugged.wait()
            try:
                fd = os.open(DEVICE, os.O_RDWR | os.O_NONBLOCK)
            except OSError:  # not configured by the host yet
                time.sleep(0.2)
                continue
            try:
                self._carry(fd)
            finally:
                os.close(fd)
            time.sleep(0.2)  # the cable's other end settles before the next open

    def _carry(self, fd: int) -> None:
        ours, theirs = socket.socketpair()
        for end in (ours, theirs):  # a printer's buffer is small: no big socket buffers between
            end.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
            end.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.connections += 1
        threading.Thread(target=self.printer.serve, args=(theirs,), daemon=True).start()
        answers = threading.Thread(target=self._answers, args=(ours, fd), daemon=True)
        answers.start()
        try:
            while self.plugged.is_set():
                fcntl.ioctl(fd, GADGET_SET_PRINTER_STATUS,
                            NOT_ERROR | SELECTED | (PAPER_EMPTY if self.printer.state.paper == "out" else 0))
                if not select.select([fd], [], [], 0.2)[0]:
                    continue
                try:
                    data = os.read(fd, 4096)
                except BlockingIOError:
                    continue
                if not data:
                    break
                ours.setblocking(True)
                ours.sendall(data)  # blocks while the printer's buffer is full: the host's writes stall
        except OSError:  # the cable went (the host's side of the gadget is gone)
            pass
        finally:
            with contextlib.suppress(OSError):
                ours.shutdown(socket.SHUT_RDWR)
            ours.close()
            answers.join(5)

    @staticmethod
    def _answers(ours: socket.socket, fd: int) -> None:
        """What the printer answers goes to the host through bulk IN."""
        with contextlib.suppress(OSError):
            while data := ours.recv(512):
                while data:
                    try:
                        data = data[os.write(fd, data):]
                    except BlockingIOError:
                        select.select([], [fd], [], 0.2)


def serve_control(usb: UsbPrinter) -> None:
    class Control(BaseHTTPRequestHandler):
        def _answer(self, body: object) -> None:
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path == "/journal":  # what the box said, for a failing test's message
                said = subprocess.run(["journalctl", "-b", "--no-pager"], capture_output=True, text=True).stdout
                kept = [line for line in said.splitlines() if " audit" not in line and " kernel: " not in line]
                self._answer("\n".join(kept[-400:]))
                return
            self._answer({"receipts": [r.text for r in usb.printer.receipts], "received": len(usb.printer.raw),
                          "plugged": usb.plugged.is_set(), "connections": usb.connections})

        def do_POST(self) -> None:
            usb.plug(self.path == "/plug")
            self._answer({"plugged": usb.plugged.is_set()})

        def log_message(self, *args: object) -> None:
            pass

    ThreadingHTTPServer(("0.0.0.0", 9999), Control).serve_forever()


if __name__ == "__main__":
    usb = UsbPrinter()
    threading.Thread(target=serve_control, args=(usb,), daemon=True).start()
    usb.plug(True)
    usb.run()
