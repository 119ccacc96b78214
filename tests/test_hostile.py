"""The box holds whatever the shop's Wi-Fi throws at it: idle and trickling sockets, hundreds
of event streams, a revoked tablet, hostile bodies, a stalled or dead Redis, a full card.

Hostile clients connect from other loopback addresses (127.0.0.2 and up) than the tablets
(127.0.0.1), as a customer's phone would from its own address.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance.access import devices
from appliance.tools.client import Client
from appliance.web import server
from tests.box import Box, post_until_accepted, ticket, wait_for
from tests.fakeprinter import FakePrinter


def connect(box: Box, source: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", box.port), timeout=10, source_address=(source, 0))
    return sock


class Stream:
    """A raw Server-Sent Events reader."""

    def __init__(self, box: Box, token: str, source: str = "127.0.0.1") -> None:
        self.sock = connect(box, source)
        self.sock.sendall(f"GET /api/v1/sync/events HTTP/1.1\r\nHost: box\r\nAuthorization: Bearer {token}\r\n"
                          "Accept: text/event-stream\r\n\r\n".encode())
        self.buffer = b""

    def read_until(self, needle: bytes, timeout: float = 10) -> bool:
        """True once ``needle`` was read; False when the box closed the stream first."""
        end = time.monotonic() + timeout
        while needle not in self.buffer:
            self.sock.settimeout(max(0.01, end - time.monotonic()))
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                raise AssertionError(f"no {needle!r} within {timeout} s") from None
            if not chunk:
                return False
            self.buffer += chunk
        self.buffer = self.buffer[self.buffer.index(needle) + len(needle):]
        return True

    def close(self) -> None:
        self.sock.close()


def hung_up(sock: socket.socket, deadline: float) -> bool:
    """Whether the box closes this connection before ``deadline`` (monotonic)."""
    while True:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            if not sock.recv(4096):
                return True
        except TimeoutError:
            return False
        except ConnectionResetError:
            return True


def sockets_of(pid: int) -> int:
    count = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(FileNotFoundError):  # closed while we count
            count += os.readlink(fd).startswith("socket:")
    return count


@pytest.fixture(scope="module")
def counter(shared_box: Box) -> Iterator[FakePrinter]:
    printer = FakePrinter()
    shared_box.add_printer("counter", printer.uri, ("receipt",))
    yield printer
    printer.stop()


def test_idle_and_trickling_sockets_neither_block_printing_nor_stay(shared_box: Box, counter: FakePrinter) -> None:
    hostile = []
    for n in range(400):  # from 4 addresses, under the per-address cap
        sock = connect(shared_box, f"127.0.0.{2 + n % 4}")
        sock.sendall(b"G")  # a request that never finishes its first line
        hostile.append(sock)
    try:
        tablet = shared_box.client("busy-wifi")
        job = tablet.print(printer="counter", document=ticket("THROUGH"))
        assert tablet.wait_job(job["id"])["status"] == "printed"
        assert Client(shared_box.url, timeout=5).request("GET", "/healthz")[0] == 200
        # Headers that do not come within the keep-alive time: the box hangs up.
        deadline = time.monotonic() + server.KEEPALIVE + 10
        assert all(hung_up(sock, deadline) for sock in hostile)
    finally:
        for sock in hostile:
            sock.close()


def test_one_address_cannot_take_every_connection(shared_box: Box) -> None:
    held = [connect(shared_box, "127.0.0.9") for _ in range(server.PER_ADDRESS)]
    try:
        one_more = connect(shared_box, "127.0.0.9")
        answer = b""
        with contextlib.suppress(OSError):
            one_more.sendall(b"GET /healthz HTTP/1.1\r\nHost: box\r\n\r\n")
            answer = one_more.recv(1024)
        assert answer.startswith(b"HTTP/1.1 429") and b"too many connections" in answer
        one_more.close()
        assert Client(shared_box.url, timeout=5).request("GET", "/healthz")[0] == 200  # others still served
    finally:
        for sock in held:
            sock.close()


def test_hundreds_of_event_streams_all_get_a_change_and_go_when_their_tablets_go(
        shared_box: Box, counter: FakePrinter) -> None:
    from tests.test_sync import Shop

    shop = Shop(shared_box)
    token = shop.manager.token
    streams = [Stream(shared_box, token, f"127.0.1.{1 + n % 8}") for n in range(300)]
    web = shared_box.pids("web")[-1]
    try:
        for stream in streams:
            assert stream.read_until(b"event: snapshot")
        waiter = shop.tablet("anna")
        waiter.mutate("ticket.open", ticket_id="rush", label="Rush hour")
        waiter.push()
        for stream in streams:
            assert stream.read_until(b"Rush hour")
        tablet = shared_box.client("among-streams")
        job = tablet.print(printer="counter", document=ticket("STREAMS"))
        assert tablet.wait_job(job["id"])["status"] == "printed"
        before = sockets_of(web)
    finally:
        for stream in streams:
            stream.close()
    wait_for(lambda: sockets_of(web) <= before - 290, 5, "the box to let the closed streams go")


def test_a_revoked_tablets_stream_closes_within_a_second(shared_box: Box) -> None:
    client = shared_box.client("to-revoke")
    stream = Stream(shared_box, client.token)
    assert stream.read_until(b"event: snapshot")
    device = devices.find(shared_box.redis, "to-revoke")
    revoked = time.monotonic()
    devices.revoke(shared_box.redis, device["device_id"])
    assert stream.read_until(b"\r\n0\r\n\r\n", 1.5)  # the stream's last chunk: it is over
    assert time.monotonic() - revoked < 1.0
    stream.close()


def test_a_tablet_cancels_only_its_own_jobs(shared_box: Box, counter: FakePrinter) -> None:
    counter.set_state(paper="out")
    try:
        mine, other = shared_box.client("owner"), shared_box.client("other")
        job = mine.print(printer="counter", document=ticket("MINE"))
        status, body, _ = other.request("DELETE", f"/api/v1/jobs/{job['id']}")
        assert status == 403 and "own jobs" in body["message"]
        manager = Client(shared_box.url)
        manager.pair(devices.new_pin(shared_box.redis, "boss-cancel", "manager"))
        assert manager.cancel(job["id"])["status"] == "cancelled"
    finally:
        counter.set_state(paper="ok")


def test_a_ticket_is_read_as_the_session_says_not_as_the_query_claims(shared_box: Box) -> None:
    from appliance.sync import shop as shop_settings
    from tests.test_sync import Shop

    shop = Shop(shared_box)
    marie, paul = shop.tablet("marie"), shop.tablet("paul")
    shop_settings.set_visibility(shared_box.redis, "own")
    try:
        marie.mutate("ticket.open", ticket_id="private", label="Marie's table")
        marie.push()
        assert marie.client.call("GET", "/api/v1/tickets/private")["label"] == "Marie's table"
        for path in ("/api/v1/tickets/private", "/api/v1/tickets/private?staff=marie"):
            status, _, _ = paul.client.request("GET", path)
            assert status == 404
    finally:
        shop_settings.set_visibility(shared_box.redis, "all")


@pytest.mark.parametrize(("path", "body", "status"), [
    ("/api/v1/pair", "[" * 10_000 + "]" * 10_000, 400),
    ("/api/v1/jobs", '{"printer": "counter", "document": ' + "[" * 5000 + "]" * 5000 + "}", 400),
    ("/api/v1/jobs", json.dumps({"printer": "counter", "copies": True, "document": ticket("x")}), 422),
    ("/api/v1/jobs", json.dumps({"printer": "counter", "copies": 1.0, "document": ticket("x")}), 422),
])
def test_hostile_bodies_get_a_clear_4xx(shared_box: Box, counter: FakePrinter, path: str, body: str,
                                        status: int) -> None:
    tablet = shared_box.client(f"fuzzer-{uuid.uuid4().hex[:4]}")
    got, answer, _ = tablet.request("POST", path, raw=body.encode())
    assert got == status and answer["message"]


def test_a_document_of_huge_blank_pictures_is_refused_at_once_and_cheaply(shared_box: Box,
                                                                          counter: FakePrinter) -> None:
    import base64
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("1", (576, 4096), 1).save(buf, "PNG", optimize=True)
    picture = base64.b64encode(buf.getvalue()).decode()
    doc = {"lines": [{"image": picture} for _ in range(100)]}
    web = shared_box.pids("web")[-1]
    rss_before = rss_mb(web)
    tablet = shared_box.client("pictures")
    started = time.monotonic()
    status, body, _ = tablet.request("POST", "/api/v1/jobs", {"printer": "counter", "document": doc, "copies": 10})
    assert status == 422 and "m of paper" in body["message"]
    assert time.monotonic() - started < 5
    assert rss_mb(web) - rss_before < 100


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def test_concurrent_wrong_pins_never_pass_the_limit_and_the_owner_is_told(redis_only, tmp_path: Path) -> None:
    from appliance.errors import Invalid, TooManyAttempts

    checked: list[str] = []

    def guess(n: int) -> None:
        try:
            devices.pair(redis_only, f"{n:06d}", None, f"10.0.{n // 200}.{n % 200}")
        except Invalid:
            checked.append("wrong")
        except TooManyAttempts:
            checked.append("locked")

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(90)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert checked.count("wrong") == devices.FAILURES_ALL and checked.count("locked") == 90 - devices.FAILURES_ALL
    assert devices.pairing_locked(redis_only) > 0


def test_appliance_pair_says_when_pairing_is_locked(box: Box) -> None:
    from appliance.errors import Invalid

    for n in range(devices.FAILURES_ALL):  # wrong PINs from as many addresses
        with contextlib.suppress(Invalid):
            devices.pair(box.redis, "000000", None, f"192.0.2.{n}")
    said = subprocess.run(box.argv("pair", "--name", "next"), capture_output=True, text=True, check=True)
    assert "PIN:" in said.stdout and "pairing is locked" in said.stderr


def test_redis_stalled_mid_rush_loses_and_duplicates_nothing(box: Box, printer: FakePrinter) -> None:
    box.add_printer("bar", printer.uri)
    tablets = [box.client(f"stall{n}") for n in range(3)]
    acknowledged: list[str] = []
    statuses: list[int] = []
    lock = threading.Lock()

    def tablet_loop(tablet: Client) -> None:
        for _ in range(15):
            job_id = post_until_accepted(tablet, "bar", 60, statuses)
            with lock:
                acknowledged.append(job_id)

    threads = [threading.Thread(target=tablet_loop, args=(t,)) for t in tablets]
    for thread in threads:
        thread.start()
    wait_for(lambda: len(acknowledged) >= 10, what="the rush to be under way")
    [redis_pid] = box.pids("redis")
    os.kill(redis_pid, signal.SIGSTOP)  # a stall: the card is slow, Redis answers nobody
    time.sleep(3)
    os.kill(redis_pid, signal.SIGCONT)
    for thread in threads:
        thread.join(90)
    assert len(acknowledged) == 45 and 500 not in statuses
    wait_for(lambda: len(printer.receipts) >= 45, 60, "every acknowledged job to print")
    printed = [r.text.strip() for r in printer.receipts]
    assert sorted(printed) == sorted(acknowledged)


def test_printing_resumes_within_seconds_after_redis_is_killed(box: Box, printer: FakePrinter) -> None:
    box.add_printer("grill", printer.uri)
    tablet = box.client()
    [redis_pid] = box.pids("redis")
    box.kill9(redis_pid)
    wait_for(lambda: box.pids("redis") and box.pids("redis") != [redis_pid], 10, "Redis to be restarted")
    wait_for(box.healthy, 10, "the box to be healthy again within seconds")
    job = tablet.print(printer="grill", document=ticket("AFTER"))
    assert tablet.wait_job(job["id"], timeout=10)["status"] == "printed"


def test_a_full_card_is_said_and_nothing_accepted_is_lost(tmp_path: Path) -> None:
    mount = tmp_path / "card"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", str(mount)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root and mount rights)")
    box = Box(mount / "box")
    printer = FakePrinter()
    try:
        box.start()
        box.add_printer("kitchen", printer.uri)
        tablet = box.client()
        printer.set_state(paper="out")  # jobs stay queued: what is accepted must survive
        accepted = [tablet.print(printer="kitchen", document=ticket(f"K{n}"))["id"] for n in range(5)]
        filler = mount / "filler"
        with open(filler, "wb") as out, contextlib.suppress(OSError):
            while True:
                out.write(b"\0" * (1 << 20))
        # The last free bytes may still take a job or two; then every answer says the card is full.
        for n in range(50):
            status, body, _ = tablet.request("POST", "/api/v1/jobs", {"printer": "kitchen",
                                                                      "document": ticket(f"F{n}")})
            if status != 202:
                break
            accepted.append(body["id"])
        assert status == 507 and "full" in body["message"]
        health = Client(box.url, timeout=5).request("GET", "/healthz")
        assert health[0] == 503 and "full" in health[1]["problem"]
        filler.unlink()
        wait_for(box.healthy, 30, "the box to be healthy once room is made")
        printer.set_state(paper="ok")
        for job_id in accepted:
            assert tablet.wait_job(job_id, timeout=30)["status"] == "printed"
    finally:
        box.stop()
        printer.stop()
        subprocess.run(["umount", "-l", str(mount)], check=False)
