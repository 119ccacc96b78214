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
owner accepted it: before, its polls only put it in the list of printers asking to join.
Its jobs keep every guarantee of the queue: in order, durable, a job fetched but never
confirmed before a restart is offered again under the REPRINT banner.
"""

from __future__ import annotations

import io
import json
import logging
import re
import threading
import time
from collections.abc import Callable
from urllib.parse import unquote

import redis
from PIL import Image

from appliance.errors import Invalid
from appliance.printing import dialects, jobs, preview, printers, star, translate
from appliance.printing import status as printer_status
from appliance.printing.driver import Stopping
from appliance.printing.render import Paper
from appliance.store import keys

log = logging.getLogger(__name__)

SCHEME = "cloudprnt://"
STARPRNT = "application/vnd.star.starprnt"
PNG = "image/png"
MEDIA_TYPES = (STARPRNT, PNG)  # what the box can make of any job, in its order of preference
_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
CALLERS_KEPT = 32  # printers asking to join: a stranger's flood of MACs stays small
CALLER_TTL = 24 * 3600
RESULT_WAIT = 1.0
RETRY_AFTER_ERROR = 5.0


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
    return next((c for c in printers.all_configs(r) if mac_of(c) == printer_mac), None)


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
    config = printer_for(r, printer_mac)
    seen = {"status_code": unquote(str(body.get("statusCode", ""))), "status": str(body.get("status", ""))[:64],
            "at": time.time(), "address": address, "printer": config.name if config else None}
    with r.pipeline() as pipe:
        pipe.hset(keys.cloudprnt_callers(), printer_mac, json.dumps(seen))
        pipe.expire(keys.cloudprnt_callers(), CALLER_TTL)
        pipe.execute()
    if r.hlen(keys.cloudprnt_callers()) > CALLERS_KEPT:
        _forget_oldest(r)
    if config is None:
        return {"jobReady": False}
    printers.record_state(r, config.name, state_of(body))
    if r.get(keys.cloudprnt_offer(config.name)):
        return {"jobReady": True, "mediaTypes": list(MEDIA_TYPES)}
    return {"jobReady": False}


def _forget_oldest(r: redis.Redis) -> None:
    callers = {k.decode(): json.loads(v) for k, v in r.hgetall(keys.cloudprnt_callers()).items()}
    unknown = sorted((seen["at"], k) for k, seen in callers.items() if not seen.get("printer"))
    for _, k in unknown[:max(0, len(callers) - CALLERS_KEPT)]:
        r.hdel(keys.cloudprnt_callers(), k)


def callers(r: redis.Redis) -> list[dict]:
    """Every CloudPRNT printer that polled lately, newest first; ``printer`` None: asking to join."""
    found = [{"mac": k.decode(), **json.loads(v)} for k, v in r.hgetall(keys.cloudprnt_callers()).items()]
    return sorted(found, key=lambda c: -c["at"])


def job_body(r: redis.Redis, printer_mac: str, media_type: str) -> tuple[bytes, str] | None:
    """The offered job in ``media_type``, or None (no job, or a type the box cannot make).
    Reads only: fetched twice, the job is the same and still waits for its confirmation."""
    config = printer_for(r, printer_mac)
    if config is None or media_type not in MEDIA_TYPES:
        return None
    job_id = r.get(keys.cloudprnt_offer(config.name))
    if job_id is None:
        return None
    offered = jobs.offered(r, job_id.decode())
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
    if config is None:
        return False
    job_id = r.get(keys.cloudprnt_offer(config.name))
    if job_id is None:
        return False
    with r.pipeline() as pipe:  # withdrawn at once: the next poll must not fetch it again
        pipe.delete(keys.cloudprnt_offer(config.name))
        pipe.rpush(keys.cloudprnt_results(config.name), f"{job_id.decode()} {unquote(code).strip()}")
        pipe.execute()
    return True


# -- what the printer's worker does: offer each job, wait for its confirmation ---------------

class CloudprntDriver:
    """The worker side of a CloudPRNT printer, in place of ``driver.PrinterDriver``: each job
    is offered in turn and is printed once the printer says so."""

    def __init__(self, r: redis.Redis, config: printers.PrinterConfig) -> None:
        self.r, self.config = r, config
        self.stop = threading.Event()
        self.worker_key: str | None = None

    def print(self, job_id: str, queued: Callable[[], bool]) -> None:
        attempt = jobs.begin_attempt(self.r, job_id, self.worker_key)
        if attempt is None:
            return
        self.r.set(keys.cloudprnt_offer(self.config.name), job_id)
        try:
            while True:
                if self.stop.is_set():
                    raise Stopping()
                result = self.r.blpop([keys.cloudprnt_results(self.config.name)], timeout=RESULT_WAIT)
                if result is None:
                    if jobs.status_of(self.r, job_id) in (*jobs.FINAL, None):
                        return  # cancelled meanwhile
                    continue
                answered, _, code = result[1].decode().partition(" ")
                if answered != job_id:
                    continue  # a late answer about an earlier offer
                if code.startswith("2"):
                    jobs.mark_printed(self.r, job_id, self.config.name, idle_worker=self.worker_key)
                    return
                jobs.note_waiting(self.r, job_id, f"the printer did not print it: {code}")
                if self.stop.wait(RETRY_AFTER_ERROR):
                    raise Stopping()
                self.r.set(keys.cloudprnt_offer(self.config.name), job_id)  # offered again
        finally:
            if jobs.status_of(self.r, job_id) in (*jobs.FINAL, None):
                self.r.delete(keys.cloudprnt_offer(self.config.name))

    def poll_idle(self, fresh: bool = False) -> None:
        """The printer's polls write its state (it cannot be asked: ``fresh`` changes
        nothing); one that stopped polling is shown as offline."""
        shown = printers.state(self.r, self.config.name)
        if shown.checked_at and time.time() - shown.checked_at > 30 and shown.online:
            printers.record_state(self.r, self.config.name,
                                  printers.PrinterState(problem="the printer stopped calling the box",
                                                        confirmation="paper", maker=shown.maker, model=shown.model))

    def finish(self, grace: float) -> None:
        pass  # nothing is in the printer's hands but what it confirms
