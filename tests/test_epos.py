"""Epson ePOS-Print: documents as Epson's SDK and Odoo's POS post them, printed through the
box and answered as an Epson printer answers, with CORS for the web apps that post them."""

from __future__ import annotations

import base64
import contextlib
import re
import socket
import subprocess
import uuid

import pytest
import requests

from appliance import settings
from appliance.access import origins
from appliance.printing import epos, printers
from appliance.printing.emulated.engine import Engine
from appliance.store import keys
from appliance.system import certs
from tests.box import Box, free_port, wait_for
from tests.fakeprinter import FakePrinter

ENVELOPE = ('<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
            '<epos-print xmlns="http://www.epson-pos.com/schemas/2011/03/epos-print">{}</epos-print>'
            '</s:Body></s:Envelope>')

# As Epson's SDK builds it (ePOS-Print XML User's Manual's sample, with our shops' languages).
SDK_DOCUMENT = ENVELOPE.format(
    '<text lang="en" smooth="true" align="center" em="true" dw="true" dh="true">Chez Zofia&#10;</text>'
    '<text dw="false" dh="false" em="false" align="left">Żurek            12.00&#10;Борщ              9.00&#10;'
    'Crème brûlée      7.50&#10;</text><hline x1="0" x2="575" style="thin"/>'
    '<barcode type="ean13" hri="below" width="2" height="48">201234567890</barcode>'
    '<symbol type="qrcode_model_2" level="level_m" width="4">https://comptoir.example/r/12</symbol>'
    '<feed line="2"/><pulse drawer="drawer_1" time="pulse_100"/><cut type="feed"/>')


def odoo_image(width: int = 576, height: int = 40) -> str:
    """Odoo's pos_epson_printer request: a receipt drawn on a canvas, as one mono raster
    (bits packed MSB first, base64), centred, then a cut with feed. A black bar on top."""
    bits = "".join("1" if y < 8 else "0" for y in range(height) for _ in range(width))
    data = bytes(int(bits[i:i + 8].ljust(8, "0"), 2) for i in range(0, len(bits), 8))
    return ENVELOPE.format(f'<image width="{width}" height="{height}" align="center">'
                           f'{base64.b64encode(data).decode()}</image><cut type="feed"/>')


def answer(text: str) -> dict:
    match = re.search(r"<response ([^>]*)>", text)
    assert match, text
    return dict(re.findall(r'(\w+)="([^"]*)"', match.group(1)))


# -- pure -------------------------------------------------------------------------------------

def test_an_sdk_document_prints_what_it_says_in_three_languages() -> None:
    engine = Engine()
    engine.feed(epos.to_escpos(epos.parse(SDK_DOCUMENT.encode())))
    text = engine.receipts[0].text
    assert "Chez Zofia" in text and "Żurek" in text and "Борщ" in text and "Crème brûlée" in text
    assert "[barcode 201234567890]" in text and "[qr https://comptoir.example/r/12]" in text
    assert "-" * 48 in text


def test_odoo_s_packed_raster_and_epson_s_padded_one_draw_the_same_picture() -> None:
    width, height = 12, 2  # not a multiple of 8: the two packings differ
    padded = bytes([0xFF, 0xF0, 0x80, 0x10])  # rows of 2 bytes
    packed = bytes([0xFF, 0xF8, 0x01])  # 24 bits back to back
    assert epos.raster(padded, width, height) == epos.raster(packed, width, height)
    with pytest.raises(epos.SchemaError):
        epos.raster(b"\x00", width, height)


def test_a_bad_document_is_a_schema_error() -> None:
    for body in (b"not xml", b"<a/>", ENVELOPE.format('<image width="8">AA==</image>').encode(),
                 ENVELOPE.format('<barcode type="nope">1</barcode>').encode(),
                 b'<!DOCTYPE x [<!ENTITY a "aaaa">]><epos-print>&a;</epos-print>'):
        with pytest.raises(epos.SchemaError):
            epos.to_escpos(epos.parse(body))


# -- through a box ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def counter(shared_box: Box) -> FakePrinter:
    printer = FakePrinter()
    shared_box.add_printer("comptoir", printer.uri, ("receipt",))
    printers.expose(shared_box.redis, "comptoir", free_port())  # open to apps: what ePOS may reach
    wait_for(lambda: requests.post(f"{shared_box.url}/cgi-bin/epos/service.cgi?devid=local_printer",
                                   data=ENVELOPE.format("")).status_code == 200, 20, "the printer")
    yield printer
    printer.stop()


def post(box: Box, body: str, base: str | None = None, **params) -> requests.Response:
    query = "&".join(f"{k}={v}" for k, v in {"devid": "local_printer", **params}.items())
    return requests.post(f"{base or box.url}/cgi-bin/epos/service.cgi?{query}", data=body.encode(), timeout=30,
                         headers={"Content-Type": "text/plain;charset=UTF-8", "Origin": "https://odoo.example"},
                         verify=str(certs.paths(box.data_dir).ca_cert))


def test_odoo_s_request_prints_and_is_answered_once_on_paper(shared_box: Box, counter: FakePrinter) -> None:
    before = len(counter.receipts)
    response = post(shared_box, odoo_image(), timeout=60000)
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "https://odoo.example"
    got = answer(response.text)
    assert got["success"] == "true" and got["code"] == ""
    assert int(got["status"]) & epos.ASB_PRINT_SUCCESS and not int(got["status"]) & epos.ASB_OFF_LINE
    assert len(counter.receipts) == before + 1  # answered after it reached the paper, not before
    assert "[image 576x40]" in counter.receipts[-1].text
    # Odoo posts to <its own scheme>://<printer address>: the ports web apps use, by IP address.
    for base in (f"http://127.0.0.1:{shared_box.ports.epos}", f"https://127.0.0.1:{shared_box.ports.epos_https}"):
        assert answer(post(shared_box, odoo_image(), base=base).text)["success"] == "true"
    assert len(counter.receipts) == before + 3


def test_paper_out_is_said_with_epson_s_code_and_the_receipt_still_prints(shared_box: Box,
                                                                           counter: FakePrinter) -> None:
    counter.set_state(paper="out")
    wait_for(lambda: int(answer(post(shared_box, ENVELOPE.format("")).text)["status"]) & epos.ASB_RECEIPT_END,
             20, "the box to see the paper out")
    got = answer(post(shared_box, SDK_DOCUMENT, timeout=1000).text)
    assert got["success"] == "false" and got["code"] == "EPTR_REC_EMPTY"
    before = len(counter.receipts)
    counter.set_state(paper="ok")  # the roll is changed: the queued receipt prints, once
    counter.wait_receipts(before + 1, timeout=20)
    assert "Chez Zofia" in counter.receipts[-1].text


def test_unknown_devices_and_bad_documents_get_epson_s_codes(shared_box: Box, counter: FakePrinter) -> None:
    missing = post(shared_box, SDK_DOCUMENT, devid=f"nope{uuid.uuid4().hex[:6]}")
    assert missing.status_code == 404 and answer(missing.text)["code"] == "DeviceNotFound"
    bad = post(shared_box, "<epos-print><image>", devid="comptoir")
    assert bad.status_code == 400 and answer(bad.text)["code"] == "SchemaError"


def test_epos_reaches_only_the_printers_open_to_apps(shared_box: Box, counter: FakePrinter) -> None:
    """ePOS-Print takes no token: a printer the owner did not expose is not there for it, by
    name or by role, until the owner opens every printer to apps."""
    kitchen = FakePrinter()
    try:
        shared_box.add_printer("cuisine-epos", kitchen.uri, ("kitchen-epos",))
        for devid in ("cuisine-epos", "kitchen-epos"):
            refused = post(shared_box, SDK_DOCUMENT, devid=devid)
            assert refused.status_code == 404 and answer(refused.text)["code"] == "DeviceNotFound"
        assert kitchen.receipts == []
        settings.put(shared_box.redis, apps_reach_all=True)
        assert answer(post(shared_box, SDK_DOCUMENT, devid="kitchen-epos").text)["success"] == "true"
        assert "Chez Zofia" in kitchen.receipts[-1].text
    finally:
        settings.put(shared_box.redis, apps_reach_all=False)
        kitchen.stop()


def test_hostile_documents_are_refused_in_milliseconds(shared_box: Box, counter: FakePrinter) -> None:
    """50,000 nested elements, and a picture 8 dots wide and 7.5 m long in 60 KB: a 400, not
    a crash or 7 m of paper."""
    before = len(counter.receipts)
    nested = "<page>" * 50_000 + "</page>" * 50_000
    tall = ('<image width="8" height="60000">' + base64.b64encode(b"\xff" * 60_000).decode() + "</image>")
    for body in (ENVELOPE.format(nested), ENVELOPE.format(tall), ENVELOPE.format('<feed line="255"/>' * 2000)):
        response = post(shared_box, body)
        assert response.status_code == 400 and answer(response.text)["code"] == "SchemaError"
        assert response.elapsed.total_seconds() < 2
    assert len(counter.receipts) == before


def test_web_apps_preflight_from_any_origin_for_epos_only(shared_box: Box, counter: FakePrinter) -> None:
    asked = {"Origin": "https://odoo.example", "Access-Control-Request-Method": "POST",
             "Access-Control-Request-Headers": "content-type", "Access-Control-Request-Private-Network": "true"}
    epos_preflight = requests.options(f"{shared_box.url}/cgi-bin/epos/service.cgi?devid=local_printer",
                                      headers=asked, timeout=10)
    assert epos_preflight.status_code == 204
    assert epos_preflight.headers["Access-Control-Allow-Origin"] == "https://odoo.example"
    assert epos_preflight.headers["Access-Control-Allow-Private-Network"] == "true"
    api = requests.options(f"{shared_box.url}/api/v1/jobs", headers=asked, timeout=10)
    assert api.status_code == 403 and "Access-Control-Allow-Origin" not in api.headers  # not listed
    origins.replace(shared_box.redis, ["https://ODOO.example/"])
    try:
        api = requests.options(f"{shared_box.url}/api/v1/jobs", headers=asked, timeout=10)
        assert api.status_code == 204 and api.headers["Access-Control-Allow-Origin"] == "https://odoo.example"
        assert "Authorization" in api.headers["Access-Control-Allow-Headers"]
        other = requests.options(f"{shared_box.url}/api/v1/jobs", timeout=10,
                                 headers={**asked, "Origin": "https://evil.example"})
        assert other.status_code == 403 and "Access-Control-Allow-Origin" not in other.headers
        tablet = shared_box.client("cors-tablet")
        listed = requests.get(f"{shared_box.url}/api/v1/printers", timeout=10, headers={
            "Origin": "https://odoo.example", "Authorization": f"Bearer {tablet.token}"})
        assert listed.status_code == 200 and listed.headers["Access-Control-Allow-Origin"] == "https://odoo.example"
    finally:
        origins.replace(shared_box.redis, [])


def test_each_printer_s_own_port_takes_odoo_s_request_for_that_printer(shared_box: Box, make_printer) -> None:
    """Odoo posts each printer's receipts with devid=local_printer to the address in its printer
    field: given "box:port" of each exposed printer, each reaches its own printer (http and
    https on the same port as the raw printer bytes, which still print there)."""
    kitchen, bar = make_printer(), make_printer()
    ports = {}
    for name, printer in (("kuchnia", kitchen), ("bar", bar)):
        shared_box.add_printer(name, printer.uri, (name,))
        ports[name] = free_port()
        printers.expose(shared_box.redis, name, ports[name])
        wait_for(lambda n=name: shared_box.redis.hget(keys.virtual_port_states(), n) == b"listening", 10, "a port")
    preflight = requests.options(f"http://127.0.0.1:{ports['kuchnia']}/cgi-bin/epos/service.cgi?devid=local_printer",
                                 headers={"Origin": "https://odoo.example", "Access-Control-Request-Method": "POST",
                                          "Access-Control-Request-Private-Network": "true"}, timeout=10)
    assert preflight.status_code == 204 and preflight.headers["Access-Control-Allow-Origin"] == "https://odoo.example"
    assert preflight.headers["Access-Control-Allow-Private-Network"] == "true"
    to_kitchen = post(shared_box, odoo_image(height=24), base=f"http://127.0.0.1:{ports['kuchnia']}", timeout=30000)
    assert answer(to_kitchen.text)["success"] == "true"
    assert to_kitchen.headers["Access-Control-Allow-Origin"] == "https://odoo.example"
    assert [r.text for r in kitchen.receipts] == ["[image 576x24]\n"] and bar.receipts == []
    to_bar = post(shared_box, odoo_image(height=16), base=f"https://127.0.0.1:{ports['bar']}", timeout=30000)
    assert answer(to_bar.text)["success"] == "true"  # over TLS, with the box's certificate
    assert [r.text for r in bar.receipts] == ["[image 576x16]\n"] and len(kitchen.receipts) == 1
    with socket.create_connection(("127.0.0.1", ports["bar"]), timeout=10) as app:  # a raw app, same port
        app.sendall(b"\x1b@Piwo x2\n\x1dV\x00")
    assert bar.wait_receipts(2, timeout=20)[1].text == "Piwo x2\n"


# -- Server Direct Print: TM printers that poll the box ----------------------------------------

def test_a_server_direct_print_printer_asks_to_join_and_prints_only_what_it_says_it_printed(
        shared_box: Box) -> None:
    """A TM printer set to poll http://BOX/epson/sdp: listed as asking to join, accepted from
    the CLI, its jobs delivered as ePOS-Print in Epson's PrintRequestInfo and ``printed`` only
    when its SetResponse says success; a failure (paper out) keeps the job and shows why."""
    from appliance.tools.client import Client
    from tests.sdp_printer import SdpPrinter

    printer = SdpPrinter(shared_box.url, "KUCHNIA-2").start()
    tablet: Client = shared_box.client("sdp-tablet")
    try:
        def listed() -> str:
            return subprocess.run(shared_box.argv("printers", "callers"), capture_output=True, text=True,
                                  timeout=60).stdout

        wait_for(lambda: "KUCHNIA-2" in listed() and "asking to join" in listed() and "sdp" in listed(), 20,
                 "the printer to ask to join")
        assert printer.results == []  # nothing to print for a printer nobody accepted
        subprocess.run(shared_box.argv("printers", "accept", "KUCHNIA-2", "--name", "goraca", "--roles", "hot"),
                       check=True, capture_output=True, timeout=60)
        wait_for(lambda: shared_box.redis.exists(keys.printer_worker("goraca")), 10, "its worker")
        [shown] = wait_for(lambda: [p for p in tablet.printers() if p["name"] == "goraca" and p["ready"]], 20,
                           "it to be ready")
        assert shown["uri"] == "sdp://KUCHNIA-2" and shown["language"] == "escpos"
        printer.failure = "EPTR_REC_EMPTY"  # the first time, the roll is empty
        job = tablet.print(role="hot", document={"lines": [{"text": "Żurek x2", "size": "double"}]})
        wait_for(lambda: "EPTR_REC_EMPTY" in (tablet.job(job["id"])["last_error"] or ""), 20, "the printer's refusal")
        assert tablet.job(job["id"])["status"] != "printed" and printer.receipts == []
        wait_for(lambda: [p for p in tablet.printers() if p["name"] == "goraca" and p["paper"] == "out"], 20,
                 "paper out, from its status word")
        printer.failure = None
        assert tablet.wait_job(job["id"], timeout=30)["status"] == "printed"
        assert [r.text for r in printer.receipts] == ["Żurek x2\n"]
    finally:
        printer.stop()
        with contextlib.suppress(Exception):
            printers.remove(shared_box.redis, "goraca")
