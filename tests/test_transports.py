"""Every kind of printer link behind one interface: Bluetooth (against a stand-in stream
socket where there is no radio), USB (what can be checked without a device), URIs."""

from __future__ import annotations

import contextlib
import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from appliance.printing import jobs, printers, transports, worker
from appliance.printing import status as printer_status
from appliance.printing.driver import PrinterDriver
from appliance.printing.request import JobRequest
from appliance.printing.transports import TransportError
from appliance.printing.transports.bluetooth import BluetoothTransport, available
from appliance.printing.transports.usb import UsbTransport
from appliance.printing.worker import PrinterWorker
from tests.box import big_ticket, wait_for
from tests.fakeprinter import FakePrinter


def stand_in(path: str):
    def dial() -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(path)
        return sock
    return dial


@pytest.fixture
def bt_printer(tmp_path: Path):
    printer = FakePrinter(unix_path=str(tmp_path / "rfcomm"))
    yield printer
    printer.stop()


@pytest.mark.parametrize(("uri", "kind"), [
    ("tcp://192.168.1.50", "TcpTransport"), ("tcp://printer.local:9101", "TcpTransport"),
    ("bt://00:11:22:aa:bb:cc", "BluetoothTransport"), ("bt://00:11:22:AA:BB:CC/3", "BluetoothTransport"),
    ("usb://04b8:0e15", "UsbTransport"), ("file:///tmp/comptoir-receipts/", "EmulatedTransport"),
])
def test_every_uri_maps_to_its_transport(uri: str, kind: str) -> None:
    assert type(transports.for_uri(uri)).__name__ == kind


@pytest.mark.parametrize(("uri", "problem"), [
    ("bt://nope", "printer's address"), ("bt://00:11:22:33:44:55/99", "channel"),
    ("usb://epson", "vendor and product ids"), ("ipp://x", "unknown printer URI scheme"),
    ("tcp://", "needs a host"),
])
def test_bad_uris_say_what_is_wrong(uri: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        transports.for_uri(uri)


def test_bluetooth_link_prints_and_answers_status(bt_printer: FakePrinter) -> None:
    link = BluetoothTransport("bt://00:11:22:33:44:55/1", "00:11:22:33:44:55", 1, dial=stand_in(bt_printer.unix_path))
    link.open()
    link.discard_input()
    link.write(printer_status.QUERY)
    assert printer_status.parse(link.read(printer_status.ANSWER_LENGTH, 2)).ready
    link.write(b"\x1b@Hello\n\x1dV\x00")
    assert bt_printer.wait_receipts(1)[0].text == "Hello\n"
    link.close()


def test_no_bluetooth_is_said_clearly() -> None:
    problem = available()
    if problem is None:
        pytest.skip("this machine has Bluetooth: the no-radio message cannot be seen here")
    link = transports.for_uri("bt://00:11:22:33:44:55/1")
    with pytest.raises(TransportError, match="Bluetooth"):
        link.open()


@contextlib.contextmanager
def bluetooth_worker(r, name: str, mac: str, printer: FakePrinter) -> Iterator[None]:
    """The printer's real rq worker, its link dialled through the stand-in socket."""
    printers.add(r, printers.validate(name, f"bt://{mac}/1"))
    # The worker's own client waits longer than rq's blocking dequeue, as in the pool.
    pool = r.connection_pool
    r = redis.Redis(connection_pool=redis.ConnectionPool(
        connection_class=pool.connection_class,
        **{**pool.connection_kwargs, "socket_timeout": worker.WORKER_TTL + 15}))
    driver = PrinterDriver(r, printers.get(r, name))
    driver.link = BluetoothTransport(driver.config.uri, mac, 1, dial=stand_in(printer.unix_path))
    running: list[PrinterWorker] = []
    thread = threading.Thread(target=worker.run, args=(r, name, running.append, driver), daemon=True)
    thread.start()
    try:
        yield
    finally:
        wait_for(lambda: running, what="the worker to start")
        running[0].request_stop_now()
        thread.join(30)


def test_a_dropped_bluetooth_link_reconnects_and_reprints_whole(redis_only, bt_printer: FakePrinter) -> None:
    with bluetooth_worker(redis_only, "bt1", "00:11:22:33:44:55", bt_printer):
        bt_printer.bytes_per_second = 4000
        job = jobs.submit(redis_only, JobRequest.model_validate({"printer": "bt1", "document": big_ticket("BT1")})).job
        wait_for(lambda: len(bt_printer.raw) > 3000, what="the job to be half sent")
        bt_printer.reachable = False  # the printer drops the link (it went to sleep, or out of range)
        bt_printer.bytes_per_second = None
        bt_printer.reachable = True
        wait_for(lambda: jobs.get(redis_only, job["id"])["status"] == "printed", 60, "the job to print")
    final = jobs.get(redis_only, job["id"])
    assert final["reprint"] and final["attempts"] == 2
    whole = [r for r in bt_printer.receipts if r.cut]
    assert [r.text.split()[0] for r in whole] == ["REPRINT"] and "BT1" in whole[0].text


def test_a_switched_off_bluetooth_printer_keeps_its_job(redis_only, bt_printer: FakePrinter) -> None:
    bt_printer.reachable = False
    with bluetooth_worker(redis_only, "bt2", "00:11:22:33:44:66", bt_printer):
        job = jobs.submit(redis_only, JobRequest.model_validate({"printer": "bt2", "document": {
            "lines": [{"text": "later"}]}})).job
        wait_for(lambda: "unreachable" in (jobs.get(redis_only, job["id"])["last_error"] or ""), what="the wait")
        assert jobs.get(redis_only, job["id"])["status"] == "queued"
        bt_printer.reachable = True
        wait_for(lambda: jobs.get(redis_only, job["id"])["status"] == "printed", 60, "the job to print")


def test_a_usb_printer_that_is_not_plugged_in_is_an_error_not_a_crash() -> None:
    link = UsbTransport(f"usb://{uuid.uuid4().hex[:4]}:0000", 0xFFFE, 0x0000)
    with pytest.raises(TransportError, match=r"not plugged in|needs pyusb|needs libusb|not usable"):
        link.open()
    assert not link.is_open


def test_a_star_bluetooth_printer_is_learnt_over_rfcomm_and_prints_confirmed(redis_only, tmp_path: Path) -> None:
    """A Star printer's serial profile, as an Epson's: its language learnt over the link."""
    star_printer = FakePrinter(unix_path=str(tmp_path / "rfcomm-star"), language="star", model=b"SM-L200 Ver1.0")
    try:
        with bluetooth_worker(redis_only, "bt3", "00:11:22:33:44:77", star_printer):
            wait_for(lambda: printers.get(redis_only, "bt3").language == "starprnt", 30, "its language learnt")
            job = jobs.submit(redis_only, JobRequest.model_validate({"printer": "bt3", "document": {
                "lines": [{"text": "Żurek przez Bluetooth"}]}})).job
            wait_for(lambda: jobs.get(redis_only, job["id"])["status"] == "printed", 60, "the job to print")
        assert "Żurek przez Bluetooth" in star_printer.wait_receipts(1)[0].text
    finally:
        star_printer.stop()
