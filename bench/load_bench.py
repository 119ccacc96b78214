"""Hostile-load benchmark: does the box keep answering while the shop's Wi-Fi holds it?

    .venv/bin/python bench/load_bench.py [--idle 1000] [--streams 50,200,500] [--jobs 300] [--pushes 50]
                                         [--logins 50]

Runs a real box on loopback and prints, on this machine:
- a print job's answer time (POST -> 202), p50 / p99, with no other connection and with
  ``--idle`` hostile ones held open (half sent one byte and wait, half trickle a byte a
  second; the box drops them after its header timeout, and they come back, as a customer's
  misbehaving phone would);
- push -> event at each of 50, 200 and 500 open event streams, p50 / p99;
- the same job answer time and fan-out with the hostile sockets *and* the most streams;
- the memory of all the box's processes (PSS / RSS) with the most streams open;
- the job answer time while ``--logins`` strangers try wrong passwords on the setup page as
  fast as the box answers them, each from its own address (every other one with a 1 MB
  "password").

Hostile sockets and streams connect from 127.0.0.2 and up (under the box's per-address cap),
the tablets from 127.0.0.1. All traffic stays on this machine.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import selectors
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from appliance.access import devices, owner
from appliance.tools.client import Client, Tablet
from appliance.web import server
from bench.print_bench import memory
from bench.stats import percentile
from tests.box import Box, Strangers, wait_for
from tests.fakeprinter import FakePrinter

PER_SOURCE = server.PER_ADDRESS // 2


def source(n: int, base: int) -> str:
    """A loopback source address for the n-th hostile connection, PER_SOURCE to an address."""
    index = base + n // PER_SOURCE
    return f"127.0.{index // 250}.{2 + index % 250}"


class Hostile:
    """``count`` sockets kept open against the box: half idle after one byte, half trickling."""

    def __init__(self, box: Box, count: int) -> None:
        self.box, self.count = box, count
        self.socks: list[socket.socket | None] = [None] * count
        self.stop = threading.Event()
        self.reopened = 0
        self.thread = threading.Thread(target=self._keep, daemon=True)
        self.thread.start()

    def _open(self, n: int) -> socket.socket | None:
        try:
            sock = socket.create_connection(("127.0.0.1", self.box.port), 5, source_address=(source(n, 0), 0))
            sock.sendall(b"G")
            sock.setblocking(False)
            return sock
        except OSError:
            return None

    def _alive(self, sock: socket.socket) -> bool:
        try:
            return sock.recv(1) != b""
        except BlockingIOError:
            return True
        except OSError:
            return False

    def _keep(self) -> None:
        while not self.stop.is_set():
            for n in range(self.count):
                sock = self.socks[n]
                if sock is None or not self._alive(sock):
                    if sock is not None:
                        sock.close()
                        self.reopened += 1
                    self.socks[n] = self._open(n)
                elif n % 2:
                    with contextlib.suppress(OSError):
                        sock.send(b"E")  # one byte a second: a header that never ends
            self.stop.wait(1.0)

    def wait_open(self) -> Hostile:
        wait_for(lambda: sum(1 for sock in self.socks if sock is not None) >= self.count * 0.95, 60,
                 "the hostile sockets")
        return self

    def close(self) -> None:
        self.stop.set()
        self.thread.join(10)
        for sock in self.socks:
            if sock is not None:
                sock.close()


class Streams:
    """``count`` raw Server-Sent Events streams, read by one thread; records when each sees
    each marker."""

    def __init__(self, box: Box, token: str, count: int) -> None:
        self.selector = selectors.DefaultSelector()
        self.arrivals: dict[str, list[float]] = {}
        self.snapshots = 0
        self.lock = threading.Lock()
        self.socks = []
        request = (f"GET /api/v1/sync/events HTTP/1.1\r\nHost: box\r\nAuthorization: Bearer {token}\r\n"
                   "Accept: text/event-stream\r\n\r\n").encode()
        for n in range(count):
            sock = socket.create_connection(("127.0.0.1", box.port), 10, source_address=(source(n, 100), 0))
            sock.sendall(request)
            sock.setblocking(False)
            self.selector.register(sock, selectors.EVENT_READ, data=bytearray())
            self.socks.append(sock)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        wait_for(lambda: self.snapshots >= count, 60, f"{count} streams to get their snapshot")

    def _read(self) -> None:
        while not self.stop.is_set():
            for key, _ in self.selector.select(0.2):
                try:
                    chunk = key.fileobj.recv(65536)
                except BlockingIOError:
                    continue
                if not chunk:
                    self.selector.unregister(key.fileobj)
                    continue
                now = time.perf_counter()
                buffer: bytearray = key.data
                buffer += chunk
                while b"\n\n" in buffer:
                    event, _, rest = bytes(buffer).partition(b"\n\n")
                    buffer[:] = rest
                    if b"event: snapshot" in event:
                        self.snapshots += 1
                    marker = event.find(b'"label":"mark-')
                    if marker >= 0:
                        label = event[marker + 9:event.index(b'"', marker + 9)].decode()
                        with self.lock:
                            self.arrivals.setdefault(label, []).append(now)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        for sock in self.socks:
            sock.close()


ROLES = ("serve", "web", "workers", "background", "redis")


def rss_mb(box: Box, role: str) -> float:
    total = 0
    for pid in box.pids(role):
        with contextlib.suppress(OSError):
            total += next(int(line.split()[1]) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                          if line.startswith("VmRSS:"))
    return total / 1024


def job_latency(tablet: Client, count: int) -> dict:
    times = []
    for _ in range(10):
        tablet.print(printer="counter", document={"lines": [{"text": "warm"}]})
    for n in range(count):
        start = time.perf_counter()
        tablet.print(printer="counter", document={"lines": [{"text": f"job {n}"}]})
        times.append((time.perf_counter() - start) * 1000)
    return {"p50": percentile(times, 50), "p99": percentile(times, 99)}


def fan_out(writer: Tablet, streams: Streams, count: int, pushes: int) -> dict:
    latencies = []
    for n in range(pushes):
        label = f"mark-{n}-{time.monotonic_ns()}"
        writer.mutate("ticket.open", ticket_id=label, label=label)
        sent = time.perf_counter()
        writer.push()
        wait_for(lambda lb=label: len(streams.arrivals.get(lb, [])) >= count, 20, f"{count} streams to see {label}")
        latencies += [(t - sent) * 1000 for t in streams.arrivals[label]]
    return {"p50": percentile(latencies, 50), "p99": percentile(latencies, 99), "samples": len(latencies)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--idle", type=int, default=1000)
    parser.add_argument("--streams", default="50,200,500")
    parser.add_argument("--jobs", type=int, default=300)
    parser.add_argument("--pushes", type=int, default=50)
    parser.add_argument("--logins", type=int, default=50)
    args = parser.parse_args()
    counts = [int(n) for n in args.streams.split(",")]
    print(f"machine: {platform.node()}: {os.cpu_count()} cores, {platform.machine()}, "
          f"Python {platform.python_version()}")
    with tempfile.TemporaryDirectory() as tmp:
        box = Box(Path(tmp) / "box").start()
        printer = FakePrinter()
        try:
            box.add_printer("counter", printer.uri)
            tablet = box.client("till")
            manager = Client(box.url)
            manager.pair(devices.new_pin(box.redis, "boss", "manager"))
            manager.open_register()
            writer = Tablet(box.client("writer"), staff="w")
            writer.start()
            quiet = job_latency(tablet, args.jobs)
            print(f"job answered, nothing else open: p50 {quiet['p50']:.1f} ms, p99 {quiet['p99']:.1f} ms")
            hostile = Hostile(box, args.idle).wait_open()
            held = job_latency(tablet, args.jobs)
            print(f"job answered, {args.idle} idle/trickling sockets: p50 {held['p50']:.1f} ms, "
                  f"p99 {held['p99']:.1f} ms ({hostile.reopened} dropped by the box and reopened so far)")
            hostile.close()
            if args.logins:
                owner.claim(box.redis, owner.setup_code(box.redis), "Bench", "en", "the owner's password", "bench")
                logins = Strangers(box, args.logins)
                wait_for(lambda: sum(logins.answers.values()) >= args.logins, 60, "the strangers to try")
                during = job_latency(tablet, args.jobs)
                logins.close()
                print(f"job answered, {args.logins} strangers logging in at once: p50 {during['p50']:.1f} ms, "
                      f"p99 {during['p99']:.1f} ms (their answers: {dict(sorted(logins.answers.items()))})")
            for count in counts:
                streams = Streams(box, manager.token, count)
                fan = fan_out(writer, streams, count, args.pushes)
                print(f"push -> event at each of {count} streams: p50 {fan['p50']:.1f} ms, p99 {fan['p99']:.1f} ms "
                      f"({fan['samples']} deliveries)")
                if count == counts[-1]:
                    rss, pss = memory(box)
                    print(f"memory of the box with {count} streams: PSS {pss:.0f} MB, RSS {rss:.0f} MB "
                          f"({', '.join(f'{role} {rss_mb(box, role):.0f}' for role in ROLES)} MB RSS)")
                    hostile = Hostile(box, args.idle).wait_open()
                    both = job_latency(tablet, args.jobs)
                    fan = fan_out(writer, streams, count, args.pushes)
                    rss, pss = memory(box)
                    print(f"with {args.idle} hostile sockets and {count} streams: job p50 {both['p50']:.1f} ms, "
                          f"p99 {both['p99']:.1f} ms; push -> event p50 {fan['p50']:.1f} ms, p99 {fan['p99']:.1f} ms; "
                          f"memory PSS {pss:.0f} MB, RSS {rss:.0f} MB")
                    hostile.close()
                streams.close()
        finally:
            box.stop()
            printer.stop()


if __name__ == "__main__":
    main()
