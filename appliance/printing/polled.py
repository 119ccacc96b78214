"""Printers that call the box instead of being called: Star's CloudPRNT (``cloudprnt://MAC``,
printing/cloudprnt.py) and Epson's Server Direct Print (``sdp://ID``, printing/sdp.py). What
both protocols share lives here:

- **who called**: every printer that polled lately, added or not yet ("new printers asking to
  join" on the setup page and in ``appliance printers callers``), and accepting one, which
  makes it a printer of the box like the others;
- **the worker's side** (``PolledDriver``, in place of ``driver.PrinterDriver``): each job is
  offered in turn (the printer's next poll takes it) and is ``printed`` only once the printer
  says so; any other answer keeps it queued and offers it again. A job offered but never
  confirmed before a restart is offered again under the REPRINT banner.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable

import redis

from appliance.printing import jobs, printers
from appliance.printing.driver import Stopping
from appliance.store import keys

SCHEMES = ("cloudprnt://", "sdp://")
CALLERS_KEPT = 32  # printers asking to join: a stranger's flood of ids stays small
CALLER_TTL = 24 * 3600
RESULT_WAIT = 1.0
RETRY_AFTER_ERROR = 5.0
SILENT_AFTER = 30.0  # a printer that has not called for this long is shown offline


def is_polled(uri: str) -> bool:
    return uri.startswith(SCHEMES)


def printer_for(r: redis.Redis, uri: str) -> printers.PrinterConfig | None:
    return next((c for c in printers.all_configs(r) if c.uri == uri), None)


def called(r: redis.Redis, uri: str, address: str, status_code: str = "", status: str = "") -> \
        printers.PrinterConfig | None:
    """A printer's poll, remembered; the printer it is, once accepted."""
    config = printer_for(r, uri)
    seen = {"status_code": status_code[:64], "status": status[:64], "at": time.time(), "address": address,
            "printer": config.name if config else None}
    with r.pipeline() as pipe:
        pipe.hset(keys.printer_callers(), uri, json.dumps(seen))
        pipe.expire(keys.printer_callers(), CALLER_TTL)
        pipe.execute()
    if r.hlen(keys.printer_callers()) > CALLERS_KEPT:
        _forget_oldest(r)
    return config


def _forget_oldest(r: redis.Redis) -> None:
    known = {k.decode(): json.loads(v) for k, v in r.hgetall(keys.printer_callers()).items()}
    unknown = sorted((seen["at"], k) for k, seen in known.items() if not seen.get("printer"))
    for _, k in unknown[:max(0, len(known) - CALLERS_KEPT)]:
        r.hdel(keys.printer_callers(), k)


def callers(r: redis.Redis) -> list[dict]:
    """Every printer that called lately, newest first: its ``uri``, ``protocol`` (cloudprnt,
    sdp), ``id`` (a MAC, an SDP ID); ``printer`` None: asking to join."""
    found = []
    for k, v in r.hgetall(keys.printer_callers()).items():
        uri = k.decode()
        protocol, _, ident = uri.partition("://")
        found.append({"uri": uri, "protocol": protocol, "id": ident, **json.loads(v)})
    return sorted(found, key=lambda c: -c["at"])


def accept(r: redis.Redis, uri: str, name: str, roles: list[str], width: int = 80) -> printers.PrinterConfig:
    """A printer that called the box becomes one of its printers, in the language its
    protocol carries (StarPRNT for CloudPRNT, ESC/POS for Server Direct Print)."""
    language = "starprnt" if uri.startswith("cloudprnt://") else "escpos"
    return printers.add(r, printers.validate(name, uri, roles, width, language=language))


def offered(r: redis.Redis, printer: str) -> str | None:
    """The id of the job the printer may take now."""
    job_id = r.get(keys.polled_offer(printer))
    return job_id.decode() if job_id else None


def answered(r: redis.Redis, printer: str, job_id: str, code: str) -> None:
    """The printer's word on a job (``2xx``: printed), for its worker; the offer is withdrawn
    at once, so the next poll does not take the job again."""
    with r.pipeline() as pipe:
        pipe.delete(keys.polled_offer(printer))
        pipe.rpush(keys.polled_results(printer), f"{job_id} {code.strip()}")
        pipe.execute()


class PolledDriver:
    """The worker side of a printer that calls the box."""

    def __init__(self, r: redis.Redis, config: printers.PrinterConfig) -> None:
        self.r, self.config = r, config
        self.stop = threading.Event()
        self.worker_key: str | None = None

    def print(self, job_id: str, queued: Callable[[], bool]) -> None:
        attempt = jobs.begin_attempt(self.r, job_id, self.worker_key)
        if attempt is None:
            return
        self.r.set(keys.polled_offer(self.config.name), job_id)
        try:
            while True:
                if self.stop.is_set():
                    raise Stopping()
                result = self.r.blpop([keys.polled_results(self.config.name)], timeout=RESULT_WAIT)
                if result is None:
                    if jobs.status_of(self.r, job_id) in (*jobs.FINAL, None):
                        return  # cancelled meanwhile
                    continue
                answer, _, code = result[1].decode().partition(" ")
                if answer != job_id:
                    continue  # a late answer about an earlier offer
                if code.startswith("2"):
                    jobs.mark_printed(self.r, job_id, self.config.name, idle_worker=self.worker_key)
                    return
                jobs.note_waiting(self.r, job_id, f"the printer did not print it: {code}")
                if self.stop.wait(RETRY_AFTER_ERROR):
                    raise Stopping()
                self.r.set(keys.polled_offer(self.config.name), job_id)  # offered again
        finally:
            if jobs.status_of(self.r, job_id) in (*jobs.FINAL, None):
                self.r.delete(keys.polled_offer(self.config.name))

    def poll_idle(self, fresh: bool = False) -> None:
        """The printer's polls write its state (it cannot be asked: ``fresh`` changes
        nothing); one that stopped polling is shown as offline."""
        shown = printers.state(self.r, self.config.name)
        if shown.checked_at and time.time() - shown.checked_at > SILENT_AFTER and shown.online:
            printers.record_state(self.r, self.config.name,
                                  printers.PrinterState(problem="the printer stopped calling the box",
                                                        confirmation="paper", maker=shown.maker, model=shown.model))

    def finish(self, grace: float) -> None:
        pass  # nothing is in the printer's hands but what it confirms
