"""Every kind of printer link behind one interface: Bluetooth (against a stand-in stream
socket where there is no radio), USB (what can be checked without a device), URIs."""

from __future__ import annotations

import socket
import threading
import uuid
from pathlib import Path

import pytest

from appliance.printing import jobs, printers, transports
from appliance.printing import status as printer_status
from appliance.printing.request import JobRequest
from appliance.printing.transports import TransportError
from appliance.printing.transports.bluetooth import BluetoothTransport, available
from appliance.printing.transports.usb import UsbTransport
from appliance.printing.worker import PrinterDriver
from tests.box import wait_for
from tests.fakeprinter import FakePrinter
from tests.test_printing import big_ticket


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
    assert printer_status.query(link, 2).ready
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


def test_a_dropped_bluetooth_link_reconnects_and_reprints_whole(redis_only, bt_printer: FakePrinter) -> None:
    config = printers.add(redis_only, printers.validate("bt1", "bt://00:11:22:33:44:55/1"))
    driver = PrinterDriver(redis_only, config)
    driver.link = BluetoothTransport(config.uri, "00:11:22:33:44:55", 1, dial=stand_in(bt_printer.unix_path))
    job = jobs.submit(redis_only, JobRequest.model_validate({"printer": "bt1", "document": big_ticket("BT1")})).job
    bt_printer.bytes_per_second = 4000
    worker = threading.Thread(target=driver.print, args=(job["id"],))
    worker.start()
    wait_for(lambda: len(bt_printer.raw) > 3000, what="the job to be half sent")
    bt_printer.reachable = False  # the printer drops the link (it went to sleep, or out of range)
    bt_printer.bytes_per_second = None
    bt_printer.reachable = True
    worker.join(60)
    final = jobs.get(redis_only, job["id"])
    assert final["status"] == "printed" and final["reprint"] and final["attempts"] == 2
    whole = [r for r in bt_printer.receipts if r.cut]
    assert [r.text.split()[0] for r in whole] == ["REPRINT"] and "BT1" in whole[0].text


def test_a_switched_off_bluetooth_printer_keeps_its_job(redis_only, bt_printer: FakePrinter) -> None:
    config = printers.add(redis_only, printers.validate("bt2", "bt://00:11:22:33:44:66/1"))
    driver = PrinterDriver(redis_only, config)
    driver.link = BluetoothTransport(config.uri, "00:11:22:33:44:66", 1, dial=stand_in(bt_printer.unix_path))
    bt_printer.reachable = False
    job = jobs.submit(redis_only, JobRequest.model_validate({"printer": "bt2", "document": {
        "lines": [{"text": "later"}]}})).job
    worker = threading.Thread(target=driver.print, args=(job["id"],))
    worker.start()
    wait_for(lambda: "unreachable" in (jobs.get(redis_only, job["id"])["last_error"] or ""), what="the wait")
    assert jobs.get(redis_only, job["id"])["status"] == "queued"
    bt_printer.reachable = True
    worker.join(60)
    assert jobs.get(redis_only, job["id"])["status"] == "printed"


def test_a_usb_printer_that_is_not_plugged_in_is_an_error_not_a_crash() -> None:
    link = UsbTransport(f"usb://{uuid.uuid4().hex[:4]}:0000", 0xFFFE, 0x0000)
    with pytest.raises(TransportError, match=r"not found|needs pyusb|not usable"):
        link.open()
    assert not link.is_open
