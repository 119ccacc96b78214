"""Virtual network printers: a TCP port (9100, the raw "JetDirect" port) per exposed printer,
so a POS app configured with the box's address prints to it exactly as to the printer, and
gets the box's durability without knowing it.

The app may speak ESC/POS or Star's languages, whatever the printer speaks: its first telling
command says which (``Sniffer``), its bytes are queued in their language, and a printer of the
other prints them as a picture of the receipt (``translate.py``). A Star app is served by
``star_splitter.StarSplitter``: its receipts end at Star's cut or a raster page's end, ``ESC ACK
SOH`` gets the ASB at once, ``ETB`` steps the connection's ETB counter and ``ESC GS ETX 1 n1 n2``
is answered only once the jobs before them are on paper, ``ESC # *`` gets the real model.
For ESC/POS, what arrives is cut into jobs and questions (``Splitter``, pure):

- a job ends at a cut (GS V, ESC i, ESC m) when the app keeps its connection, or when the
  app closes the connection; each job is queued as a ``raw`` job for the real printer with
  the guarantees of API jobs (order, confirmation on paper, crash safety, failover);
- questions are answered as the real printer would, from its last known state: DLE EOT n
  at once; GS I (maker, model...) at once, from what the printer told the box; GS a (status
  sent automatically) at once and again at every change; GS r and GS ( H process IDs once
  every job this connection sent before them is on paper (an in-order answer proves the
  paper here too); DLE DC4 fn 8 (clear buffers) drops what was not yet a job. DLE ENQ asks a
  printer to recover from an error; the box's queue has nothing to recover, so it is dropped.

Several connections are served at once and never reset: each has its own buffer, and a job
joins the printer's queue whole, so receipts from two apps never interleave.

An app that drops the link mid-receipt (a reset, or a peer that vanished: TCP keepalive finds
it within a minute) leaves half a receipt. It is printed, under an "INCOMPLETE" banner, rather
than held: in a kitchen a half order that says so beats an order that never comes. A close
the app made on purpose (FIN) ends a whole job.

Anyone on the shop's network can open the port, so what one connection may cost is bounded
(``Limits``): a receipt longer than a few metres of paper (the setting ``app_receipt_metres``, in bytes
and in paper, pictures counted from their headers before their data is taken) is ended
under an "INCOMPLETE / TOO LONG" banner and the connection closed; bytes are read only as
fast as their jobs are stored; one address holds PER_ADDRESS connections at most, the box
MAX_CONNECTIONS.
"""

from __future__ import annotations

import contextlib
import logging
import re
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import ClassVar

import redis

from appliance import settings
from appliance.errors import NotFound, OutcomeUnknown, ServiceError
from appliance.printing import app_record, commands, jobs, languages, port_http, printers, star
from appliance.printing import status as printer_status
from appliance.printing.commands import DLE, DOTS_PER_MM, ESC, GS, LINE_MM
from appliance.printing.pieces import Cutter, Piece
from appliance.printing.request import MAX_RAW_BYTES
from appliance.printing.star_splitter import StarSplitter
from appliance.store import keys
from appliance.store.client import decode_hash
from appliance.system import addresses
from appliance.system.tls import Tls

log = logging.getLogger(__name__)

WATCH_EVERY = 0.2  # how often answers waiting for paper and status changes are checked
_BANNER = b"\x1b@\x1b!\x38*** INCOMPLET / INCOMPLETE ***\x1b!\x00\n"
INCOMPLETE = _BANNER + b"(link lost / liaison perdue)\n"
TOO_LONG = b"\n" + _BANNER + b"(too long / trop long)\n"
CUT = b"\n\n\n\x1dV\x42\x00"
MAX_RASTER_ROW = 128  # bytes in one GS v 0 row: Epson's own bound (1,024 dots)
PER_ADDRESS = 8  # connections one device may hold open on the virtual ports
MAX_CONNECTIONS = 64
RAW_PORT = 9100  # what apps dial at a printer's own address
CLEARED = b"\x37\x25\x00"  # DLE DC4 fn 8's answer
_PRINTS = {GS: b"vV8k(*", ESC: b"*dJim"}  # commands that put something on paper
# Bytes that print and change nothing the splitter counts: anything but a command's lead,
# a line feed (paper), a form feed (page mode) or NUL (prints nothing).
_PLAIN = re.compile(rb"[^\x1b\x1d\x10\x1c\x0a\x0c\x00]*")

@dataclass(frozen=True)
class Limits:
    """The most one receipt from an app may be: bytes (what the box stores) and millimetres
    of paper (text lines, feeds and pictures)."""

    max_bytes: int = MAX_RAW_BYTES - len(TOO_LONG) - len(CUT)
    max_mm: float = settings.SETTINGS["app_receipt_metres"].default * 1000


def limits(r: redis.Redis) -> Limits:
    """The owner's limit (the setting ``app_receipt_metres``)."""
    return Limits(max_mm=settings.get(r, "app_receipt_metres") * 1000)


@dataclass
class Splitter(Cutter):
    """Cuts a connection's byte stream into jobs and questions as it arrives. Setup commands
    sent before a receipt (ESC @, code pages) stay with the receipt they prepare. A receipt
    past ``limits`` ends the connection (``ended``): its start prints, marked TOO LONG."""

    # The marks of a receipt cut short, and the cut that ends it, in the app's language.
    INCOMPLETE: ClassVar[bytes] = INCOMPLETE
    TOO_LONG: ClassVar[bytes] = TOO_LONG
    CUT: ClassVar[bytes] = CUT

    limits: Limits = field(default_factory=Limits)
    _page: bool = False  # in page mode (ESC L), until FF prints the page or ESC S / ESC @ leave it

    def _leave(self) -> bytes:
        return b"\x0c" if self._page else b""  # FF: the page printed, back in standard mode

    def feed(self, data: bytes) -> list[Piece]:
        if self.ended:
            return []
        self._buffer += data
        buf, i, pieces = self._buffer, 0, []
        while i < len(buf):
            lead = buf[i]
            if run := _PLAIN.match(buf, i).end() - i:  # text: taken whole, not byte by byte
                self._job += buf[i:i + run]
                self._prints = True
                i += run
                continue
            if lead not in (ESC, GS, DLE, commands.FS):
                if lead == commands.LF:
                    self._mm += LINE_MM
                    if self._mm > self.limits.max_mm:
                        return pieces + self._overflow()  # the line that would pass the limit is not printed
                self._job.append(lead)
                self._prints = self._prints or lead != 0
                self._page = self._page and lead != 0x0C
                i += 1
                continue
            size = commands.declared(buf, i)
            if size is None:
                break
            if self._too_much(buf, i, size):
                return pieces + self._overflow()
            if i + size > len(buf):
                break
            pieces += self._command(bytes(buf[i:i + size]))
            i += size
        del buf[:i]
        if len(self._job) > self.limits.max_bytes or self._mm > self.limits.max_mm:
            return pieces + self._overflow()
        return pieces

    def _too_much(self, buf: bytearray, i: int, size: int) -> bool:
        """Would the command at ``buf[i]``, as its header declares it, pass the limits?"""
        if len(self._job) + size > self.limits.max_bytes:
            return True
        if buf[i] == GS and buf[i + 1] == ord("v"):
            row, rows = buf[i + 4] | buf[i + 5] << 8, buf[i + 6] | buf[i + 7] << 8
            return row > MAX_RASTER_ROW or self._mm + rows / DOTS_PER_MM > self.limits.max_mm
        return False

    def _paper(self, cmd: bytes) -> float:
        """Millimetres of paper a command feeds or draws (text lines are counted as read)."""
        lead, code = cmd[0], cmd[1]
        if lead == GS and code == ord("v"):
            return (cmd[6] | cmd[7] << 8) / DOTS_PER_MM
        if lead == ESC and code == ord("d"):
            return cmd[2] * LINE_MM
        if lead == ESC and code == ord("J"):
            return cmd[2] / DOTS_PER_MM
        if lead == ESC and code == ord("*"):
            return (24 if cmd[2] in (32, 33) else 8) / DOTS_PER_MM
        return 0.0

    def _command(self, cmd: bytes) -> list[Piece]:
        lead, code = cmd[0], cmd[1]
        if lead == DLE:
            if code == 0x04:
                return [Piece("realtime", n=cmd[2])]
            if code == 0x14 and cmd[2] == 8:
                self._job.clear()
                self._prints = False
                return [Piece("clear")]
            if code == 0x14:
                self._job += cmd  # a drawer pulse: with the receipt it came with
            return []
        if lead == GS and code == ord("I"):
            return [Piece("info", n=cmd[2])]
        if lead == GS and code == ord("a"):
            return [Piece("asb", n=cmd[2])]
        if lead == GS and (code == ord("r") or cmd[:3] == b"\x1d(H"):
            return [*self._end(), Piece("in_order", data=cmd)]
        if lead == ESC and code in b"L@S":
            self._page = code == ord("L")
        self._job += cmd
        self._mm += self._paper(cmd)
        self._prints = self._prints or code in _PRINTS.get(lead, b"")
        return self._end() if commands.is_cut(cmd, 0) else []



class Sniffer:
    """Which language an app speaks, told by its first telling command (Star's ``ESC GS``,
    ``ESC RS``, ``ESC ACK SOH``, ``ESC * r``, ``ESC # *``, ``ETB``; Epson's GS, DLE, FS), then
    the matching splitter; until it is told, the exposed printer's family is assumed. So an
    ESC/POS app prints on a Star printer's port, and a Star app on an Epson's."""

    TELLS = 64  # bytes looked at before the printer's own family is taken

    def __init__(self, default: str, bounds: Limits) -> None:
        self.default, self.bounds = default, bounds
        self.family: str | None = None
        self.splitter: Splitter | StarSplitter | None = None
        self._pending = bytearray()

    @property
    def ended(self) -> bool:
        return self.splitter is not None and self.splitter.ended

    @staticmethod
    def tell(data: bytes | bytearray) -> str | None:
        """The family of the first telling command, read command by command (a parameter or a
        picture's bytes never tell), or None while nothing told yet."""
        i = 0
        while i < len(data):
            b = data[i]
            if b in (GS, DLE, commands.FS):
                return "escpos"
            if b == star.ETB:
                return "star"
            if b == ESC:
                if i + 2 >= len(data):
                    return None
                if data[i + 1] in (star.GS, star.RS, star.ACK, ord("#")) or data[i + 1:i + 3] == b"*r":
                    return "star"
                size = commands.length(data, i)
                if size is None:
                    return None
                i += size
                continue
            i += 1
        return None

    def _choose(self, family: str) -> None:
        self.family = family
        self.splitter = StarSplitter(self.bounds) if family == "star" else Splitter(self.bounds)

    def feed(self, data: bytes) -> list[Piece]:
        if self.splitter is not None:
            return self.splitter.feed(data)
        self._pending += data
        told = self.tell(self._pending)
        if told is None and len(self._pending) < self.TELLS:
            return []
        self._choose(told or self.default)
        data, self._pending = bytes(self._pending), bytearray()
        assert self.splitter is not None
        return self.splitter.feed(data)

    def pending(self) -> bytes:
        """What was read and is not yet a job (``Cutter.pending``)."""
        return bytes(self._pending) if self.splitter is None else self.splitter.pending()

    def close(self, whole: bool) -> list[Piece]:
        if self.splitter is None:
            self._choose(self.default)
            data, self._pending = bytes(self._pending), bytearray()
            pieces = self.splitter.feed(data) if data else []
            return pieces + self.splitter.close(whole)
        return self.splitter.close(whole)


# -- answers from the real printer's last known state -----------------------------------------

def known_status(r: redis.Redis, name: str, fresh: bool = True) -> printer_status.PrinterStatus:
    """The real printer's state as an app asking it would hear it (``fresh``: a reading no
    older than a second, printers.fresh_state), else as its worker last saw it; a printer the
    box cannot reach is offline, as the app would find it."""
    shown = printers.fresh_state(r, name) if fresh else printers.state(r, name)
    return printer_status.PrinterStatus(online=shown.online, paper=shown.paper if shown.answered else "ok",
                                        cover_open=shown.cover_open, error=shown.error)


def asb(state: printer_status.PrinterStatus) -> bytes:
    """Automatic Status Back, Epson's four bytes: 0xx1xx00, then three 0xx0xxxx."""
    first = 0x10 | (0x08 if not state.ready else 0) | (0x20 if state.cover_open else 0)
    second = 0x40 if state.error else 0
    third = {"ok": 0, "near_end": 0x03, "out": 0x0F}[state.paper]
    return bytes((first, second, third, 0))


def info(r: redis.Redis, name: str, n: int) -> bytes:
    """GS I n: one byte for n = 1-3 / 49-51 (model, type "has a cutter", version), text for
    n >= 65 (maker and model as the real printer gave them)."""
    if n < 65:
        return bytes([{1: 0x20, 2: 0x02, 3: 0x64}.get(n % 48, 0)])
    shown = printers.state(r, name)
    text = {66: shown.maker or "Comptoir", 67: shown.model or f"virtual {name}",
            65: "1.00", 68: "0", 69: "FONT A"}.get(n, "")
    return b"_" + text.encode("ascii", "replace") + b"\x00"


def written_in(family: str | None, printer_language: str) -> str:
    """The language of an app's bytes: ESC/POS, or Star's (Line Mode and StarPRNT are one
    family; raster is in it too), as the printer it reaches speaks it when it can."""
    if family != "star":
        return languages.ESCPOS
    return printer_language if printer_language in ("star-line", "starprnt") else "starprnt"


def recover(r: redis.Redis) -> int:
    """What apps sent before the box stopped (a crash, a power cut) and is not yet queued,
    queued now: a record is left only by a connection the stop cut short (a connection's end
    and its last jobs are stored in one transaction), so its last receipt prints under the
    INCOMPLETE banner. Each job keeps its id: one queued just before
    the stop is not queued twice. The number of jobs queued."""
    count = 0
    for raw in r.smembers(keys.app_connections()):
        connection = raw.decode()
        meta = decode_hash(r.hgetall(keys.app_connection(connection)))
        data = r.get(keys.app_connection_bytes(connection)) or b""
        try:
            config = printers.get(r, meta.get("printer", ""))
        except NotFound:  # removed meanwhile: nowhere to print
            config = None
        if config is not None and data:
            sniffer = Sniffer(meta.get("family") or languages.family(config.language), limits(r))
            pieces = [*sniffer.feed(data), *sniffer.close(whole=False)]  # it had not ended
            seq = int(meta.get("seq", 0))
            for piece in (p for p in pieces if p.kind == "job"):
                jobs.submit_raw(r, config.name, piece.data, f"port:{config.name}", app_record.job_id(connection, seq),
                                language=written_in(sniffer.family, config.language))
                seq, count = seq + 1, count + 1
        app_record.forget(r, connection)
    if count:
        log.warning("virtual printers: %d job(s) an app had sent before the box stopped, queued now", count)
    return count


# -- one connection ---------------------------------------------------------------------------

@dataclass
class _Waiting:
    job_ids: list[str]
    command: bytes


class Connection:
    """One app's connection to a virtual printer: reads, queues jobs, answers."""

    def __init__(self, r: redis.Redis, config: printers.PrinterConfig, bounds: Limits, sock: socket.socket) -> None:
        self.r, self.printer, self.language, self.sock = r, config.name, config.language, sock
        self.splitter = Sniffer(languages.family(self.language), bounds)
        self.record = app_record.Record(self.printer)  # the bytes on disk until they are jobs
        self.etb = 0  # Star: this connection's ETB counter, one step per ETB once on paper
        self.print_end = 0  # Star: its print-end counter (ESC GS ETX)
        self.sent: list[str] = []  # the jobs this connection queued
        self.waiting: list[_Waiting] = []  # in-order questions, answered once their jobs are on paper
        self.asb_on = False
        self.last_asb = b""
        self.lock = threading.Lock()  # one writer at a time on the socket
        self.answering = threading.Lock()  # the reader and the watcher both answer: each answer once
        self.done = threading.Event()
        self.watcher: threading.Thread | None = None  # started by the first question that needs it

    def serve(self) -> None:
        whole = ended = False
        try:
            while not ended:
                try:
                    data = self.sock.recv(65536)
                except OSError:
                    break  # reset, or keepalive found the peer gone: the link was lost
                if not data:
                    whole = True  # the app closed on purpose: its last job is whole
                    break
                # The bytes are on disk before anything is answered, and each job is stored
                # before the next bytes are read: an app cannot send faster than the box stores,
                # and a connection holds one receipt in memory at most.
                pieces = self.splitter.feed(data)
                if self.splitter.ended:
                    log.warning("virtual printer %s: a receipt longer than the limit was ended", self.printer)
                    ended = whole = True
                elif self._peer_closed():  # the app's last bytes and its close came together
                    pieces += self.splitter.close(whole=True)
                    ended = whole = True
                self._take(data, pieces, ended)
            if not ended:
                self._take(b"", self.splitter.close(whole), ended=True)
            # An in-order question still waiting gets its answer (from the watcher) if the app
            # only closed its sending side and still listens.
            deadline = time.monotonic() + 30
            while self.waiting and whole and time.monotonic() < deadline:
                time.sleep(WATCH_EVERY)
        finally:
            self.done.set()
            if self.watcher is not None:
                self.watcher.join(5)
            with contextlib.suppress(OSError):
                self.sock.close()

    def _peer_closed(self) -> bool:
        try:
            return self.sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
        except OSError:  # nothing more yet (or a reset, which the next read finds)
            return False

    def _take(self, data: bytes, pieces: list[Piece], ended: bool) -> None:
        """Store the jobs cut from ``data`` with what the record must keep, in one transaction,
        then answer its questions in the order they came (an in-order question waits for the
        jobs sent before it, not after)."""
        jobs_now: list[tuple[str, bytes]] = []
        questions: list[tuple[Piece, list[str]]] = []
        for piece in pieces:
            if piece.kind == "job":
                jobs_now.append((self.record.next_job_id(), piece.data))
                self.sent.append(jobs_now[-1][0])
            else:
                questions.append((piece, list(self.sent)))
        self._store(data, jobs_now, ended)
        for piece, before in questions:
            self._handle(piece, before)

    def _store(self, data: bytes, jobs_now: list[tuple[str, bytes]], ended: bool) -> None:
        """While the box's storage refuses (a restart of Redis), the app waits, as for a printer
        whose buffer is full, and the same jobs are stored again with the same ids: never twice."""
        def keep(pipe: redis.client.Pipeline) -> None:
            self.record.write(pipe, data, self.splitter.pending(), self.splitter.family, bool(jobs_now), ended)

        tried = False
        while True:
            try:
                if jobs_now:
                    jobs.submit_raw_many(self.r, self.printer, jobs_now, f"port:{self.printer}",
                                         written_in(self.splitter.family, self.language), also=keep,
                                         new_ids=not tried)
                else:
                    with self.r.pipeline() as pipe:
                        keep(pipe)
                        pipe.execute()
                self.record.written()
                return
            except (redis.RedisError, OutcomeUnknown) as exc:
                log.warning("virtual printer %s: bytes not stored yet (%s); trying again", self.printer, exc)
                tried = True
                time.sleep(1)
            except ServiceError as exc:  # the printer was removed while the app printed
                log.error("virtual printer %s: a job was refused: %s", self.printer, exc)
                jobs_now = []

    @property
    def star(self) -> bool:
        return self.splitter.family == "star"

    def _handle(self, piece: Piece, before: list[str]) -> None:
        """Answer a question; ``before``: the jobs this connection sent before it."""
        if self.star and piece.kind in ("realtime", "info", "clear"):
            if piece.kind == "realtime":
                self._send(self._star_asb())
            elif piece.kind == "info":
                shown = printers.state(self.r, self.printer)
                self._send(b"\x1b#*," + (shown.model or f"virtual {self.printer}").encode("ascii", "replace")
                           + b"\n\x00")
            else:
                self.etb = 0
        elif piece.kind == "realtime":
            self._send(bytes([printer_status.realtime_answer(known_status(self.r, self.printer), piece.n)]))
        elif piece.kind == "info":
            self._send(info(self.r, self.printer, piece.n))
        elif piece.kind == "asb":
            self.asb_on = piece.n != 0
            self.last_asb = b""
            self._status_changes()
            self._watch_from_now()
        elif piece.kind == "clear":
            self._send(CLEARED)
        elif piece.kind == "in_order":
            self.waiting.append(_Waiting(before, piece.data))
            if self._answer_ready():
                self._watch_from_now()

    def _star_asb(self, fresh: bool = True) -> bytes:
        state = known_status(self.r, self.printer, fresh)
        return star.asb(online=state.online, paper=state.paper, cover_open=state.cover_open, error=state.error,
                        etb=self.etb)

    def _answer_ready(self) -> bool:
        """Answer the in-order questions whose jobs are all ended; True while some wait."""
        with self.answering:
            return self._answer_due()

    def _answer_due(self) -> bool:
        while self.waiting and all(jobs.status_of(self.r, j) in (*jobs.FINAL, None)
                                   for j in self.waiting[0].job_ids):
            command = self.waiting.pop(0).command
            if command == star.ETB_REQUEST:
                self.etb = (self.etb + 1) % 32
                if self.asb_on:
                    self._send(self._star_asb())
                    self.last_asb = self._star_asb()
            elif command[:3] == b"\x1b\x1d\x03":
                self.print_end = (self.print_end + 1) % 256
                self._send(star.print_end_answer(command[4] | command[5] << 8, self.print_end))
            elif command[1] == ord("r"):
                self._send(bytes([printer_status.paper_status_byte(known_status(self.r, self.printer))]))
            else:
                self._send(printer_status.process_id_response(command[-4:]))
        return bool(self.waiting)

    def _status_changes(self) -> None:
        """ASB: each change sent as it is seen; while an app listens, the printer is read
        twice a second (a cover opened reaches the app within a second, as from the printer)."""
        if self.asb_on:
            if time.time() - (printers.state(self.r, self.printer).checked_at or 0) > printers.FRESH / 2:
                printers.want_reading(self.r, self.printer)
            now = self._star_asb(fresh=False) if self.star else asb(known_status(self.r, self.printer, fresh=False))
            if now != self.last_asb:
                self._send(now)
                self.last_asb = now

    def _watch_from_now(self) -> None:
        """Questions answered later (in-order ones, ASB) are watched on a thread of their own,
        started when the first comes: most apps only print and close."""
        if self.watcher is None:
            self.watcher = threading.Thread(target=self._watch, name=f"raw-{self.printer}-watch", daemon=True)
            self.watcher.start()

    def _watch(self) -> None:
        while not self.done.wait(WATCH_EVERY):
            try:
                self._answer_ready()
                self._status_changes()
            except redis.RedisError:
                continue

    def _send(self, data: bytes) -> None:
        with self.lock, contextlib.suppress(OSError):
            self.sock.sendall(data)


# -- the ports --------------------------------------------------------------------------------

class Ports:
    """Opens a listening port for each exposed printer and follows the configuration: a
    port added, moved or removed on the setup page or the CLI takes effect within a second
    or two, without a restart. What each port is doing is published for the page.

    A printer with its own address on the shop's network (system/addresses.py) is reached at
    that address on port 9100, whoever holds 9100 at the box's own address: a connection is
    told by the address the app dialled. Port 9100 is opened for that alone when no printer
    is exposed on it."""

    def __init__(self, r: redis.Redis, host: str, stop: threading.Event, tls: Tls | None = None) -> None:
        """``tls``: the box's certificate, for web apps reaching a printer's port over https."""
        self.r, self.host, self.stop, self.tls = r, host, stop, tls
        self.listening: dict[int, socket.socket] = {}
        self.owners: dict[int, str | None] = {}  # port -> the printer exposed on it
        self.published: dict[str, str] | None = None
        self.connections: Counter[str] = Counter()  # open connections by the app's address
        self.counting = threading.Lock()

    def run(self) -> None:
        try:
            while not self.stop.is_set():  # first, what apps sent before the box last stopped
                try:
                    recover(self.r)
                    break
                except redis.RedisError as exc:
                    log.warning("virtual printers: %s; trying again", exc)
                    self.stop.wait(1.0)
            while not self.stop.is_set():
                try:
                    self.follow()
                except redis.RedisError as exc:
                    log.warning("virtual printers: %s; trying again", exc)
                self.stop.wait(1.0)
        finally:
            for listener in self.listening.values():
                listener.close()

    def follow(self) -> None:
        exposed = {c.port: c.name for c in printers.all_configs(self.r) if c.port}
        own = any(held.address for held in addresses.read(self.r).values())
        wanted: dict[int, str | None] = {**({RAW_PORT: None} if own else {}), **exposed}
        for port in set(self.listening) - set(wanted):
            self.listening.pop(port).close()
        self.owners = wanted
        states: dict[str, str] = {}
        for port, name in wanted.items():
            if port not in self.listening:
                try:
                    self.listening[port] = self._listen(port)
                except OSError as exc:
                    if name:
                        states[name] = f"port {port} cannot be opened: {exc.strerror or exc}"
                    continue
            if name:
                states[name] = "listening"
        if states == self.published:
            return  # written when it changes, not every second (each write is an fsync on the card)
        with self.r.pipeline() as pipe:
            pipe.delete(keys.virtual_port_states())
            if states:
                pipe.hset(keys.virtual_port_states(), mapping=states)
            pipe.execute()
        self.published = states

    def _listen(self, port: int) -> socket.socket:
        listener = socket.create_server((self.host, port), reuse_port=False, backlog=64)
        threading.Thread(target=self._accept, args=(port, listener), name=f"raw-{port}", daemon=True).start()
        log.info("virtual printers listening on port %d", port)
        return listener

    def _printer(self, port: int, sock: socket.socket) -> str | None:
        """The printer a connection is for: the one whose own address the app dialled, else
        the one exposed on the port."""
        owner = self.owners.get(port)
        if port != RAW_PORT:
            return owner
        return addresses.printer_at(self.r, sock.getsockname()[0]) or owner  # as it is now, not a second ago

    def _accept(self, port: int, listener: socket.socket) -> None:
        while not self.stop.is_set():
            try:
                sock, _ = listener.accept()
            except OSError:
                return  # closed: the port moved or the printer was removed
            try:
                address = sock.getpeername()[0]
                name = self._printer(port, sock)
            except (OSError, redis.RedisError):  # gone already, or the box's storage restarting: try again
                sock.close()
                continue
            with self.counting:
                busy = self.connections[address] >= PER_ADDRESS or self.connections.total() >= MAX_CONNECTIONS
                if busy or name is None:
                    sock.close()  # as a busy printer does: the app tries again
                    continue
                self.connections[address] += 1
            keepalive(sock)
            threading.Thread(target=self._serve, args=(name, sock, address), name=f"raw-{name}-conn",
                             daemon=True).start()

    def _serve(self, name: str, sock: socket.socket, address: str) -> None:
        """An app's printer bytes, or a web app's ePOS-Print or WebPRNT request for this printer
        (port_http.py): told by the first bytes."""
        try:
            if port_http.kind(sock) == "raw":
                Connection(self.r, printers.get(self.r, name), limits(self.r), sock).serve()
            else:
                port_http.serve(self.r, name, sock, self.tls)
        except NotFound:  # the printer was removed as the app connected
            sock.close()
        finally:
            with self.counting:
                self.connections[address] -= 1
                if not self.connections[address]:
                    del self.connections[address]


def keepalive(sock: socket.socket) -> None:
    """Find a peer that vanished (Wi-Fi gone, tablet off) within about a minute."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for option, value in (("TCP_KEEPIDLE", 20), ("TCP_KEEPINTVL", 10), ("TCP_KEEPCNT", 3)):
        if hasattr(socket, option):
            sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, option), value)
