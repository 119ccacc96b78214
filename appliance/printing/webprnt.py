"""Star WebPRNT, where web apps built on Star's JavaScript SDK (StarWebPrintBuilder and
StarWebPrintTrader) print as to a Star printer: ``POST /StarWebPRNT/SendMessage``.

The trader posts ``<StarWebPrint xmlns="http://www.star-m.jp"><Request>…</Request>
</StarWebPrint>``, the request being the builder's elements, escaped, inside ``<root>``:
``text`` (emphasis, invert, underline, width, height), ``alignment``, ``feed``, ``cutpaper``,
``barcode``, ``qrcode``, ``peripheral`` (the drawer), ``rawdata`` (Star commands, base64),
``initialization``, ``ruledline``. The answer comes once the job is on paper, or when the
request's timeout passes (the job then stays queued and prints when the printer can): a
``<Response>`` whose text is ``<success>true|false</success><code>…</code><status>ASB in
hex</status>``, what the trader reads (``traderSuccess``, ``traderCode``, ``traderStatus``).

The request is turned into StarPRNT commands and queued as a job written in StarPRNT: a
printer of another language prints it as a picture of the receipt. Parsing reuses ePOS-Print's
bounds (defusedxml, depth, elements). CORS for any origin, as for ePOS-Print (web/cors.py).
"""

from __future__ import annotations

import base64
import binascii
import time
from dataclasses import dataclass
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape

import redis

from appliance.printing import epos, jobs, printers, star, star_render
from appliance.printing.epos import SchemaError
from appliance.printing.request import MAX_RAW_BYTES

MAX_BODY = epos.MAX_BODY
DEFAULT_TIMEOUT = 90.0  # seconds: the trader's own default
_BARCODES = {"upca": 1, "jan8": 2, "ean8": 2, "jan13": 3, "ean13": 3, "code39": 4, "itf": 5, "code128": 6}
_ALIGN = {"left": 0, "center": 1, "right": 2}


@dataclass(frozen=True)
class Answer:
    http_status: int
    body: bytes


def response(success: bool, code: str, status: bytes) -> bytes:
    inner = (f"<success>{'true' if success else 'false'}</success><code>{code}</code>"
             f"<status>{status.hex().upper()}</status>")
    return ('<?xml version="1.0" encoding="utf-8"?><StarWebPrint xmlns="http://www.star-m.jp" '
            'xmlns:i="http://www.w3.org/2001/XMLSchema-instance"><Response>' + escape(inner)
            + "</Response></StarWebPrint>").encode()


def parse(body: bytes) -> Element:
    """The ``<root>`` of a trader's message (its ``<Request>`` holds it as escaped text), or
    of a bare request."""
    outer = epos.parse_bounded(body)
    if epos.tag(outer) == "root":
        return outer
    request = next((e for e in outer.iter() if epos.tag(e) == "Request"), None)
    if request is None or not (request.text or "").strip():
        raise SchemaError("no <Request> in the message")
    root = epos.parse_bounded(request.text.encode("utf-8"))
    if epos.tag(root) != "root":
        raise SchemaError("the request is not a <root> element")
    return root


def _flag(element: Element, name: str) -> bool:
    return element.get(name, "false") == "true"


def _number(element: Element, name: str, low: int, high: int, default: int) -> int:
    return epos.number(element, name, low, high) or default


def to_starprnt(root: Element, width_mm: int = 80) -> bytes:
    """The request as StarPRNT commands (one job)."""
    out = bytearray(star_render.INIT)
    text = star_render.TextWriter(out)
    for element in root.iter():
        if element is root:
            continue
        name = epos.tag(element)
        if name == "text":
            width, height = _number(element, "width", 1, 6, 1), _number(element, "height", 1, 6, 1)
            out += b"\x1bE" if _flag(element, "emphasis") else b"\x1bF"
            out += b"\x1b4" if _flag(element, "invert") else b"\x1b5"
            out += bytes((0x1B, ord("-"), 1 if _flag(element, "underline") else 0, 0x1B, ord("i"), height - 1,
                          width - 1))
            text.write(element.text or "")
        elif name == "alignment":
            out += bytes((0x1B, 0x1D, ord("a"), _ALIGN.get(element.get("position", "left"), 0)))
        elif name == "feed":
            lines, units = _number(element, "line", 0, 255, 0), _number(element, "unit", 0, 255, 0)
            out += b"\n" * lines + (bytes((0x1B, ord("J"), units)) if units else b"")
        elif name == "cutpaper":
            out += b"\x1bd\x03" if element.get("type", "full") == "partial" else b"\x1bd\x02"
        elif name == "barcode":
            kind = _BARCODES.get(element.get("symbology", "").lower())
            if kind is None:
                raise SchemaError(f"<barcode symbology={element.get('symbology')!r}>: not one the box prints")
            data = (element.text or "").encode("ascii", "replace")
            out += bytes((0x1B, ord("b"), kind, 2 if _flag(element, "hri") else 1, 2,
                          _number(element, "height", 1, 255, 40))) + data + b"\x1e\n"
        elif name == "qrcode":
            data = (element.text or "").encode("utf-8")
            level = {"level_l": 0, "level_m": 1, "level_q": 2, "level_h": 3}.get(element.get("level", "level_m"), 1)
            out += b"\x1b\x1dyS0\x02" + bytes((0x1B, 0x1D, ord("y"), ord("S"), ord("1"), level, 0x1B, 0x1D, ord("y"),
                                               ord("S"), ord("2"), _number(element, "cell", 1, 8, 4)))
            out += b"\x1b\x1dyD1\x00" + bytes((len(data) & 0xFF, len(data) >> 8)) + data + b"\x1b\x1dyP\n"
        elif name == "peripheral":
            out += star_render.DRAWER_KICK
        elif name == "rawdata":
            try:
                out += base64.b64decode(element.text or "", validate=True)
            except (binascii.Error, ValueError):
                raise SchemaError("<rawdata>: not base64") from None
        elif name == "ruledline":
            text.write("-" * (48 if width_mm == 80 else 32) + "\n")
        elif name == "initialization":
            out += star_render.INIT
        if len(out) > MAX_RAW_BYTES:
            raise SchemaError("the request prints more than a job may hold")
    return bytes(out)


def _asb(r: redis.Redis, name: str) -> bytes:
    shown = printers.fresh_state(r, name)
    return star.asb(online=shown.online, paper=shown.paper if shown.answered else "ok", cover_open=shown.cover_open,
                    error=shown.error)


def serve(r: redis.Redis, body: bytes, timeout_ms: str | None = None, wait=time.sleep,
          printer: printers.PrinterConfig | None = None) -> Answer:
    """Print a WebPRNT request on ``printer`` (the one reached by its own port), else on the
    first receipt printer open to apps, and answer once it is on paper (or when the timeout
    passes: the job stays queued). An empty request is how apps ask whether the printer is
    there: answered at once, with its status."""
    printer = printer or epos.target(r, "local_printer")
    if printer is None:
        return Answer(404, response(False, "DeviceNotFound", b""))
    try:
        payload = to_starprnt(parse(body), printer.width)
    except SchemaError:
        return Answer(400, response(False, "SchemaError", _asb(r, printer.name)))
    if payload == star_render.INIT:
        return Answer(200, response(True, "SUCCESS", _asb(r, printer.name)))
    try:
        seconds = min(epos.MAX_TIMEOUT, max(0.0, float(timeout_ms) / 1000)) if timeout_ms else DEFAULT_TIMEOUT
    except ValueError:
        return Answer(400, response(False, "ParameterError", _asb(r, printer.name)))
    job_id = jobs.submit_raw(r, printer.name, payload, "webprnt", language="starprnt")
    state = jobs.wait(r, job_id, seconds, wait)
    if state == jobs.JobStatus.PRINTED:
        return Answer(200, response(True, "SUCCESS", _asb(r, printer.name)))
    code = "PrintSystemError" if state in jobs.FINAL else "TIMEOUT"
    return Answer(200, response(False, code, _asb(r, printer.name)))
