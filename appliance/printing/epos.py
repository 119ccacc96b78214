"""Epson's ePOS-Print: the SOAP/XML documents web POS apps (Odoo's among them) post to
``/cgi-bin/epos/service.cgi``, turned into ESC/POS for the target printer, and the
``<response>`` they read back.

``to_escpos`` is pure: elements in document order, each mapped to the ESC/POS it stands for
(text attributes stay in force until changed, as on Epson's printers). Text goes through the
same code page choice as the box's own receipts, so Polish and Cyrillic print right.

Supported: ``text`` (align, em, ul, reverse, width, height, dw, dh, font, linespc, x),
``feed`` (line, unit, linespc), ``cut`` (no_feed, feed, reserve), ``image`` (mono raster,
rows padded to bytes, or packed without padding as Odoo's are), ``barcode``, ``symbol``
(QR codes; other symbols print their data as text), ``hline`` (a rule across the paper),
``logo`` (the printer's stored NV graphics), ``pulse``, ``command`` (raw ESC/POS in hex), and
``page``, whose children print in standard mode. Ignored: ``sound``, ``layout``, ``vline-*``,
``recovery``, ``reset`` and page mode's positioning (``area``, ``direction``, ``position``,
``line``, ``rectangle``).
"""

from __future__ import annotations

import base64
import binascii
import time
from dataclasses import dataclass
from xml.etree.ElementTree import Element

import redis
from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

from appliance.errors import NotFound, ServiceError
from appliance.printing import commands, jobs, printers, render
from appliance.printing.document import MAX_IMAGE_PAPER_MM, MAX_IMAGE_SIDE
from appliance.printing.request import MAX_RAW_BYTES
from appliance.system import addresses

NS = "http://www.epson-pos.com/schemas/2011/03/epos-print"
MAX_BODY = 4 * 1024 * 1024
DEFAULT_TIMEOUT = 60.0  # seconds, Epson's default when the app gives none
MAX_TIMEOUT = 300.0
BAND = 1024  # image rows per GS v 0: printers cap one raster's height
# A document from any device on the Wi-Fi, bounded like the API's JSON bodies and pictures:
MAX_DEPTH = 16  # nested elements (a <page> in a SOAP envelope needs 5)
MAX_ELEMENTS = 10_000
MAX_PAPER_MM = MAX_IMAGE_PAPER_MM  # images and feeds together, on the printer's own paper

# The status bits of Epson's ASB word, as ePOS-Print reports them.
ASB_PRINT_SUCCESS, ASB_OFF_LINE, ASB_COVER_OPEN = 0x2, 0x8, 0x20
ASB_UNRECOVER_ERR, ASB_RECEIPT_NEAR_END, ASB_RECEIPT_END = 0x2000, 0x20000, 0x80000
ASB_NO_RESPONSE = 0x1

_ALIGN = {"left": "left", "center": "center", "right": "right"}
_BARCODES = {"upc_a": "UPC-A", "upc_e": "UPC-E", "ean13": "EAN13", "jan13": "EAN13", "ean8": "EAN8", "jan8": "EAN8",
             "code39": "CODE39", "itf": "ITF", "codabar": "NW7", "code93": "CODE93", "code128": "CODE128"}
_QR_LEVELS = {"level_l": 0, "level_m": 1, "level_q": 2, "level_h": 3, "default": 1}
_PULSE = {"pulse_100": 1, "pulse_200": 2, "pulse_300": 3, "pulse_400": 4, "pulse_500": 5}


class SchemaError(ValueError):
    """Not an ePOS-Print document this box can print (Epson's code: SchemaError)."""


def _flag(element: Element, name: str) -> bool | None:
    value = element.get(name)
    return None if value is None else value == "true"


def number(element: Element, name: str, low: int, high: int) -> int | None:
    value = element.get(name)
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError:
        raise SchemaError(f"<{tag(element)} {name}={value!r}>: a number, please") from None
    if not low <= number <= high:
        raise SchemaError(f"<{tag(element)} {name}={value}>: from {low} to {high}")
    return number


def tag(element: Element) -> str:
    return element.tag.rpartition("}")[2]


def raster(data: bytes, width: int, height: int) -> bytes:
    """A mono ePOS image as GS v 0 bands. Rows are padded to whole bytes in Epson's format;
    Odoo packs bits across rows instead, which only differs when the width is not a multiple
    of 8 and is told by the length."""
    row = (width + 7) // 8
    if len(data) == row * height:
        rows = [data[y * row:(y + 1) * row] for y in range(height)]
    elif len(data) * 8 >= width * height:
        bits = int.from_bytes(data, "big")
        total = len(data) * 8
        rows = []
        for y in range(height):
            value = (bits >> (total - (y + 1) * width)) & ((1 << width) - 1)
            rows.append((value << (row * 8 - width)).to_bytes(row, "big"))
    else:
        raise SchemaError(f"<image> holds {len(data)} bytes: too few for {width} x {height} dots")
    return commands.raster_bands(b"".join(rows), row, height, BAND)


@dataclass
class _Sheet:
    """The paper a document is printed on, and how much of it its images and feeds have used."""

    paper: render.Paper
    used_mm: float = 0.0

    def take(self, mm: float, what: str) -> None:
        self.used_mm += mm
        if self.used_mm > MAX_PAPER_MM:
            raise SchemaError(f"<{what}>: the document's images and feeds pass {MAX_PAPER_MM / 1000:g} m of paper")


def _element(p, element: Element, sheet: _Sheet) -> None:
    name, content, paper = tag(element), element.text or "", sheet.paper
    if name == "text":
        style: dict = {}
        if (align := element.get("align")) in _ALIGN:
            style["align"] = _ALIGN[align]
        for attribute, key in (("em", "bold"), ("reverse", "invert")):
            if (value := _flag(element, attribute)) is not None:
                style[key] = value
        if (underline := _flag(element, "ul")) is not None:
            style["underline"] = int(underline)
        width, height = number(element, "width", 1, 8), number(element, "height", 1, 8)
        if width or height:
            style.update(width=width or 1, height=height or 1, custom_size=True)
        for attribute, key in (("dw", "double_width"), ("dh", "double_height")):
            if (value := _flag(element, attribute)) is not None:
                style[key] = value
        if element.get("font") in ("font_a", "font_b"):
            style["font"] = element.get("font")[-1]
        if style:
            p.set(**style)
        if (spacing := number(element, "linespc", 0, 255)) is not None:
            p._raw(b"\x1b3" + bytes([spacing]))
        if (x := number(element, "x", 0, 65535)) is not None:
            p._raw(b"\x1b$" + bytes([x & 0xFF, x >> 8]))
        render.write_text(p, content)
    elif name == "feed":
        if (dots := number(element, "unit", 0, 255)) is not None:
            sheet.take(dots / commands.DOTS_PER_MM, name)
            p._raw(b"\x1bJ" + bytes([dots]))
        elif (lines := number(element, "line", 0, 255)) is not None:
            sheet.take(lines * commands.LINE_MM, name)
            p._raw(b"\x1bd" + bytes([lines]))
        else:
            p._raw(b"\n")
    elif name == "cut":
        p._raw(b"\x1dV\x01" if element.get("type") == "no_feed" else b"\x1dV\x42\x00")
    elif name == "image":
        width, height = number(element, "width", 1, MAX_IMAGE_SIDE), number(element, "height", 1, 65535)
        if width is None or height is None:
            raise SchemaError("<image> needs width and height")
        sheet.take(height / commands.DOTS_PER_MM, name)
        try:
            data = base64.b64decode("".join(content.split()), validate=True)
        except (binascii.Error, ValueError):
            raise SchemaError("<image>: its content is not base64") from None
        if element.get("align") in _ALIGN:
            p.set(align=_ALIGN[element.get("align")])
        p._raw(raster(data, width, height))
    elif name == "barcode":
        kind = _BARCODES.get(element.get("type", ""))
        if kind is None:
            raise SchemaError(f"<barcode type={element.get('type')!r}>: use one of {', '.join(_BARCODES)}")
        data = content if kind != "CODE128" or content.startswith("{") else "{B" + content
        p.set(align=_ALIGN.get(element.get("align", ""), "left"))
        hri = element.get("hri", "none")
        p._hw_barcode(data, kind, height=number(element, "height", 1, 255) or 64,
                      width=number(element, "width", 2, 6) or 3,
                      pos={"above": "ABOVE", "below": "BELOW", "both": "BOTH"}.get(hri, "OFF"), font="A",
                      align_ct=False, function_type="B", check=False)
    elif name == "symbol":
        p.set(align=_ALIGN.get(element.get("align", ""), "left"))
        if element.get("type", "qrcode_model_2").startswith("qrcode"):
            p.qr(content, ec=_QR_LEVELS.get(element.get("level", "default"), 1),
                 size=number(element, "width", 1, 16) or 3, native=True)
        else:
            render.write_text(p, content + "\n")
    elif name == "hline":
        render.write_text(p, "-" * paper.columns + "\n")
    elif name == "logo":
        keys = (number(element, "key1", 32, 126), number(element, "key2", 32, 126))
        if None in keys:
            raise SchemaError("<logo> needs key1 and key2")
        p._raw(b"\x1d(L\x06\x00\x30\x45" + bytes(keys) + b"\x01\x01")
    elif name == "pulse":
        pin = 1 if element.get("drawer") == "drawer_2" else 0
        on = _PULSE.get(element.get("time", "pulse_100"), 1) * 50  # in 2 ms units
        p._raw(b"\x1bp" + bytes([pin, on, on]))
    elif name == "command":
        try:
            p._raw(bytes.fromhex(content))
        except ValueError:
            raise SchemaError("<command>: its content is not hexadecimal") from None
    elif name == "page":
        for child in element:
            _element(p, child, sheet)


def parse_bounded(body: bytes) -> Element:
    """An XML document from a stranger: no entities, no DTD (defusedxml), bounded in depth and
    in elements (ePOS-Print's and WebPRNT's)."""
    try:
        root = ElementTree.fromstring(body)
    except (ElementTree.ParseError, DefusedXmlException) as exc:
        raise SchemaError(f"not an XML document the box reads: {exc}") from None
    _bounded(root)
    return root


def parse(body: bytes) -> Element:
    """The <epos-print> element of a SOAP envelope (or a bare one)."""
    root = parse_bounded(body)
    found = root if tag(root) == "epos-print" else root.find(f".//{{{NS}}}epos-print")
    if found is None:
        found = next((e for e in root.iter() if tag(e) == "epos-print"), None)
    if found is None:
        raise SchemaError("no <epos-print> element in the document")
    return found


def _bounded(root: Element) -> None:
    """Refuse a document nested deeper than MAX_DEPTH or with more than MAX_ELEMENTS
    elements, walked without recursion (a recursive walk of 50,000 nested elements is a
    crash, not an answer)."""
    stack, count = [(root, 1)], 0
    while stack:
        element, depth = stack.pop()
        count += 1
        if depth > MAX_DEPTH or count > MAX_ELEMENTS:
            raise SchemaError(f"the document holds more than {MAX_ELEMENTS} elements or nests them deeper "
                              f"than {MAX_DEPTH}")
        stack.extend((child, depth + 1) for child in element)


def to_escpos(document: Element, profile: str = "default", width_mm: int = 80) -> bytes:
    """The ESC/POS bytes of an <epos-print> document for one printer. Pure."""
    sheet = _Sheet(render.Paper(width_mm))
    p = render.printer_for(profile, sheet.paper)
    try:
        for element in document:
            _element(p, element, sheet)
    except (ValueError, TypeError) as exc:
        if isinstance(exc, SchemaError):
            raise
        raise SchemaError(str(exc)) from exc
    finally:
        p.close()
    return render.INIT + p.output


# -- the answer --------------------------------------------------------------------------------

def status_word(shown: printers.PrinterState) -> int:
    """Epson's ASB status word from the printer's last known state."""
    if not shown.answered:
        return ASB_NO_RESPONSE | ASB_OFF_LINE
    word = 0 if shown.ready else ASB_OFF_LINE
    word |= ASB_COVER_OPEN if shown.cover_open else 0
    word |= ASB_UNRECOVER_ERR if shown.error else 0
    word |= {"near_end": ASB_RECEIPT_NEAR_END, "out": ASB_RECEIPT_END | ASB_RECEIPT_NEAR_END}.get(shown.paper, 0)
    return word


def failure_code(shown: printers.PrinterState) -> str:
    """Epson's code for why a print did not finish in time."""
    if not shown.answered:
        return "EX_TIMEOUT"
    if shown.cover_open:
        return "EPTR_COVER_OPEN"
    if shown.paper == "out":
        return "EPTR_REC_EMPTY"
    if shown.error:
        return "EPTR_UNRECOVERABLE"
    return "EX_TIMEOUT"


def response(success: bool, code: str, status: int) -> bytes:
    return ('<?xml version="1.0" encoding="utf-8"?>\n'
            '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
            f'<response success="{"true" if success else "false"}" code="{code}" status="{status}" battery="0" '
            f'xmlns="{NS}"></response></s:Body></s:Envelope>').encode()


# -- the service -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Answer:
    http_status: int
    body: bytes


def target(r: redis.Redis, devid: str) -> printers.PrinterConfig | None:
    """``devid``: a printer's name, a role, or ``local_printer`` (the first receipt printer),
    among the printers open to apps (``printers.open_to_apps``): ePOS-Print takes no token."""
    reachable = printers.open_to_apps(r)
    for config in reachable:
        if config.name == devid:
            return config
    try:
        return printers.choose(r, "receipt" if devid == "local_printer" else devid, among=reachable)
    except ServiceError:
        return None


def dialled(r: redis.Redis, host: str) -> printers.PrinterConfig | None:
    """The printer whose own address (system/addresses.py) a request was posted to, by its
    Host header (``10.0.0.51``, ``10.0.0.51:8008``): Odoo posts to its printer's IP with
    ``devid=local_printer``. None: posted to the box's own address."""
    name = addresses.printer_at(r, host.rsplit(":", 1)[0] if host.count(":") == 1 else host)  # IPv4 only
    if name is None:
        return None
    try:
        return printers.get(r, name)
    except NotFound:  # removed as the app posted: devid chooses, as at the box's address
        return None


def serve(r: redis.Redis, devid: str, body: bytes, timeout_ms: str | None, wait=time.sleep,
          printer: printers.PrinterConfig | None = None) -> Answer:
    """Print an ePOS document and answer once it is on paper, or when the timeout passes
    (the job then stays queued and prints when the printer can: the code says why it is late,
    so the app does not print it twice). An empty document is answered at once: it is how
    apps ask whether the printer is there. ``printer``: the one this request reached by its
    own port (any ``devid`` is it); else ``devid`` chooses."""
    printer = printer or target(r, devid)
    if printer is None:
        return Answer(404, response(False, "DeviceNotFound", ASB_NO_RESPONSE))
    try:
        document = parse(body)
        payload = to_escpos(document, printer.profile, printer.width) if len(document) else b""
    except SchemaError:
        return Answer(400, response(False, "SchemaError", 0))
    if len(payload) > MAX_RAW_BYTES:
        return Answer(413, response(False, "TooLarge", 0))
    if not payload:
        return Answer(200, response(True, "", status_word(printers.fresh_state(r, printer.name, wait))))
    try:
        seconds = min(MAX_TIMEOUT, max(0.0, float(timeout_ms) / 1000)) if timeout_ms else DEFAULT_TIMEOUT
    except ValueError:
        return Answer(400, response(False, "ParameterError", 0))
    job_id = jobs.submit_raw(r, printer.name, payload, f"epos:{devid}")
    state = jobs.wait(r, job_id, seconds, wait)
    shown = printers.state(r, printer.name)
    if state == jobs.JobStatus.PRINTED:
        return Answer(200, response(True, "", status_word(shown) | ASB_PRINT_SUCCESS))
    return Answer(200, response(False, "PrintSystemError" if state in jobs.FINAL else failure_code(shown),
                                status_word(shown)))
