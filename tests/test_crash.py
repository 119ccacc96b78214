"""Crashes and power cuts, for real: kill -9 of each part of the box, and of all of it.

After each, every job the box acknowledged prints, in order, and exactly once on paper;
a job that may have reached the paper before the crash prints again marked REPRINT.
"""

from __future__ import annotations

import threading

from appliance.printing.emulated.engine import Receipt
from appliance.tools.client import Client
from tests.box import Box, big_ticket, post_until_accepted, ticket, wait_for
from tests.fakeprinter import FakePrinter


def body_lines(receipt: Receipt) -> list[str]:
    return [line.strip() for line in receipt.text.strip().splitlines()]


def labels(receipts: list[Receipt]) -> list[str]:
    """What a cook reads at the top of each ticket: 'K1', or 'REPRINT K0'."""
    out = []
    for receipt in receipts:
        lines = body_lines(receipt)
        out.append(" ".join(lines[:2]) if lines[0] == "REPRINT" else lines[0])
    return out


def assert_reprinted_in_order(tablet: Client, receipts: list[Receipt], ids: list[str], label: str) -> None:
    """The jobs in the printer's hands at the crash (the first ones: the job on the wire and
    any sent ahead of its confirmation) came out at most once unmarked, whole or torn (the
    printer prints what it had received), then each again marked REPRINT, in order; every
    other job once, in order, after them."""
    sent = [n for n, job_id in enumerate(ids) if tablet.job(job_id)["reprint"]]
    assert sent and sent == list(range(len(sent)))  # the first ones, and only those
    assert all(tablet.job(ids[n])["attempts"] == 2 for n in sent)
    got = labels(receipts)
    first_reprint = got.index(f"REPRINT {label}0")
    before = got[:first_reprint]
    assert len(before) == len(set(before)) and set(before) <= {f"{label}{n}" for n in sent}
    assert got[first_reprint:] == [*(f"REPRINT {label}{n}" for n in sent),
                                   *(f"{label}{n}" for n in range(len(sent), len(ids)))]


def wait_printed(tablet: Client, ids: list[str], timeout: float = 60) -> None:
    for job_id in ids:
        job = tablet.wait_job(job_id, timeout=timeout)
        assert job["status"] == "printed", job


def first_job_on_the_wire(box: Box, printer: FakePrinter, label: str, count: int) -> tuple[Client, list[str]]:
    """Queue ``count`` big tickets on a slow kitchen printer; return once the first is half sent."""
    box.add_printer("kitchen", printer.uri)
    tablet = box.client()
    printer.bytes_per_second = 4000
    ids = [tablet.print(printer="kitchen", document=big_ticket(f"{label}{i}"))["id"] for i in range(count)]
    wait_for(lambda: tablet.job(ids[0])["status"] == "printing" and len(printer.raw) > 3000,
             what="the first job to be half sent")
    return tablet, ids


def test_workers_killed_mid_job_reprint_that_job_marked(box: Box, printer: FakePrinter) -> None:
    """kill -9 of the process that runs the printer workers (every printer's thread)."""
    tablet, ids = first_job_on_the_wire(box, printer, "K", 3)
    box.kill9(box.worker("kitchen")["pid"])
    printer.bytes_per_second = None
    wait_printed(tablet, ids)
    assert_reprinted_in_order(tablet, printer.receipts, ids, "K")


def test_workers_killed_while_a_job_waits_for_a_printer_that_is_off(box: Box, printer: FakePrinter) -> None:
    """The job the worker took waits (status queued, its reason said) when the box loses
    power: after the restart the worker takes it again first (found by the SD image's test:
    it used to fail the worker at every start)."""
    box.add_printer("kitchen", printer.uri)
    printer.reachable = False
    tablet = box.client()
    ids = [tablet.print(printer="kitchen", document=ticket(f"W{n}"))["id"] for n in range(3)]
    wait_for(lambda: tablet.job(ids[0])["last_error"], 20, "the first job to say why it waits")
    box.kill9(box.worker("kitchen")["pid"])
    printer.reachable = True
    wait_printed(tablet, ids)  # the worker came back and took them, the waiting one first
    assert labels(printer.receipts) == ["W0", "W1", "W2"]


def test_web_server_killed_mid_burst_loses_and_duplicates_nothing(box: Box, printer: FakePrinter) -> None:
    box.add_printer("counter", printer.uri)
    tablets = [box.client(f"t{n}") for n in range(4)]
    acknowledged: list[str] = []
    lock = threading.Lock()

    def tablet_loop(tablet: Client) -> None:
        for _ in range(25):  # a tablet retries, same id, until the box answers
            job_id = post_until_accepted(tablet, "counter", 30)
            with lock:
                acknowledged.append(job_id)

    threads = [threading.Thread(target=tablet_loop, args=(t,)) for t in tablets]
    for thread in threads:
        thread.start()
    wait_for(lambda: len(acknowledged) >= 20, what="the burst to be under way")
    web = box.pids("web")
    assert web
    box.kill9(*web)
    for thread in threads:
        thread.join(60)
    assert len(acknowledged) == 100
    wait_for(lambda: len(printer.receipts) >= 100, 60, "every acknowledged job to print")
    printed = [lines[0] for lines in map(body_lines, printer.receipts)]
    assert sorted(printed) == sorted(acknowledged)  # each once: none lost, none twice
    assert set(box.pids("web")).isdisjoint(web)  # a new API server took over


def test_redis_killed_loses_no_acknowledged_job(box: Box, printer: FakePrinter) -> None:
    box.add_printer("bar", printer.uri)
    tablet = box.client()
    printer.set_state(paper="out")
    ids = [tablet.print(printer="bar", document=ticket(f"B{i}"))["id"] for i in range(10)]
    [redis_pid] = box.pids("redis")
    box.kill9(redis_pid)
    wait_for(lambda: box.pids("redis") and box.pids("redis") != [redis_pid], 20, "Redis to be restarted")
    wait_for(box.healthy, 30, "the box to recover")
    printer.set_state(paper="ok")
    wait_printed(tablet, ids)
    assert labels(printer.receipts) == [f"B{i}" for i in range(10)]


def test_everything_killed_at_once_then_restarted(box: Box, printer: FakePrinter) -> None:
    tablet, ids = first_job_on_the_wire(box, printer, "A", 4)
    box.kill9(*box.pids())  # the power cut
    wait_for(lambda: not box.pids(), what="every process to be gone")
    printer.bytes_per_second = None
    box.start()
    wait_printed(tablet, ids)
    assert_reprinted_in_order(tablet, printer.receipts, ids, "A")


def test_health_says_when_the_background_side_is_gone(box: Box) -> None:
    """A frozen background process (the virtual printers, the searches, mDNS) makes the box
    unhealthy, by name, within its heartbeat's life, and healthy again once it runs: an
    update whose background side hangs or crashes is not kept."""
    import os
    import signal

    from appliance.tools.client import Client

    def health() -> tuple[int, dict]:
        status, body, _ = Client(box.url, timeout=5).request("GET", "/healthz")
        return status, body

    status, body = health()
    assert status == 200 and body["background"]["virtual-printers"]
    [background] = box.pids("background")
    os.kill(background, signal.SIGSTOP)
    try:
        down = wait_for(lambda: (answer := health())[0] == 503 and answer, 30, "the box to say it")
        assert down[1]["problem"] == "background process down"
    finally:
        os.kill(background, signal.SIGCONT)
    wait_for(lambda: health()[0] == 200, 30, "the box healthy again")


def test_a_part_that_hangs_is_seen_as_surely_as_one_that_crashed(monkeypatch) -> None:
    """The background process's watchdog is fed by its parts' own loops: a part stuck in a
    call that never returns stops beating and counts as down, like one that raised; a part
    that finished its work (mDNS when it is off) is not held against the box."""
    import time

    from appliance.runtime import background

    monkeypatch.setattr(background, "QUIET", 0.5)
    stop, never = threading.Event(), threading.Event()

    def beats(part: background.Part) -> None:
        while not part.wait(0.05):
            pass

    def hangs(part: background.Part) -> None:
        part.wait(0)
        never.wait(30)  # a call that never returns

    def crashes(part: background.Part) -> None:
        raise RuntimeError("boom")

    parts = {name: background.Part(name, loop, stop)
             for name, loop in (("beats", beats), ("hangs", hangs), ("crashes", crashes), ("done", lambda part: None))}
    for part in parts.values():
        part.start()
    try:
        wait_for(lambda: not parts["hangs"].running(time.monotonic()), 5, "the stuck part to count as down")
        now = time.monotonic()
        assert {name: part.running(now) for name, part in parts.items()} == {
            "beats": True, "hangs": False, "crashes": False, "done": True}
    finally:
        stop.set()
        never.set()
