"""Epson Server Direct Print: TM printers that poll a server for their jobs (TM-m30II/III,
TM-T88VI/VII, the TM-i), set in their WebConfig to poll ``http://BOX/epson/sdp``. Such a
printer needs no fixed address, as a CloudPRNT printer does not (printing/polled.py holds what
both share: who called, accepting one, the worker that offers its jobs).

Epson's protocol, as its Server Direct Print manual states it:

- the printer POSTs a form, ``ConnectionType=GetRequest&ID=<its ID>`` (and ``Name``, its
  name, from newer firmware), every few seconds; the box answers ``200 text/xml`` with no
  body when there is nothing to print, or a ``PrintRequestInfo`` (``Version="2.00"``) holding
  one ``ePOSPrint``: its ``Parameter`` (``devid`` local_printer, ``timeout`` in ms, and
  ``printjobid``, 1 to 30 letters, digits, ``_``, ``-``, ``.``) and its ``PrintData``, the
  ePOS-Print document (the job's ESC/POS, in the printer's ``command`` element);
- after printing, the printer POSTs ``ConnectionType=SetResponse&ID=…&ResponseFile=<the
  PrintResponseInfo>``: the job's ``printjobid`` and ePOS-Print's ``response`` (``success``,
  ``code``, ``status``, Epson's ASB word). Only ``success="true"`` for the offered job makes
  it ``printed``; a failure (``EPTR_REC_EMPTY``: paper out…) keeps it queued and offered
  again, and the status word says why on the page.

A printer is known by its ID, or by its address when its ID is empty (the WebConfig's default).
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

import redis
from defusedxml import ElementTree

from appliance.printing import dialects, epos, jobs, polled, printers, translate

SCHEME = "sdp://"
PATH = "/epson/sdp"
TIMEOUT_MS = 60_000  # what the printer may take to print a job before it answers
MAX_FORM = 1024 * 1024  # a SetResponse carries one response document: a few hundred bytes
_JOB_ID = re.compile(r"[^A-Za-z0-9_.-]")
_NS = "{http://www.epson-pos.com/schemas/2011/03/epos-print}"


def printer_id(form: dict[str, str], address: str) -> str:
    """How the box knows a polling printer: the ID set in its WebConfig, else its address."""
    ident = _JOB_ID.sub("", form.get("ID", "").strip())[:64]
    return ident or address


def print_job_id(job_id: str) -> str:
    """A job's id as Server Direct Print carries it: at most 30 characters, no others than
    letters, digits, ``_``, ``-`` and ``.``."""
    return job_id.replace("-", "")[:30]


def form_of(body: bytes) -> dict[str, str]:
    return {key: values[-1] for key, values in parse_qs(body.decode("utf-8", "replace")).items()}


def state_of(word: int, model: str | None) -> printers.PrinterState:
    """The printer's state from ePOS-Print's status word (the inverse of epos.status_word)."""
    offline, cover = bool(word & epos.ASB_OFF_LINE), bool(word & epos.ASB_COVER_OPEN)
    error = bool(word & epos.ASB_UNRECOVER_ERR)
    paper = "out" if word & epos.ASB_RECEIPT_END else "near_end" if word & epos.ASB_RECEIPT_NEAR_END else "ok"
    problem = ("cover open" if cover else "paper out" if paper == "out" else "printer error" if error
               else "printer offline" if offline else None)
    return printers.PrinterState(online=not offline, ready=problem is None, paper=paper, cover_open=cover,
                                 error=error, problem=problem, confirmation="paper", maker="EPSON", model=model)


def request_info(r: redis.Redis, config: printers.PrinterConfig, job_id: str) -> bytes | None:
    """The PrintRequestInfo of the offered job, or None when it is gone (cancelled)."""
    offered = jobs.offered(r, job_id)
    if offered is None:
        return None
    payload = translate.translate(offered.payload, offered.language, "escpos", config.width)
    data = b"".join(dialects.compose(payload, "escpos", copies=offered.copies, drawer=offered.drawer,
                                     reprint=offered.reprint, moved_from=offered.moved_from, profile=config.profile))
    return ('<?xml version="1.0" encoding="utf-8"?>\n<PrintRequestInfo Version="2.00"><ePOSPrint><Parameter>'
            f"<devid>local_printer</devid><timeout>{TIMEOUT_MS}</timeout>"
            f"<printjobid>{escape(print_job_id(job_id))}</printjobid></Parameter><PrintData>"
            '<epos-print xmlns="http://www.epson-pos.com/schemas/2011/03/epos-print">'
            f"<command>{data.hex()}</command></epos-print></PrintData></ePOSPrint></PrintRequestInfo>").encode()


def serve(r: redis.Redis, body: bytes, address: str) -> bytes:
    """One POST from a printer: its poll (answered with the job it may print, or nothing) or
    its printing result (handed to its worker). The answer's body; always 200, as the manual
    wants (an error would only make the printer retry later)."""
    form = form_of(body)
    uri = SCHEME + printer_id(form, address)
    kind = form.get("ConnectionType", "")
    config = polled.called(r, uri, address, kind)
    if config is None:
        return b""  # asking to join: nothing to print until the owner accepts it
    job_id = polled.offered(r, config.name)
    if kind == "SetResponse":
        _result(r, config, job_id, form.get("ResponseFile", ""))
        return b""
    _seen(r, config, form.get("Name") or None)
    if job_id is None:
        return b""
    return request_info(r, config, job_id) or b""


def _seen(r: redis.Redis, config: printers.PrinterConfig, name: str | None) -> None:
    """It called: it is on, and its last known state (from its last result) still holds."""
    shown = printers.state(r, config.name)
    if shown.checked_at is None or not shown.online:
        shown = printers.PrinterState(online=True, ready=True, paper="ok", problem=None, confirmation="paper",
                                      maker="EPSON", model=shown.model or name)
    printers.record_state(r, config.name, shown)


def _result(r: redis.Redis, config: printers.PrinterConfig, job_id: str | None, document: str) -> None:
    try:
        root = ElementTree.fromstring(document.encode())
    except (ElementTree.ParseError, ValueError):
        return  # not a result the box can read: the job stays offered
    answered = root.findtext(".//printjobid") or ""
    found = root.find(f".//{_NS}response")
    if found is None:
        found = root.find(".//response")
    if found is None:
        return
    try:
        word = int(found.get("status", "0"))
    except ValueError:
        word = 0
    printers.record_state(r, config.name, state_of(word, printers.state(r, config.name).model))
    if job_id is None or answered != print_job_id(job_id):
        return  # about an earlier offer, already settled
    code = "200 OK" if found.get("success") == "true" else found.get("code") or "failed"
    polled.answered(r, config.name, job_id, code)
