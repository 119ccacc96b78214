"""ePOS-Print and WebPRNT on an exposed printer's own port, for apps that take only an address.

Odoo's POS posts every Epson printer's receipts to ``http(s)://ADDRESS/cgi-bin/epos/service.cgi?
devid=local_printer``: given the box's address alone, all its printers would print on the
first receipt printer. Given ``box-address:PORT`` (the printer's own port, the one raw apps
print to), the request reaches that printer whatever its devid; the same holds for Star's
WebPRNT (``/StarWebPRNT/SendMessage``). One port, three ways in: the virtual port tells a
web request (an HTTP request line, or a TLS handshake for ``https://``, wrapped with the box's
own certificate) from an app's printer bytes by its first bytes, which no receipt starts with.

CORS for any origin, with Chrome's Private Network Access answer, as on the box's own ePOS
ports (web/cors.py). The work is the services' (printing/epos.py, printing/webprnt.py).
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import time
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

import redis

from appliance.errors import NotFound
from appliance.printing import epos, printers, webprnt
from appliance.system.tls import Tls

METHODS = (b"POST /", b"GET /", b"OPTIONS /", b"HEAD /")
TLS_HANDSHAKE = b"\x16\x03"  # a TLS record header: a handshake, version 3.x
IDLE = 30.0  # seconds a kept-alive web connection may wait for its next request
TOLD_WITHIN = 2.0  # seconds the first bytes may take to say what they are


def kind(sock: socket.socket) -> str:
    """What the first bytes on a new connection are: "http", "tls" or "raw" (printer
    bytes), read without taking them. Waits while they could still be either."""
    deadline = time.monotonic() + TOLD_WITHIN
    while True:
        try:
            head = sock.recv(16, socket.MSG_PEEK)
        except OSError:
            return "raw"
        if head.startswith(TLS_HANDSHAKE):
            return "tls"
        if any(head.startswith(method) for method in METHODS):
            return "http"
        maybe = any(method.startswith(head) for method in METHODS) or TLS_HANDSHAKE.startswith(head)
        if not head or not maybe or time.monotonic() > deadline:
            return "raw"
        time.sleep(0.01)  # a prefix of a method: the rest is on its way


def serve(r: redis.Redis, printer: str, sock: socket.socket, tls: Tls | None) -> None:
    """Answer web requests on this connection for ``printer`` until the client is done."""
    if kind(sock) == "tls":
        if tls is None:
            sock.close()
            return
        try:
            sock = tls.context().wrap_socket(sock, server_side=True)
        except (OSError, ssl.SSLError):
            sock.close()
            return
    with contextlib.suppress(OSError):
        _Handler(sock, sock.getpeername(), _Server(r, printer))
    with contextlib.suppress(OSError):
        sock.close()


class _Server:
    """What http.server's handler asks of its server: here, the printer it serves."""

    def __init__(self, r: redis.Redis, printer: str) -> None:
        self.r, self.printer = r, printer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Comptoir"
    timeout = IDLE
    server: _Server  # type: ignore[assignment]

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _cors(self) -> None:
        self.send_header("Access-Control-Allow-Origin", self.headers.get("Origin") or "*")
        self.send_header("Vary", "Origin")

    def _answer(self, status: int, body: bytes, mimetype: str = "text/xml") -> None:
        self.send_response(status)
        self._cors()
        self.send_header("Content-Type", f"{mimetype}; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def do_OPTIONS(self) -> None:
        self.send_response(204)
        self._cors()
        self.send_header("Access-Control-Allow-Methods", "POST, OPTIONS")
        self.send_header("Access-Control-Allow-Headers", "Content-Type, SOAPAction, If-Modified-Since")
        self.send_header("Access-Control-Max-Age", "600")
        if self.headers.get("Access-Control-Request-Private-Network") == "true":
            self.send_header("Access-Control-Allow-Private-Network", "true")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        self._answer(404, b"not here: this port takes ePOS-Print and WebPRNT posts\n", "text/plain")

    do_HEAD = do_GET

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        query = {key: values[-1] for key, values in parse_qs(url.query).items()}
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= epos.MAX_BODY:
            self._answer(413, b"")
            self.close_connection = True
            return
        body = self.rfile.read(length)
        try:
            config = printers.get(self.server.r, self.server.printer)
        except NotFound:  # removed while the app was talking to it
            self._answer(404, epos.response(False, "DeviceNotFound", epos.ASB_NO_RESPONSE))
            return
        if url.path == "/cgi-bin/epos/service.cgi":
            answer = epos.serve(self.server.r, query.get("devid", "local_printer"), body, query.get("timeout"),
                                printer=config)
        elif url.path == "/StarWebPRNT/SendMessage":
            answer = webprnt.serve(self.server.r, body, query.get("timeout"), printer=config)
        else:
            self._answer(404, b"")
            return
        self._answer(answer.http_status, answer.body)
