"""Star CloudPRNT: printers that call the box instead of being called (mC-Print3, TSP100IV
and other CloudPRNT printers, set to poll ``http://BOX/cloudprnt``). Such a printer needs no
fixed address: a kitchen printer on the Wi-Fi is enough.

Star's protocol, as its SDK's sample servers follow it:

- the printer POSTs a poll every few seconds: JSON with ``printerMAC``, ``statusCode``
  ("200%20OK", URL-encoded), ``status`` (its ASB in hex) and ``printingInProgress``; the box
  answers ``{"jobReady": false}``, or ``{"jobReady": true, "mediaTypes": [...]}`` when a job
  waits for it;
- the printer GETs the job (``?mac=...&type=<one of the media types>``): the job's bytes in
  that type. The GET has no side effect: fetched twice, the job is the same and still not
  printed;
- once printed, the printer DELETEs (``?mac=...&code=200%20OK``): only then is the job
  ``printed``. Any other code (``520``: it could not download the job in time; ``4xx``: it
  cannot print this media type) keeps the job queued; the poll's status says why.

A CloudPRNT printer is a printer of the box like the others (``cloudprnt://MAC``), once the
owner accepted it: before, its polls only put it in the list of printers asking to join. Its
worker offers its jobs one at a time (printing/polled.py, shared with Epson's Server Direct
Print): in order, durable, a job fetched but never confirmed before a restart is offered
again under the REPRINT banner.
"""

from __future__ import annotations

import io
import logging
import re
from urllib.parse import unquote

import redis
from PIL import Image

from appliance.errors import Invalid
from appliance.printing import dialects, jobs, polled, preview, printers, star, translate
from appliance.printing import status as printer_status
from appliance.printing.render import Paper

log = logging.getLogger(__name__)

SCHEME = "cloudprnt://"
STARPRNT = "application/vnd.star.starprnt"
PNG = "image/png"
MEDIA_TYPES = (STARPRNT, PNG)  # what the box can make of any job, in its order of preference
_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")


def mac(value: str) -> str:
    """A printer's MAC as the box spells it (lowercase, colons); Invalid otherwise."""
    clean = value.strip().lower().replace("-", ":")
    if not _MAC.match(clean):
        raise Invalid(f"{value!r} is not a printer's MAC address (like 00:11:62:1a:2b:3c)", field="mac")
    return clean


def uri(printer_mac: str) -> str:
    return SCHEME + mac(printer_mac)


def mac_of(config: printers.PrinterConfig) -> str | None:
    return config.uri.removeprefix(SCHEME) if config.uri.startswith(SCHEME) else None


def printer_for(r: redis.Redis, printer_mac: str) -> printers.PrinterConfig | None:
    return polled.printer_for(r, SCHEME + printer_mac)


def state_of(poll: dict) -> printers.PrinterState:
    """The printer's state from its poll: its ASB, and its status code."""
    code = unquote(str(poll.get("statusCode", "")))
    try:
        frame = bytes.fromhex(str(poll.get("status", "")).replace(" ", ""))
        asb = star.parse_asb(frame) if frame and star.is_asb_header(frame[0]) and len(frame) >= 7 else None
    except ValueError:
        asb = None
    if asb is None:
        ok = code.startswith("2")
        return printers.PrinterState(online=ok, ready=ok, paper="ok" if ok else "unknown",
                                     problem=None if ok else code or "printer offline", confirmation="paper")
    status = printer_status.PrinterStatus(asb.online, asb.paper, asb.cover_open, asb.error)
    return printers.PrinterState(online=status.online, ready=status.ready, paper=status.paper,
                                 cover_open=status.cover_open, error=status.error, problem=status.problem,
                                 confirmation="paper", maker="Star")


# -- what the web process does: polls, fetches, confirmations --------------------------------

def poll(r: redis.Redis, body: dict, address: str) -> dict:
    """A printer's poll: remember it, and say whether a job waits for it."""
    printer_mac = mac(str(body.get("printerMAC", "")))
    config = polled.called(r, SCHEME + printer_mac, address, unquote(str(body.get("statusCode", ""))),
                           str(body.get("status", "")))
    if config is None:
        return {"jobReady": False}
    printers.record_state(r, config.name, state_of(body))
    if polled.offered(r, config.name):
        return {"jobReady": True, "mediaTypes": list(MEDIA_TYPES)}
    return {"jobReady": False}


def job_body(r: redis.Redis, printer_mac: str, media_type: str) -> tuple[bytes, str] | None:
    """The offered job in ``media_type``, or None (no job, or a type the box cannot make).
    Reads only: fetched twice, the job is the same and still waits for its confirmation."""
    config = printer_for(r, printer_mac)
    if config is None or media_type not in MEDIA_TYPES:
        return None
    job_id = polled.offered(r, config.name)
    if job_id is None:
        return None
    offered = jobs.offered(r, job_id)
    if offered is None:
        return None
    payload = translate.translate(offered.payload, offered.language, "starprnt", config.width)
    pieces = dialects.compose(payload, "starprnt", copies=offered.copies, drawer=offered.drawer,
                              reprint=offered.reprint, moved_from=offered.moved_from, profile=config.profile)
    starprnt = b"".join(pieces)
    if media_type == STARPRNT:
        return starprnt, STARPRNT
    paper = Paper(config.width)
    pictures = [preview.draw(receipt, paper.dots, paper.columns)
                for receipt in translate.receipts(starprnt, "starprnt", config.width)]
    return _png(pictures), PNG


def _png(pictures: list[Image.Image]) -> bytes:
    height = sum(p.height for p in pictures) or 1
    sheet = Image.new("1", (max((p.width for p in pictures), default=1), height), 1)
    y = 0
    for picture in pictures:
        sheet.paste(picture, (0, y))
        y += picture.height
    out = io.BytesIO()
    sheet.save(out, "PNG", optimize=True)
    return out.getvalue()


def confirm(r: redis.Redis, printer_mac: str, code: str) -> bool:
    """The printer's DELETE: hand its code to the printer's worker. False: nothing was offered."""
    config = printer_for(r, printer_mac)
    job_id = polled.offered(r, config.name) if config else None
    if config is None or job_id is None:
        return False
    polled.answered(r, config.name, job_id, unquote(code))
    return True
