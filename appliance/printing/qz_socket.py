"""The QZ-compatible websocket ports (the protocol and the service: qz.py): ``wss`` on 8181 with
the box's own certificate (made again when renewed, without a restart) and ``ws`` on 8182, the
first ports qz-tray.js tries. In the background process, on websockets' threaded server: a
thread per web POS, and one per print call, so a POS whose receipt waits for paper can still
ping and ask (qz-tray.js matches answers to calls by ``uid``)."""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import ssl
import threading
from collections.abc import Callable

import redis
from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve

from appliance.errors import ServiceError
from appliance.printing import qz
from appliance.system.tls import Tls

log = logging.getLogger(__name__)

MAX_MESSAGE = 4 * 1024 * 1024  # a print call's data: raw bytes and images, base64 in JSON
MAX_CONNECTIONS = 32
MAX_PRINTS = 8  # print calls one POS may have waiting for paper at once
RETRY = 5.0  # seconds before the secure port tries again (the certificate not made yet)


class Ports:
    """Both ports, until ``stop``; each wait of the loop is the part's heartbeat."""

    def __init__(self, r: redis.Redis, host: str, stop, tls: Tls | None, secure: int, plain: int) -> None:
        self.r, self.host, self.stop, self.tls = r, host, stop, tls
        self.wanted = {port: secure_ for port, secure_ in ((secure, True), (plain, False)) if port}
        self.servers: dict[int, Server] = {}
        self.open = 0
        self.counting = threading.Lock()

    def run(self) -> None:
        try:
            while True:
                for port, secure in self.wanted.items():
                    if port not in self.servers:
                        self._open(port, secure)
                if self.stop.wait(RETRY if len(self.servers) < len(self.wanted) else 1.0):
                    return
        finally:
            for server in self.servers.values():
                server.shutdown()

    def _open(self, port: int, secure: bool) -> None:
        try:
            context = self._context() if secure else None
            server = serve(self._session, self.host, port, ssl=context, max_size=MAX_MESSAGE, compression=None)
        except (OSError, ssl.SSLError) as exc:
            log.warning("QZ-compatible printing: port %d not opened (%s)", port, exc)
            return
        self.servers[port] = server
        threading.Thread(target=server.serve_forever, name=f"qz-{port}", daemon=True).start()
        log.info("QZ-compatible printing on %s://%s:%d", "wss" if secure else "ws", self.host, port)

    def _context(self) -> ssl.SSLContext:
        """A context whose handshakes take the box's current certificate: the TLS callback (run
        with or without SNI) swaps in Tls's context, made again when the files change."""
        assert self.tls is not None
        tls = self.tls
        base = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        base.load_cert_chain(tls.where.cert, tls.where.key)

        def current(sock: ssl.SSLObject, name: str | None, context: ssl.SSLContext) -> None:
            sock.context = tls.context()

        base.sni_callback = current
        return base

    def _session(self, connection: ServerConnection) -> None:
        with self.counting:
            self.open += 1
            crowded = self.open > MAX_CONNECTIONS
        try:
            if crowded:
                connection.close(1013, "too many web POS connected")
                return
            serve_session(self.r, connection)
        finally:
            with self.counting:
                self.open -= 1


def serve_session(r: redis.Redis, connection: ServerConnection) -> None:
    """One web POS's calls until it goes."""
    session = qz.Session(r, connection.request.headers.get("Origin") if connection.request else None)
    printing = threading.BoundedSemaphore(MAX_PRINTS)
    with contextlib.suppress(ConnectionClosed):
        for message in connection:
            if not isinstance(message, str) or message == "ping":
                continue
            try:
                call = json.loads(message)
            except ValueError:
                continue
            if not isinstance(call, dict):
                continue
            uid = call.get("uid")
            if "certificate" in call and "call" not in call:
                _reply(connection, uid, functools.partial(session.hello, call.get("certificate")))
            elif call.get("call") == "print":
                if not printing.acquire(blocking=False):
                    _reply(connection, uid, functools.partial(_refuse, "too many prints waiting for paper"))
                    continue
                threading.Thread(target=_print, args=(connection, uid, session, call, printing),
                                 name="qz-print", daemon=True).start()
            else:
                _reply(connection, uid, functools.partial(session.answer, call))


def _refuse(why: str) -> None:
    raise qz.Refused(why)


def _print(connection: ServerConnection, uid: object, session: qz.Session, call: dict,
           printing: threading.BoundedSemaphore) -> None:
    try:
        _reply(connection, uid, functools.partial(session.answer, call))
    finally:
        printing.release()


def _reply(connection: ServerConnection, uid: object, work: Callable[[], object]) -> None:
    """The call's answer, as qz-tray.js reads it: its uid, and a result or an error."""
    try:
        answer = {"uid": uid, "result": work()}
    except qz.Refused as exc:
        answer = {"uid": uid, "error": str(exc)}
    except ServiceError as exc:
        answer = {"uid": uid, "error": exc.message}
    except redis.RedisError:
        answer = {"uid": uid, "error": "the box's storage is not answering: try again in a moment"}
    with contextlib.suppress(ConnectionClosed):
        connection.send(json.dumps(answer))
