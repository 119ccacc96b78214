"""Every job's history: what printed, moved, was cancelled or failed, so the owner (the jobs
page, ``appliance jobs history``) and a POS (``GET /api/v1/jobs``) can answer "did table 7's
ticket print, and when?" without a manual.

A job's record, its bytes included, stays after it ends; ``keys.job_history`` lists them by
acceptance time. ``trim`` keeps the owner's days (the setting ``job_history_days``) and
MAX_JOBS at most, so the history never holds more than about MAX_JOBS receipts' bytes
(1-2 KB each: under 10 MB). Searching reads the records newest first and stops at a page:
the ticket's text is the document's, stored with the job, or, for bytes an app sent, read
from the bytes by the emulated printer's engine when first searched.
"""

from __future__ import annotations

import time
import unicodedata
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import redis

from appliance import settings
from appliance.errors import Invalid
from appliance.printing import jobs, languages
from appliance.store import keys

MAX_JOBS = 5000
PAGE = 50
MAX_PAGE = 200
BATCH = 200  # records read at a time while searching
TRIM_EVERY = 60.0  # seconds between two trims by the worker pool
_TEXTS: OrderedDict[str, str] = OrderedDict()  # job id -> the text read from its bytes, newest last


@dataclass(frozen=True)
class Query:
    """What the owner looks for: words of the ticket (accents and capitals ignored), a
    printer, a tablet, a status, a time span (epoch seconds); ``before``: the page after
    the one that ended with a job accepted at that time."""

    text: str = ""
    printer: str | None = None
    device: str | None = None
    status: str | None = None
    since: float | None = None
    until: float | None = None
    before: float | None = None
    limit: int = PAGE
    ended: bool = False  # only jobs that ended (the jobs page shows the waiting ones above)


def folded(text: str) -> str:
    """Text as a search compares it: "Żurek", "ZUREK" and "zurek" are one word."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).replace("ł", "l")


def _printed_text(job_id: str, payload: bytes, language: str) -> str:
    """The text of bytes an app sent, as an Epson printer would print it; a job's bytes never
    change, so each is read once a process (the last MAX_JOBS kept). Star bytes are not read:
    their text is not searched."""
    if job_id in _TEXTS:
        _TEXTS.move_to_end(job_id)
        return _TEXTS[job_id]
    text = ""
    if languages.family(language) != "star":
        from appliance.printing.emulated.engine import Engine

        engine = Engine()
        engine.feed(payload)
        engine.flush()
        text = "\n".join(receipt.text for receipt in engine.receipts)
    _TEXTS[job_id] = text
    if len(_TEXTS) > MAX_JOBS:
        _TEXTS.popitem(last=False)
    return text


def matches(job: dict, text: str, query: Query) -> bool:
    """Does a job (its public fields, and its ``text``) answer the query? Pure."""
    if query.printer and query.printer not in (job["printer"], job["moved_from"]):
        return False
    if query.device and job["device_id"] != query.device:
        return False
    if query.status and job["status"] != query.status:
        return False
    if query.ended and job["status"] not in jobs.FINAL:
        return False
    accepted = job["created_at"] or 0.0
    if (query.since is not None and accepted < query.since) or (query.until is not None and accepted > query.until):
        return False
    words = folded(query.text).split()
    haystack = folded(text)
    return all(word in haystack for word in words)


def search(r: redis.Redis, query: Query) -> tuple[list[dict], float | None]:
    """The jobs answering ``query``, newest first, a page of ``query.limit`` at most, and
    where the next page starts (None: no more)."""
    limit = max(1, min(query.limit, MAX_PAGE))
    high = query.until if query.before is None else query.before
    found: list[dict] = []
    cursor = "+inf" if high is None else f"({high}" if query.before is not None else str(high)
    low = "-inf" if query.since is None else str(query.since)
    while len(found) < limit:
        ids = r.zrevrangebyscore(keys.job_history(), cursor, low, start=0, num=BATCH, withscores=True)
        if not ids:
            return found, None
        extra = ("text", "language", "payload") if query.text else ()
        with r.pipeline(transaction=False) as pipe:
            for job_id, _ in ids:
                pipe.hmget(keys.job(job_id.decode()), *jobs.PUBLIC_FIELDS, *extra)
            records = pipe.execute()
        fields = len(jobs.PUBLIC_FIELDS)
        for (_, score), values in zip(ids, records, strict=True):
            cursor = f"({score!r}"
            if values[0] is None:
                continue  # forgotten since (trimmed, expired)
            job = jobs.view(dict(zip((name.encode() for name in jobs.PUBLIC_FIELDS), values[:fields], strict=True)))
            stored, language, payload = values[fields:] or (None, None, None)
            text = stored.decode() if stored else ""
            if query.text and not text and payload:
                text = _printed_text(job["id"], payload, (language or b"escpos").decode())
            if matches(job, text, query):
                found.append(job)
                if len(found) == limit:
                    return found, score
        if len(ids) < BATCH:
            return found, None
    return found, None


def trim(r: redis.Redis, now: float | None = None) -> int:
    """Forget the ended jobs older than the owner's days, and the oldest past MAX_JOBS. A job
    still waiting (for paper, for days) is never forgotten. The number forgotten."""
    now = time.time() if now is None else now
    days = settings.get(r, "job_history_days")
    old = r.zrangebyscore(keys.job_history(), "-inf", now - days * 86400)
    extra = r.zcard(keys.job_history()) - MAX_JOBS
    if extra > 0:
        old = list(dict.fromkeys([*old, *r.zrange(keys.job_history(), 0, extra - 1)]))
    if not old:
        return 0
    with r.pipeline(transaction=False) as pipe:
        for job_id in old:
            pipe.hget(keys.job(job_id.decode()), "status")
        statuses = pipe.execute()
    gone = [job_id.decode() for job_id, status in zip(old, statuses, strict=True)
            if status is None or status.decode() in jobs.FINAL]
    if gone:
        with r.pipeline() as pipe:
            pipe.zrem(keys.job_history(), *gone)
            pipe.delete(*(keys.job(job_id) for job_id in gone))
            pipe.execute()
    return len(gone)


WHEN = "%(name)s: a date and time (2026-12-02T12:30), please"
UNKNOWN = "%(name)s: not a way to search the history"
MESSAGES = (WHEN, UNKNOWN)


def _moment(name: str, value: str) -> float:
    """Epoch seconds, or an ISO 8601 date and time (without an offset: the box's time)."""
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        raise Invalid(WHEN, params={"name": name}, field=name) from None


def query_from(asked: Mapping[str, str], by: dict | None = None, ended: bool = False) -> Query:
    """A query from the API's or the page's parameters (``q``, ``printer``, ``device``,
    ``status``, ``since``, ``until``, ``before``, ``limit``), checked. ``by``: the tablet
    asking; one that is not a manager's sees its own jobs only (None: the owner). ``ended``:
    unless a status is asked, only jobs that ended."""
    if unknown := sorted(set(asked) - {"q", "printer", "device", "status", "since", "until", "before", "limit"}):
        raise Invalid(UNKNOWN, params={"name": unknown[0]}, field=unknown[0])
    status = asked.get("status") or None
    if status is not None and status not in set(jobs.JobStatus):
        raise Invalid(settings.CHOICES, params={"name": "status", "choices": ", ".join(jobs.JobStatus)},
                      field="status")
    try:
        limit = int(asked.get("limit") or PAGE)
    except ValueError:
        raise Invalid(settings.NOT_A_NUMBER, field="limit") from None
    if not 1 <= limit <= MAX_PAGE:
        raise Invalid(settings.BOUNDS, params={"name": "limit", "low": 1, "high": MAX_PAGE}, field="limit")
    device = asked.get("device") or None
    if by is not None and by.get("role") != "manager":
        device = by["device_id"]
    moments = {name: _moment(name, asked[name]) if asked.get(name) else None for name in ("since", "until", "before")}
    return Query(text=asked.get("q", "")[:200], printer=asked.get("printer") or None, device=device, status=status,
                 limit=limit, ended=ended and status is None, **moments)
