"""Star printers: the box learns the language a printer speaks by asking it, prints in it,
and holds Star printers to the same promise as Epson ones: printed means on the paper, in
order, once, through power cuts and empty rolls."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import uuid

import pytest

from appliance.printing import preview, printers, star, star_render, translate
from appliance.printing.document import Document
from appliance.printing.emulated.engine import Engine
from appliance.printing.emulated.star_engine import StarEngine
from appliance.printing.virtual_ports import Limits
from appliance.store import keys
from appliance.tools.client import Client
from tests.box import ROOT, Box, free_port, ticket, wait_for
from tests.fakeprinter import FakePrinter

MENU = Document.model_validate({"lines": [
    {"text": "Chez Zofia", "align": "center", "size": "double", "bold": True},
    {"columns": ["Crème brûlée", "6,50 €"]},
    {"columns": ["Żurek z jajkiem", "12,00 zł"]},
    {"columns": ["Борщ", "350 ₽"]},
    {"rule": True},
    {"qr": "https://example.com/t/7"},
    {"barcode": {"type": "EAN13", "data": "590123412345"}},
]})
MODELS = {"star-line": b"TSP654II Ver1.0", "starprnt": b"mC-Print3 Ver1.0", "star-graphic": b"TSP143IIIW Ver1.0"}


def read_back(data: bytes) -> list:
    engine = StarEngine()
    engine.feed(data)
    engine.flush()
    return engine.receipts


# -- the protocol and the renderers, pure -----------------------------------------------------------

def test_an_asb_says_the_state_and_carries_its_etb_counter_over_two_bit_groups() -> None:
    for etb in range(32):
        frame = star.asb(paper="near_end", cover_open=etb % 2 == 1, etb=etb)
        assert star.asb_length(frame[0]) == len(frame) == 9 and star.is_asb_header(frame[0])
        parsed = star.parse_asb(frame)
        assert (parsed.etb, parsed.paper, parsed.cover_open) == (etb, "near_end", etb % 2 == 1)
    assert star.parse_asb(star.asb(paper="out")).ready is False
    reader = star.AnswerReader()
    stream = star.asb(etb=3) + star.print_end_answer(513, 7) + b"\x1b#*,TSP143IIIW Ver1.0\n\x00"
    answers = [a for i in range(len(stream)) for a in reader.feed(stream[i:i + 1])]  # a byte at a time
    assert [a.kind for a in answers] == ["asb", "print_end", "model"]
    assert answers[0].asb.etb == 3 and answers[1].token == 513 and answers[2].text == "TSP143IIIW Ver1.0"


def test_line_mode_and_starprnt_print_accents_polish_and_cyrillic_with_star_s_code_pages() -> None:
    data = star_render.render(MENU, "star-line")
    assert b"\x1b\x1dt\x05" in data and b"\x1b\x1dt\x0a" in data  # CP852 for Polish, CP866 for Russian
    [receipt] = read_back(data)
    text = receipt.text
    for word in ("Crème brûlée", "Żurek z jajkiem", "Борщ", "6,50 €", "12,00 zł", "[qr https://example.com/t/7]",
                 "[barcode 590123412345]"):
        assert word in text
    assert receipt.cut and receipt.rows[0].double_width and receipt.rows[0].bold


def test_star_graphic_gets_the_whole_receipt_as_raster_lines_drawn_by_the_box() -> None:
    data = star_render.render(MENU, "star-graphic")
    assert data.count(b"\x1b*rA") == 1 and data.endswith(b"\x1b*rB") and b"\x1b\x1dt" not in data
    [receipt] = read_back(data)
    picture = receipt.rows[0].image
    assert receipt.cut and picture.width == 576 and 300 < picture.height < 2000
    assert picture.getbbox() is not None  # black dots on it
    expected = preview.draw(next(star_render.receipts_of(b"\x1b@" + star_render.escpos.render(MENU), 80)))
    assert picture.convert("1").tobytes() == expected.crop((0, 0, 576, picture.height)).tobytes()


def test_any_app_on_any_printer_the_receipt_is_drawn_from_the_app_s_bytes() -> None:
    escpos_bytes = star_render.escpos.render(MENU)
    star_raster = translate.translate(escpos_bytes, "escpos", "star-graphic")
    assert [r.cut for r in read_back(star_raster)] == [True]
    epson_raster = translate.translate(star_render.render(MENU, "starprnt"), "starprnt", "escpos")
    engine = Engine()
    engine.feed(epson_raster)
    engine.flush()
    assert [r.cut for r in engine.receipts] == [True] and engine.receipts[0].rows[0].kind == "image"
    assert translate.translate(b"ABC", "star-line", "starprnt") == b"ABC"  # one family: unchanged
    assert translate.translate(b"ABC", "star-graphic", "star-line") == b"ABC"  # every Star takes raster


# -- Star printers driven by the box -----------------------------------------------------------------

def add(box: Box, printer: FakePrinter, *extra: str) -> str:
    name = f"s{uuid.uuid4().hex[:8]}"
    subprocess.run(box.argv("printers", "add", name, "--uri", printer.uri, *extra), check=True,
                   capture_output=True, timeout=60)
    wait_for(lambda: box.redis.exists(keys.printer_worker(name)), 10, f"a worker for {name}")
    return name


def shown(tablet: Client, name: str) -> dict | None:
    return next((p for p in tablet.printers() if p["name"] == name), None)


def first_lines(printer: FakePrinter) -> list[str]:
    return [r.text.strip().splitlines()[0].strip() for r in printer.receipts if r.text.strip()]


@pytest.mark.parametrize("language", ["star-line", "starprnt", "star-graphic"])
def test_a_star_printer_is_learnt_and_prints_in_order_confirmed_on_paper(shared_box: Box, tablet: Client,
                                                                         make_printer, language: str) -> None:
    printer = make_printer(language="star", model=MODELS[language], speed_mm_s=200)
    name = add(shared_box, printer)
    listed = wait_for(lambda: (p := shown(tablet, name))["confirmation"] == "paper" and p, 20,
                      "the printer to be learnt")
    assert listed["language"] == language and not listed["language_forced"]
    assert listed["model"] == MODELS[language].decode() and listed["ready"]
    out = subprocess.run(shared_box.argv("printers", "list"), capture_output=True, text=True, timeout=60).stdout
    assert language in next(line for line in out.splitlines() if line.startswith(name))
    ids = [tablet.print(printer=name, document=ticket(f"S{i}"))["id"] for i in range(5)]
    seen: list[tuple[str, int]] = []

    def all_printed() -> bool:
        statuses = [tablet.job(job_id)["status"] for job_id in ids]
        seen.append((statuses[-1], len(printer.receipts)))
        return all(status == "printed" for status in statuses)

    wait_for(all_printed, 30, "the jobs to be printed")
    assert all(on_paper == 5 for status, on_paper in seen if status == "printed")  # never before the paper
    receipts = printer.wait_receipts(5)
    assert all(r.cut for r in receipts)
    if language == "star-graphic":  # raster only: compare the pictures with the box's own drawing
        for index, receipt in enumerate(receipts):
            [drawn] = read_back(star_render.render(Document.model_validate(ticket(f"S{index}")), language))
            assert receipt.rows[-1].image.tobytes() == drawn.rows[-1].image.tobytes()
    else:
        assert first_lines(printer) == [f"S{i}" for i in range(5)]


def test_a_star_printer_without_the_print_end_counter_confirms_by_its_etb_counter(
        shared_box: Box, tablet: Client, make_printer) -> None:
    printer = make_printer(language="star", model=MODELS["star-line"], process_id=False, speed_mm_s=200)
    name = add(shared_box, printer)
    wait_for(lambda: shown(tablet, name)["confirmation"] == "paper", 20, "the printer to be learnt")
    ids = [tablet.print(printer=name, document=ticket(f"E{i}"))["id"] for i in range(3)]
    for job_id in ids:
        assert tablet.wait_job(job_id, timeout=30)["status"] == "printed"
    assert first_lines(printer) == ["E0", "E1", "E2"] and printer.engine.etb >= 3


@pytest.mark.parametrize("language", ["star-line", "starprnt", "star-graphic"])
def test_a_power_cut_on_a_star_printer_prints_the_receipt_again_marked(shared_box: Box, tablet: Client,
                                                                       make_printer, language: str) -> None:
    printer = make_printer(language="star", model=MODELS[language], speed_mm_s=40)
    name = add(shared_box, printer)
    wait_for(lambda: shown(tablet, name)["confirmation"] == "paper", 20, "the printer to be learnt")
    ids = [tablet.print(printer=name, document=ticket(f"CUT{i}", 20))["id"] for i in range(3)]
    wait_for(lambda: printer.engine.dots_fed > 200, what="the first receipt to be half printed")
    assert tablet.job(ids[0])["status"] == "printing"
    printer.reachable = False
    wait_for(lambda: tablet.job(ids[0])["status"] == "queued", what="the cut job to go back to the queue")
    printer.reachable = True
    for job_id in ids:
        assert tablet.wait_job(job_id, timeout=60)["status"] == "printed"
    whole = [r for r in printer.receipts if r.cut]
    torn = [r for r in printer.receipts if not r.cut]
    assert len(whole) == 3 and len(torn) == 1  # what was on paper when the power went, then all three whole
    if language == "star-graphic":  # pictures only: the REPRINT banner is a picture above the ticket's
        assert [row.kind for row in whole[0].rows] == ["image", "image"]
        return
    assert [r.text.split("REPRINT")[-1].strip().splitlines()[0].strip() for r in whole] == ["CUT0", "CUT1", "CUT2"]
    assert "REPRINT" in whole[0].text and "CUT0" in torn[0].text  # and any other job that was in its hands


@pytest.mark.parametrize("language", ["star-line", "starprnt", "star-graphic"])
def test_paper_out_on_a_star_printer_holds_the_job_and_it_ends_printed(shared_box: Box, tablet: Client,
                                                                       make_printer, language: str) -> None:
    printer = make_printer(language="star", model=MODELS[language], speed_mm_s=40)
    name = add(shared_box, printer)
    wait_for(lambda: shown(tablet, name)["confirmation"] == "paper", 20, "the printer to be learnt")
    job = tablet.print(printer=name, document=ticket("ROLL", 20))
    wait_for(lambda: printer.engine.dots_fed > 200, what="the receipt to be half printed")
    printer.set_state(paper="out")
    if language == "star-graphic":  # a picture fills the printer's buffer: it reads no question till it prints
        wait_for(lambda: "stopped taking data" in (tablet.job(job["id"])["last_error"] or ""), 30, "the job to say why")
    else:
        wait_for(lambda: (shown(tablet, name) or {}).get("problem") == "out of paper", 20, "the list to say so")
    assert tablet.job(job["id"])["status"] == "printing" and printer.receipts == []
    printer.set_state(paper="ok")
    assert tablet.wait_job(job["id"], timeout=30)["status"] == "printed"
    [receipt] = printer.receipts  # one receipt, finished where it stopped, never printed again
    if language == "star-graphic":
        assert receipt.cut and [row.kind for row in receipt.rows] == ["image"]
    else:
        assert first_lines(printer) == ["ROLL"] and "REPRINT" not in receipt.text


def test_a_named_language_wins_and_an_epson_job_prints_on_a_star_printer_as_a_picture(
        shared_box: Box, tablet: Client, make_printer) -> None:
    """The owner says "star-graphic"; a job an ESC/POS app sent (raw) prints all the same."""
    printer = make_printer(language="star", model=MODELS["star-line"])
    name = add(shared_box, printer, "--language", "star-graphic")
    listed = wait_for(lambda: (p := shown(tablet, name))["confirmation"] == "paper" and p, 20, "the printer")
    assert listed["language"] == "star-graphic" and listed["language_forced"]
    import base64

    raw = base64.b64encode(b"\x1b@Hello from an Epson app\n\x1dVB\x00").decode()
    job = tablet.print(printer=name, raw=raw)
    assert tablet.wait_job(job["id"], timeout=30)["status"] == "printed"
    [receipt] = printer.wait_receipts(1)
    assert receipt.cut and receipt.rows[-1].kind == "image"
    subprocess.run(shared_box.argv("printers", "language", name, "auto"), check=True, capture_output=True,
                   timeout=60)
    wait_for(lambda: shown(tablet, name)["language"] == "star-line", 20, "the language learnt again")


def test_a_job_moved_from_an_epson_printer_to_a_star_backup_is_drawn_for_it(shared_box: Box, tablet: Client,
                                                                            make_printer) -> None:
    star_printer = make_printer(language="star", model=MODELS["star-graphic"])
    backup = add(shared_box, star_printer)
    wait_for(lambda: shown(tablet, backup)["language"] == "star-graphic", 20, "the backup to be learnt")
    epson = make_printer()
    epson.reachable = False  # switched off for good
    name = add(shared_box, epson, "--backup", backup, "--failover-after", "5")
    job = tablet.print(printer=name, document=ticket("MOVED"))
    done = tablet.wait_job(job["id"], timeout=60)
    assert done["status"] == "printed" and done["printer"] == backup and done["moved_from"] == name
    [receipt] = star_printer.wait_receipts(1)
    assert receipt.cut and [row.kind for row in receipt.rows] == ["image", "image"]  # "moved from", the ticket


# -- apps that speak Star, and apps that speak the other language, through the virtual ports ---------

def expose(box: Box, tablet: Client, printer: FakePrinter, *extra: str) -> tuple[str, int]:
    name = add(box, printer, *extra)
    wait_for(lambda: shown(tablet, name)["confirmation"] == "paper", 20, "the printer to be learnt")
    port = free_port()
    printers.expose(box.redis, name, port)
    wait_for(lambda: box.redis.hget(keys.virtual_port_states(), name) == b"listening", 10, "the port to open")
    return name, port


def read_answers(sock: socket.socket, reader: star.AnswerReader, kind: str, timeout: float = 15.0) -> list:
    sock.settimeout(timeout)
    found: list = []
    while not any(a.kind == kind for a in found):
        data = sock.recv(4096)
        assert data, "the box closed the connection"
        found += reader.feed(data)
    return found


def test_a_star_app_prints_through_a_virtual_port_and_hears_star_s_answers(shared_box: Box, tablet: Client,
                                                                          make_printer) -> None:
    printer = make_printer(language="star", model=MODELS["starprnt"], speed_mm_s=60)
    _, port = expose(shared_box, tablet, printer)
    receipt = star_render.render(Document.model_validate(ticket("STAR-APP", 12)), "starprnt")
    reader = star.AnswerReader()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(star.STATUS_REQUEST)
        [status] = [a for a in read_answers(sock, reader, "asb") if a.kind == "asb"]
        assert status.asb.ready and status.asb.etb == 0
        sock.sendall(b"\x1b#*\n\x00")
        assert any(a.text == MODELS["starprnt"].decode() for a in read_answers(sock, reader, "model"))
        sock.sendall(receipt + star.ETB_REQUEST + star.print_end_request(4242))
        [end] = [a for a in read_answers(sock, reader, "print_end") if a.kind == "print_end"]
        assert end.token == 4242 and len(printer.receipts) == 1  # answered once on paper, not before
        sock.sendall(star.STATUS_REQUEST)
        assert [a for a in read_answers(sock, reader, "asb") if a.kind == "asb"][-1].asb.etb == 1
    assert first_lines(printer) == ["STAR-APP"]


def test_an_escpos_app_prints_on_a_star_graphic_printer_and_a_star_app_on_an_epson(
        shared_box: Box, tablet: Client, make_printer) -> None:
    from escpos.printer import Network

    graphic = make_printer(language="star", model=MODELS["star-graphic"])
    _, graphic_port = expose(shared_box, tablet, graphic)
    app = Network("127.0.0.1", port=graphic_port, timeout=5)
    app.text("Zapiekanka 14 zł\n")
    app.cut()
    app.close()
    [receipt] = graphic.wait_receipts(1, timeout=30)
    assert receipt.cut and receipt.rows[-1].kind == "image" and receipt.rows[-1].image.getbbox()
    epson = make_printer()
    _, epson_port = expose(shared_box, tablet, epson)
    with socket.create_connection(("127.0.0.1", epson_port), timeout=10) as sock:
        sock.sendall(star_render.render(Document.model_validate(ticket("FROM-A-STAR-APP")), "star-line"))
    [printed] = epson.wait_receipts(1, timeout=30)
    assert printed.cut and printed.rows[0].kind == "image"  # drawn from the Star bytes, sent as GS v 0


def test_an_app_s_language_is_told_by_its_first_telling_command_never_by_a_parameter() -> None:
    from appliance.printing.virtual_ports import Sniffer

    assert Sniffer.tell(b"\x1b@Hello\n\x1dVB\x00") == "escpos"
    assert Sniffer.tell(b"\x1b@\x1b\x1dt\x05Hello") == "star"
    assert Sniffer.tell(b"\x1b@\x1b*rA") == "star"
    assert Sniffer.tell(b"\x1b@\x1b!\x17Hello") is None  # 0x17 as ESC !'s parameter tells nothing
    assert Sniffer.tell(b"Hello\n") is None  # the exposed printer's family is taken then


def test_half_a_raster_receipt_from_a_lost_link_leaves_raster_mode_and_is_cut() -> None:
    """In raster mode a Star Graphic printer obeys no cut: the half receipt leaves it first."""
    from appliance.printing.star_splitter import CUT, INCOMPLETE, StarSplitter

    splitter = StarSplitter(limits=Limits())
    row = b"b\x48\x00" + b"\xff" * 72
    assert splitter.feed(star.RASTER_START + b"\x1b*rP0\x00" + row * 40) == []
    [piece] = splitter.close(whole=False)
    assert piece.data.startswith(INCOMPLETE) and piece.data.endswith(row + star.RASTER_END + CUT)
    engine = StarEngine()
    engine.feed(piece.data)
    assert [r.cut for r in engine.receipts] == [True]


NODE_CLIENTS = ROOT / "tests" / "node" / "star_clients.cjs"
NODE_MODULES = ROOT / "tests" / "node" / "node_modules"


@pytest.mark.skipif(shutil.which("node") is None or not (NODE_MODULES / "node-thermal-printer").exists(),
                    reason="needs Node and the Star clients (npm ci --prefix tests/node; .ci/run does it)")
@pytest.mark.parametrize("client, language", [("encoder", "star-line"), ("encoder", "star-prnt"),
                                              ("thermal", "star")])
def test_star_clients_no_one_here_wrote_print_through_a_virtual_port(shared_box: Box, tablet: Client, make_printer,
                                                                     client: str, language: str) -> None:
    """@point-of-sale/receipt-printer-encoder (star-line, star-prnt) and node-thermal-printer
    (star), sending to the box's port as to a Star printer."""
    printer = make_printer(language="star", model=MODELS["star-line" if language != "star-prnt" else "starprnt"])
    _, port = expose(shared_box, tablet, printer)
    label = f"{client}-{language}".upper()
    run = subprocess.run(["node", str(NODE_CLIENTS), client, language, "127.0.0.1", str(port), label],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    [receipt] = printer.wait_receipts(1, timeout=30)
    assert receipt.cut and label in receipt.text
    if client == "encoder":  # Star's code pages, chosen by the app (CP852 for Polish)
        assert "Żurek" in receipt.text


# -- CloudPRNT: printers that call the box -------------------------------------------------------

def test_a_cloudprnt_printer_asks_to_join_is_accepted_and_a_job_is_printed_only_once_it_says_so(
        shared_box: Box, tablet: Client) -> None:
    from tests.cloudprnt_printer import CloudPrinter

    mac = "00:11:62:1a:2b:3c"
    printer = CloudPrinter(shared_box.url, mac).start()
    try:
        def listed() -> str:
            return subprocess.run(shared_box.argv("printers", "callers"), capture_output=True, text=True,
                                  timeout=60).stdout

        wait_for(lambda: mac in listed() and "asking to join" in listed(), 20, "the printer to ask to join")
        assert printer.answers[-1] == {"jobReady": False}
        subprocess.run(shared_box.argv("printers", "accept", mac, "--name", "cloud", "--roles", "terrasse"),
                       check=True, capture_output=True, timeout=60)
        wait_for(lambda: shared_box.redis.exists(keys.printer_worker("cloud")), 10, "its worker")
        shown_now = wait_for(lambda: (p := shown(tablet, "cloud")) and p["ready"] and p, 20, "it to be ready")
        assert shown_now["language"] == "starprnt" and shown_now["confirmation"] == "paper"
        printer.fetch_twice = True  # a fetch has no side effect: the same job, still not printed
        printer.code = "520 Download timeout"  # the first time, it could not print it
        job = tablet.print(role="terrasse", document=ticket("CLOUD"))
        wait_for(lambda: "520" in (tablet.job(job["id"])["last_error"] or ""), 20, "the printer's refusal")
        assert tablet.job(job["id"])["status"] == "printing" and printer.receipts == []
        printer.code = "200 OK"
        assert tablet.wait_job(job["id"], timeout=30)["status"] == "printed"
        assert first_lines(printer) == ["CLOUD"] and printer.fetches >= 4
        printer.paper = "out"
        wait_for(lambda: shown(tablet, "cloud")["problem"] == "out of paper", 20, "its status from its poll")
    finally:
        printer.stop()
        with contextlib.suppress(Exception):
            printers.remove(shared_box.redis, "cloud")


# -- WebPRNT: web apps built on Star's JavaScript SDK -------------------------------------------

def test_a_webprnt_request_prints_and_is_answered_once_on_paper_with_the_asb(box: Box, make_printer) -> None:
    from xml.sax.saxutils import escape

    import requests

    from appliance import settings

    printer = make_printer(language="star", model=MODELS["starprnt"], speed_mm_s=100)
    box.add_printer("caisse", printer.uri, ("receipt",))
    settings.put(box.redis, apps_reach_all=True)  # apps with no token may reach every printer
    wait_for(lambda: printers.state(box.redis, "caisse").confirmation == "paper", 20, "the printer to be learnt")
    request = ('<root><alignment position="center"/><text emphasis="true">Chez Zofia\n</text>'
               '<alignment position="left"/><text>Żurek 12,00 zł\n</text><cutpaper feed="true" type="partial"/></root>')
    message = ('<StarWebPrint xmlns="http://www.star-m.jp" xmlns:i="http://www.w3.org/2001/XMLSchema-instance">'
               f"<Request>{escape(request)}</Request></StarWebPrint>")
    web = requests.Session()
    web.trust_env = False
    answer = web.post(f"{box.url}/StarWebPRNT/SendMessage", data=message.encode(), timeout=60,
                      headers={"Content-Type": "text/xml; charset=UTF-8", "Origin": "https://pos.example"})
    assert answer.status_code == 200 and answer.headers["Access-Control-Allow-Origin"] == "https://pos.example"
    inner = answer.text.split("<Response>")[1].split("</Response>")[0].replace("&lt;", "<").replace("&gt;", ">")
    assert "<success>true</success>" in inner and "<code>SUCCESS</code>" in inner
    status = inner.split("<status>")[1].split("</status>")[0]
    assert star.parse_asb(bytes.fromhex(status)).ready
    assert len(printer.receipts) == 1 and "Żurek 12,00 zł" in printer.receipts[0].text  # on paper before the answer
    bad = web.post(f"{box.url}/StarWebPRNT/SendMessage", data=b"<StarWebPrint><Request>&lt;root&gt;", timeout=30)
    assert bad.status_code == 400 and "SchemaError" in bad.text

