"""The API under gunicorn, with gevent's worker: every connection a greenlet, not a thread.

A shop's Wi-Fi carries tablets that hold event streams open all day, staff phones, and
customers' phones that may open anything. The threaded worker held one of its 64 threads per
connection, so 64 idle sockets (or 64 event streams) stopped the API. Measured on a 2-core
VM (bench/load_bench.py): with gevent, 1,000 idle or trickling connections and 500 event
streams cost one process some tens of MB, and a print job is still answered in milliseconds.

Bounds, so that no client can hold the box:
- headers must arrive within KEEPALIVE seconds (gunicorn's gevent worker reads every
  request, the first included, under that timeout), and an idle keep-alive connection is
  closed after as long;
- a body must arrive within ``body.BODY_TIMEOUT`` (see body.py);
- at most PER_ADDRESS connections from one address: the next is answered 429 and closed;
- at most MAX_CONNECTIONS in all.

gevent patches the standard library in this process before anything else is imported (see
``cli.cmd_web``), so Redis clients, the broadcaster's thread and its condition cooperate.

One server, several ports (config.Ports): HTTP, HTTPS, and ePOS-Print's 8008 and 8043. The
TLS ports are wrapped here, per connection, with the box's own certificate (system/certs.py), read
again when the background process renews it: no restart, and gunicorn's own TLS (one setting
for every port) is not used.
"""

from __future__ import annotations

import contextlib
import gc
import ssl
from collections import Counter

import gevent
from gunicorn.app.base import BaseApplication
from gunicorn.http.body import ChunkedReader, LengthReader
from gunicorn.workers.ggevent import GeventWorker

from appliance.config import Ports, Settings
from appliance.discovery import probe
from appliance.system import certs
from appliance.system.tls import Tls
from appliance.web import create_app

KEEPALIVE = 10
PER_ADDRESS = 256
MAX_CONNECTIONS = 4000
DRAIN_AT_MOST = 64 * 1024  # of a body left unread, before the connection is closed instead
_REFUSAL = b'{"error": "too_many_connections", "message": "too many connections from this address"}'
_TOO_MANY = (b"HTTP/1.1 429 Too Many Requests\r\nConnection: close\r\nContent-Type: application/json\r\n"
             b"Retry-After: 5\r\nContent-Length: %d\r\n\r\n%s" % (len(_REFUSAL), _REFUSAL))


_tls: Tls | None = None  # set by run() before the workers fork
_tls_ports: set[int] = set()


def https(environ: dict) -> bool:
    """Whether this request came over one of the TLS ports (for the WSGI scheme)."""
    return isinstance(environ.get("gunicorn.socket"), ssl.SSLSocket)


class Worker(GeventWorker):
    """gunicorn's gevent worker with a cap on the connections one address may hold, and TLS
    on the ports that want it."""

    def init_process(self) -> None:
        self.per_address: Counter[str] = Counter()
        super().init_process()

    def handle(self, listener, client, addr) -> None:
        host = addr[0] if isinstance(addr, tuple) else "local"
        if self.per_address[host] >= PER_ADDRESS:
            with contextlib.suppress(OSError):
                client.sendall(_TOO_MANY)
                client.close()
            return
        self.per_address[host] += 1
        try:
            if _tls is not None and listener.getsockname()[1] in _tls_ports:
                try:
                    with gevent.Timeout(KEEPALIVE):  # a handshake that never ends holds nothing
                        client = _tls.context().wrap_socket(client, server_side=True)
                except (OSError, gevent.Timeout):
                    with contextlib.suppress(OSError):
                        client.close()
                    return
            super().handle(listener, client, addr)
        finally:
            self.per_address[host] -= 1
            if not self.per_address[host]:
                del self.per_address[host]


    def handle_request(self, listener_name, req, sock, addr):
        """After a body the app refused unread (a 1 MB "password", a 500 MB upload), close the
        connection rather than let gunicorn read the rest to reuse it: reading a stranger's
        megabytes would cost the event loop what refusing them saved."""
        keep = super().handle_request(listener_name, req, sock, addr)
        if _unread(req.body.reader) > DRAIN_AT_MOST:
            raise StopIteration()
        return keep


def _unread(reader) -> int:
    if isinstance(reader, LengthReader):
        return reader.length
    if isinstance(reader, ChunkedReader):
        return DRAIN_AT_MOST + 1 if reader.parser is not None else 0
    return 0


class _Server(BaseApplication):
    def __init__(self, settings: Settings, options: dict) -> None:
        self.settings = settings
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        app = create_app(self.settings)
        wsgi = app.wsgi_app

        def scheme(environ, start_response):
            if https(environ):
                environ["wsgi.url_scheme"] = "https"
            return wsgi(environ, start_response)

        app.wsgi_app = scheme
        # Objects made so far are shared with the forked workers; frozen, the garbage collector
        # leaves them alone and their pages stay shared instead of being copied.
        gc.collect()
        gc.freeze()
        return app


def run(settings: Settings, host: str, ports: Ports, workers: int = 1) -> None:
    global _tls, _tls_ports
    if ports.tls:
        certs.ensure(settings.data_dir, probe.local_addresses())
        _tls, _tls_ports = Tls(settings.data_dir), set(ports.tls)
    _Server(settings, {
        "bind": [f"[{host}]:{port}" if ":" in host else f"{host}:{port}" for port in ports.opened],
        "workers": workers,
        "worker_class": f"{__name__}.Worker",
        "worker_connections": MAX_CONNECTIONS,
        "preload_app": True,
        "keepalive": KEEPALIVE,
        "timeout": 60,
        "graceful_timeout": 5,
        "loglevel": "warning",
        "proc_name": "comptoir-web",
    }).run()
