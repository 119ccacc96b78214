"""Virtual network printers: apps that print to an IP address and port 9100 print through the
box, with its guarantees, and get truthful answers to their questions. The clients are not
ours: python-escpos's ``Network`` printer, and receiptio (npm) run under Node."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest
from escpos.printer import Network

from appliance.printing import printers, virtual_ports
from appliance.printing.status import PrinterStatus
from appliance.store import keys
from tests.box import ROOT, Box, free_port, wait_for
from tests.fakeprinter import FakePrinter

RECEIPTIO = ROOT / "tests" / "node" / "node_modules" / ".bin" / "receiptio"


# -- the splitter, pure ---------------------------------------------------------------------

def test_a_stream_is_cut_into_jobs_at_cuts_and_questions_are_taken_out() -> None:
    splitter = virtual_ports.Splitter()
    image = b"\x1dv0\x00\x01\x00\x02\x00" + b"\x10\x04\x01"  # image data that looks like DLE EOT 1
    pieces = splitter.feed(b"\x1b@\x10\x04\x02\x1dIBHello\n" + image + b"\x1dV\x00\x1dr\x01World")
    assert [(p.kind, p.n) for p in pieces] == [("realtime", 2), ("info", 66), ("job", 0), ("in_order", 0)]
    assert pieces[2].data == b"\x1b@Hello\n" + image + b"\x1dV\x00"  # whole, questions out, image intact
    assert splitter.close(whole=True) == [virtual_ports.Piece("job", b"World")]


def test_setup_alone_waits_for_its_receipt_and_a_lost_link_marks_the_half() -> None:
    splitter = virtual_ports.Splitter()
    assert splitter.feed(b"\x1b@\x1bt\x11\x1d(H\x06\x0000ABCD") == [
        virtual_ports.Piece("in_order", b"\x1d(H\x06\x0000ABCD")]
    assert splitter.feed(b"Half a rec") == []
    [piece] = splitter.close(whole=False)
    assert piece.data.startswith(virtual_ports.INCOMPLETE) and b"\x1b@\x1bt\x11Half a rec" in piece.data
    assert piece.data.endswith(virtual_ports.CUT)
    paged = virtual_ports.Splitter()  # cut short in page mode, where a cut is not obeyed
    assert paged.feed(b"\x1b@\x1bLTable 7\n") == []
    [piece] = paged.close(whole=False)
    assert piece.data.endswith(b"Table 7\n\x0c" + virtual_ports.CUT)  # the page printed, then cut
    cleared = virtual_ports.Splitter()
    assert cleared.feed(b"abc\x10\x14\x08\x01\x03\x14\x01\x06\x02\x08") == [virtual_ports.Piece("clear")]
    assert cleared.close(whole=True) == []


def test_automatic_status_back_says_what_epson_s_does() -> None:
    assert virtual_ports.asb(PrinterStatus(True, "ok", False, False)) == b"\x10\x00\x00\x00"
    assert virtual_ports.asb(PrinterStatus(True, "out", False, False)) == b"\x18\x00\x0f\x00"
    assert virtual_ports.asb(PrinterStatus(True, "ok", True, False)) == b"\x38\x00\x00\x00"


# -- through a running box --------------------------------------------------------------------

@pytest.fixture
def exposed(shared_box: Box, make_printer) -> Iterator[tuple[FakePrinter, int]]:
    """A fake printer behind the box, exposed on a free port of the box."""
    printer = make_printer()
    printer.engine.maker, printer.engine.printer_id = b"EPSON", b"TM-T20III"
    name = f"p{printer.port}"
    shared_box.add_printer(name, printer.uri, ("kitchen",))
    port = free_port()
    printers.expose(shared_box.redis, name, port)
    wait_for(lambda: shared_box.redis.hget(keys.virtual_port_states(), name) == b"listening", 10, "the port to open")
    wait_for(lambda: printers.describe(shared_box.redis, printers.get(shared_box.redis, name))["model"], 20,
             "the box to know the printer")
    printer.name = name  # type: ignore[attr-defined]
    yield printer, port
    printers.expose(shared_box.redis, name, None)


def ask(port: int, question: bytes, size: int, timeout: float = 5.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(question)
        answer = b""
        while len(answer) < size:
            chunk = sock.recv(size - len(answer))
            if not chunk:
                break
            answer += chunk
        return answer


def test_python_escpos_prints_through_the_box_as_to_a_printer(shared_box: Box, exposed) -> None:
    printer, port = exposed
    app = Network("127.0.0.1", port=port, timeout=5)
    app.set(align="center", bold=True)
    app.text("Zamówienie 12\nŻurek x2\nCrème brûlée\n")
    app.cut()
    app.close()
    receipt = printer.wait_receipts(1, timeout=20)[0]
    assert "Zamówienie 12" in receipt.text and "Żurek x2" in receipt.text
    wait_for(lambda: printers.pending_count(shared_box.redis, printer.name) == 0, 10, "the job to be confirmed")


def test_questions_get_the_real_printer_s_answers(shared_box: Box, exposed) -> None:
    printer, port = exposed
    assert ask(port, b"\x1dIB", 7) == b"_EPSON\x00"
    assert ask(port, b"\x1dIC", 11) == b"_TM-T20III\x00"
    assert ask(port, b"\x10\x04\x04", 1) == b"\x12"  # paper roll: fine
    printer.set_state(paper="out")
    wait_for(lambda: ask(port, b"\x10\x04\x04", 1) == b"\x7e", 20, "DLE EOT 4 to say paper out")
    assert ask(port, b"\x1da\xff", 4) == b"\x18\x00\x0f\x00"  # GS a: Automatic Status Back, at once
    printer.set_state(paper="ok")


def test_status_answers_are_as_fresh_as_the_printer_s_own(shared_box: Box, exposed) -> None:
    """The cover opened a moment ago: the next question hears it, as from the printer itself,
    and an app listening to ASB is told within a second."""
    printer, port = exposed
    with socket.create_connection(("127.0.0.1", port), timeout=10) as app:
        app.sendall(b"\x1da\xff")  # GS a: send the status at every change
        assert app.recv(4) == b"\x10\x00\x00\x00"
        printer.set_state(cover_open=True)
        opened = time.monotonic()
        assert app.recv(4) == b"\x38\x00\x00\x00"  # ASB: cover open, off line
        assert time.monotonic() - opened < 1.5
        printer.set_state(cover_open=False)
        assert app.recv(4) == b"\x10\x00\x00\x00"
    time.sleep(printers.FRESH)  # the last reading is older than a second now
    printer.set_state(cover_open=True)
    asked = time.monotonic()
    assert ask(port, b"\x10\x04\x02", 1) == b"\x16"  # DLE EOT 2: the cover is open, at once
    assert time.monotonic() - asked < printers.READING_WAIT + 0.5
    printer.set_state(cover_open=False)


def test_an_in_order_answer_comes_once_the_job_is_on_paper(shared_box: Box, exposed) -> None:
    printer, port = exposed
    printer.set_state(paper="out")
    wait_for(lambda: ask(port, b"\x10\x04\x04", 1) == b"\x7e", 20, "the box to see the paper out")
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(b"\x1b@Bigos\n\x1dV\x00\x1d(H\x06\x0000Q123")
        sock.settimeout(1.5)
        with pytest.raises(TimeoutError):
            sock.recv(7)  # not on paper yet: no answer, as from the printer itself
        printer.set_state(paper="ok")
        sock.settimeout(20)
        assert sock.recv(7) == b"\x37\x22Q123\x00"
        assert [r.text for r in printer.receipts] == ["Bigos\n"]


def test_apps_printing_at_once_are_served_together_and_never_interleaved(shared_box: Box, exposed) -> None:
    printer, port = exposed
    socks = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(3)]
    for line in range(20):  # three apps, a line each in turn: a real printer would reset two
        for n, sock in enumerate(socks):
            sock.sendall(f"app {n} line {line}\n".encode())
    for sock in socks:
        sock.sendall(b"\x1dV\x00")
        sock.close()
    receipts = printer.wait_receipts(3, timeout=30)
    for receipt in receipts:
        app = receipt.text.split()[1]
        assert receipt.text == "".join(f"app {app} line {line}\n" for line in range(20))


def test_half_a_receipt_from_a_lost_link_prints_marked_incomplete(shared_box: Box, exposed) -> None:
    printer, port = exposed
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(b"\x1b@Table 5\n2x Pierogi\n\x10\x04\x01")
    assert sock.recv(1)  # the box has read the half receipt (it answered what followed it)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    sock.close()  # a reset, as when the Wi-Fi drops mid-receipt
    receipt = printer.wait_receipts(1, timeout=20)[0]
    assert "INCOMPLETE" in receipt.text and "2x Pierogi" in receipt.text
    assert receipt.cut  # cut after it: the next receipt starts on its own piece of paper


def test_the_durable_detour_survives_a_printer_that_is_off(shared_box: Box, exposed) -> None:
    printer, port = exposed
    printer.reachable = False
    app = Network("127.0.0.1", port=port, timeout=5)
    app.text("Kotlet schabowy\n")
    app.cut()
    app.close()  # the app is done at once: the box holds the job, the printer is off
    wait_for(lambda: printers.pending_count(shared_box.redis, printer.name) == 1, 10, "the job to be queued")
    assert printer.receipts == []
    printer.reachable = True
    assert "Kotlet schabowy" in printer.wait_receipts(1, timeout=40)[0].text


def receiptio_status() -> str:
    run = subprocess.run([str(RECEIPTIO), "-d", "127.0.0.1", "-q"], capture_output=True, text=True, timeout=60)
    return (run.stdout + run.stderr).strip()


@pytest.mark.skipif(not RECEIPTIO.exists() or shutil.which("node") is None,
                    reason="needs Node and receiptio (npm ci --prefix tests/node; .ci/run does it)")
def test_receiptio_reads_status_and_prints(tmp_path, make_printer) -> None:
    """receiptio only speaks to port 9100: this box listens there, on loopback only."""
    box = Box(tmp_path / "box").start()
    try:
        printer = make_printer()
        printer.engine.maker, printer.engine.printer_id = b"EPSON", b"TM-T88VI"
        box.add_printer("bar", printer.uri, ("bar",))
        try:
            printers.expose(box.redis, "bar", 9100)
        except Exception as exc:  # pragma: no cover
            pytest.skip(f"port 9100: {exc}")
        wait_for(lambda: box.redis.hget(keys.virtual_port_states(), "bar") == b"listening", 10, "port 9100")
        wait_for(lambda: printers.describe(box.redis, printers.get(box.redis, "bar"))["model"], 20, "the printer")
        source = tmp_path / "order.receipt"
        source.write_text("^^Table 7\n---\n|Żurek | 2|\n|Kompot | 1|\n{code:COMPTOIR-7; option:code128}\n=\n")
        run = subprocess.run([str(RECEIPTIO), "-d", "127.0.0.1", "-t", "30", str(source)],
                             capture_output=True, text=True, timeout=60)
        assert (run.stdout + run.stderr).strip() == "success"  # receiptio says how it went on stderr
        paper = printer.wait_receipts(1, timeout=20)[0].text
        assert "Table 7" in paper and "Żurek" in paper and "COMPTOIR-7" in paper
        assert receiptio_status() == "online"
        printer.set_state(cover_open=True)
        wait_for(lambda: receiptio_status() == "coveropen", 20, "receiptio to see the cover open")
    finally:
        box.stop()


def test_two_printers_cannot_share_a_port_nor_take_the_box_s(shared_box: Box, exposed) -> None:
    from appliance.errors import Conflict, Invalid

    _, port = exposed
    shared_box.add_printer("other", "tcp://127.0.0.1:9", ())
    with pytest.raises(Conflict):
        printers.expose(shared_box.redis, "other", port)
    with pytest.raises(Invalid):
        printers.expose(shared_box.redis, "other", 8080)
    printers.remove(shared_box.redis, "other")


def test_what_an_app_sent_survives_a_crash_of_the_box(box: Box, make_printer) -> None:
    """The app has sent half a receipt and waits; the box's process behind the port is killed
    (kill -9): the bytes were on disk, and the half receipt prints when it is back, marked
    INCOMPLETE, as a printer that lost its link prints what it had."""
    printer = make_printer()
    box.add_printer("kuchnia", printer.uri, ("kitchen",))
    port = free_port()
    printers.expose(box.redis, "kuchnia", port)
    wait_for(lambda: box.redis.hget(keys.virtual_port_states(), "kuchnia") == b"listening", 10, "the port to open")
    app = socket.create_connection(("127.0.0.1", port), timeout=10)
    app.sendall(b"\x1b@Stolik 4\n2x Barszcz\n")
    wait_for(lambda: box.redis.scard(keys.app_connections()) == 1, 10, "the bytes on disk")  # one MULTI with them
    [background] = box.pids("background")
    box.kill9(background)
    receipt = printer.wait_receipts(1, timeout=60)[0]
    assert "INCOMPLETE" in receipt.text and "2x Barszcz" in receipt.text and receipt.cut
    assert box.redis.scard(keys.app_connections()) == 0
    app.close()


def test_a_record_left_by_a_crash_is_queued_once(shared_box: Box, exposed) -> None:
    """What recovery finds after a crash: an app's first receipt was queued in the transaction
    that left the start of its second in the record, and an earlier recovery queued that start
    and stopped before forgetting the record. Each prints once, the start marked INCOMPLETE."""
    from appliance.printing import app_record, jobs

    printer, _ = exposed
    r, source = shared_box.redis, f"port:{printer.name}"
    data = b"\x1b@Zamowienie 1\n\x1dV\x00Zamowienie 2\n"
    splitter = virtual_ports.Splitter()
    [first] = splitter.feed(data)
    record = app_record.Record(printer.name)
    first_id = record.next_job_id()
    jobs.submit_raw_many(r, printer.name, [(first_id, first.data)], source, also=lambda pipe: record.write(
        pipe, data, splitter.pending(), "escpos", cut=True, ended=False))
    record.written()
    [second] = splitter.close(whole=False)  # what recovery makes of the record
    second_id = jobs.submit_raw(r, printer.name, second.data, source, app_record.job_id(record.id, 1))
    assert virtual_ports.recover(r) == 1  # the second again: the same job
    texts = [receipt.text for receipt in printer.wait_receipts(2, timeout=20)]
    assert texts[0] == "Zamowienie 1\n" and "INCOMPLETE" in texts[1] and "Zamowienie 2" in texts[1]
    wait_for(lambda: jobs.status_of(r, second_id) == "printed", 20, "the second receipt")
    assert len(printer.receipts) == 2
    assert r.scard(keys.app_connections()) == 0
