"""Print jobs: accepting them durably, their life cycle, and cancelling them.

A job's record (``keys.job``) is the truth shown to tablets; rq only carries the "print
this id next" message through each printer's queue. Life cycle::

    queued -> printing -> printed  (the printer confirmed it: see driver.py)
       |         |
       |         +-> queued again (link or power lost before the confirmation: reprinted
       |                           whole at the head of the queue, marked REPRINT)
       +-> cancelled          (any state) -> failed (a bug, never a printer problem) -> queued
       |                                             (retried at the end of its printer's queue)
       +-> queued on another printer (failover: ``printer`` says where, ``moved_from`` whence)

A job waits at the head of its printer's queue for as long as the printer needs, unless the
printer has a stand-in: no job is ever dropped for waiting too long. A record, its bytes
included, is kept after it ends for the owner's history (``history.py``: the owner's days,
RETENTION at most), which is also how long an id stays an idempotency key.

rq carries the "print this id next" message: its job hash and queue entries live while the
job is queued or in the printer's hands, and every change of state that ends or moves a job
cleans rq's share in the same transaction, so a crash never strands one without the other.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

import redis
from rq import Queue

from appliance.errors import Conflict, Forbidden, Invalid, NotFound, OutcomeUnknown
from appliance.printing import languages, printers, star_render
from appliance.printing.render import RenderError, duplicate_banner, render
from appliance.printing.request import JobRequest
from appliance.store import keys
from appliance.store.client import script, transaction

RETENTION = 31 * 24 * 3600  # the longest history an owner may keep (history.py trims to theirs)
class JobStatus(StrEnum):
    """Where a job is in its life (the diagram above); the API, the page and the CLI show these."""

    QUEUED = "queued"
    PRINTING = "printing"
    PRINTED = "printed"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINAL = (JobStatus.PRINTED, JobStatus.FAILED, JobStatus.CANCELLED)
PRINT_FUNCTION = "appliance.printing.worker.print_job"
PUBLIC_FIELDS = ("id", "status", "printer", "moved_from", "role", "attempts", "last_error", "reprint", "copies",
                 "drawer", "device_id", "created_at", "updated_at", "sent_at", "printed_at", "duplicate_of")


@dataclass(frozen=True)
class Submitted:
    job: dict
    created: bool  # False: the id was known, this is the first answer again


def view(raw: dict[bytes, bytes | None]) -> dict:
    """A record as the API, the page and the CLI show it (its bytes left out)."""
    data = {k.decode(): v for k, v in raw.items() if k != b"payload"}
    shown: dict = {name: data[name].decode() if data.get(name) is not None else None for name in PUBLIC_FIELDS}
    shown["attempts"] = int(shown["attempts"] or 0)
    shown["copies"] = int(shown["copies"] or 1)
    shown["reprint"] = shown["reprint"] == "1"
    shown["drawer"] = shown["drawer"] == "1"
    for stamp in ("created_at", "updated_at", "sent_at", "printed_at"):
        shown[stamp] = float(shown[stamp]) if shown[stamp] else None
    for optional in ("last_error", "moved_from", "role", "duplicate_of"):
        shown[optional] = shown[optional] or None
    return shown


def get(r: redis.Redis, job_id: str) -> dict:
    job = _maybe(r, job_id)
    if job is None:
        raise NotFound(f"no job {job_id}")
    return job


def _existing(r: redis.Redis | redis.client.Pipeline, job_id: str, fingerprint: str) -> Submitted | None:
    raw = r.hgetall(keys.job(job_id))
    if not raw:
        return None
    if raw.get(b"fingerprint", b"").decode() != fingerprint:
        raise Conflict(f"job id {job_id} was already used for a different job")
    return Submitted(view(raw), created=False)


def _target(r: redis.Redis, request: JobRequest, receipt_printer: str | None) -> printers.PrinterConfig:
    if request.printer is not None:
        try:
            return printers.get(r, request.printer)
        except NotFound as exc:
            raise Invalid(exc.message, printer=request.printer) from exc
    assert request.role is not None
    return printers.choose(r, request.role, receipt_printer)


def submit(r: redis.Redis, request: JobRequest, device_id: str | None = None,
           receipt_printer: str | None = None) -> Submitted:
    """Accept a job: it is rendered now (so a document that cannot print is refused now), and
    the answer comes only once its record and its queue entry are both in Redis, written in
    one transaction: nothing is ever half-queued."""
    job_id = str(request.id or uuid.uuid4())
    fingerprint = request.fingerprint()
    def store(pipe: redis.client.Pipeline) -> Submitted:
        # Watching the id: the same id, posted twice at the same moment, is looked at again.
        if replay := _existing(pipe, job_id, fingerprint):
            return replay
        target = _target(r, request, receipt_printer)
        payload, language = _payload(request, target)
        pipe.multi()
        record = _store(r, pipe, job_id, request, target, device_id, payload, language)
        _execute(pipe, job_id)
        return Submitted(view({k.encode(): str(v).encode() for k, v in record.items()}), created=True)

    return transaction(r, [keys.job(job_id)], store)


def _store(r: redis.Redis, pipe: redis.client.Pipeline, job_id: str, request: JobRequest,
           target: printers.PrinterConfig, device_id: str | None, payload: bytes, language: str) -> dict:
    """The writes that accept one job, queued in the caller's MULTI: its record, its place
    among the printer's pending jobs, and rq's "print this id next"."""
    now = time.time()
    record = {
        "id": job_id, "status": JobStatus.QUEUED, "printer": target.name, "role": request.role or "",
        "moved_from": "", "attempts": 0, "last_error": "",
        "reprint": 0, "copies": request.copies, "drawer": int(request.drawer),
        "device_id": device_id or "", "fingerprint": request.fingerprint(), "created_at": now, "updated_at": now,
        "language": language,
    }
    text = request.document.text() if request.document is not None else ""
    pipe.hset(keys.job(job_id), mapping={**record, "payload": payload, **({"text": text} if text else {})})
    pipe.zadd(keys.printer_pending(target.name), {job_id: now})
    pipe.zadd(keys.job_history(), {job_id: now})
    enqueue(pipe, printers.queue(r, target.name), job_id)
    return record


def _execute(pipe: redis.client.Pipeline, job_id: str) -> None:
    try:
        pipe.execute()
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        # Redis may have written the transaction and died before answering.
        raise OutcomeUnknown(
            "the box's storage failed while storing this job: it may or may not be queued; "
            "send it again with the same id (it will never print twice)", id=job_id) from exc


def print_document(r: redis.Redis, document: dict, *, printer: str | None = None, role: str | None = None) -> dict:
    """Queue a document the box made itself (a test page, a welcome receipt, a Z report) on a
    printer or for a role: the one way the CLI, the setup page and the first start print."""
    return submit(r, JobRequest.model_validate({"printer": printer, "role": role, "document": document})).job


def wait(r: redis.Redis, job_id: str, timeout: float, sleep: Callable[[float], object] = time.sleep) -> str | None:
    """The job's status once it has ended, or as it stands when ``timeout`` seconds have passed
    (a job is never dropped for waiting: the caller says it is late, not failed)."""
    deadline = time.monotonic() + timeout
    while (state := status_of(r, job_id)) not in FINAL and time.monotonic() < deadline:
        sleep(0.1)
    return state


def submit_raw(r: redis.Redis, printer: str, payload: bytes, source: str, job_id: str | None = None,
               language: str = "escpos") -> str:
    """Queue bytes an app sent (a virtual network printer, ePOS-Print) for ``printer``, already
    checked; ``source`` says where they came from, ``language`` what they are written in (the
    printer prints them in its own: ``translate.py``). The same ``job_id`` again never prints twice."""
    job_id = job_id or str(uuid.uuid4())
    submit_raw_many(r, printer, [(job_id, payload)], source, language)
    return job_id


def submit_raw_many(r: redis.Redis, printer: str, payloads: Sequence[tuple[str, bytes]], source: str,
                    language: str = "escpos", also: Callable[[redis.client.Pipeline], object] = lambda pipe: None,
                    new_ids: bool = False) -> None:
    """Queue ``(job id, bytes)`` an app sent, in order, and what the caller stores beside them
    (what remains of an app's connection: ``app_record.py``), in one transaction: one write to
    the card where a job and its source's bookkeeping would take two or three. An id already
    stored (the same call again after the storage failed to answer) is not queued twice;
    ``new_ids``: the caller made these ids and never tried to store them, so none is looked up."""
    requests = [JobRequest.model_construct(id=job_id, printer=printer, role=None, document=None, raw=payload,
                                           copies=1, drawer=False, raw_language=language)
                for job_id, payload in payloads]
    ids = [job_id for job_id, _ in payloads]

    def store(pipe: redis.client.Pipeline) -> None:
        known = [False] * len(ids) if new_ids else [pipe.exists(keys.job(job_id)) for job_id in ids]
        target = _target(r, requests[0], None) if requests else None
        pipe.multi()
        for job_id, request, there in zip(ids, requests, known, strict=True):
            if not there and target is not None:
                _store(r, pipe, job_id, request, target, source, request.raw or b"", language)
        also(pipe)
        _execute(pipe, ids[0] if ids else "")

    transaction(r, [] if new_ids else [keys.job(job_id) for job_id in ids], store)


def _payload(request: JobRequest, target: printers.PrinterConfig) -> tuple[bytes, str]:
    """The job's bytes and the printer language they are written in."""
    if request.raw is not None:
        return request.raw, request.raw_language
    assert request.document is not None
    try:
        if languages.family(target.language) == "star":
            return star_render.render(request.document, target.language, target.width), target.language
        return render(request.document, target.profile, target.width), "escpos"
    except RenderError as exc:
        raise Invalid(str(exc)) from exc


def enqueue(pipe: redis.client.Pipeline, queue: Queue, job_id: str, at_front: bool = False) -> None:
    """Add "print job_id" to the printer's rq queue, inside the caller's transaction. No
    timeout: a job may wait hours for paper; the record, not rq, keeps the result."""
    queue.enqueue_call(PRINT_FUNCTION, args=(job_id,), job_id=job_id, timeout=-1, result_ttl=0,
                       failure_ttl=RETENTION, description=f"print {job_id}", at_front=at_front,
                       pipeline=pipe)


def _change(r: redis.Redis, job_id: str, by: dict | None,
            change: Callable[[redis.client.Pipeline, str, str], bool]) -> dict:
    """Read a job's state under WATCH, let ``change`` queue its commands (after MULTI; False:
    nothing to do), run them in one transaction, again if the job moved meanwhile. The answer
    is the job as the transaction left it (its printer may start it a moment after)."""
    def changed(pipe: redis.client.Pipeline) -> dict:
        status, printer, owner = pipe.hmget(keys.job(job_id), "status", "printer", "device_id")
        _may_handle(job_id, status, owner, by)
        if change(pipe, status.decode(), printer.decode()):
            pipe.hgetall(keys.job(job_id))
            return view(pipe.execute()[-1])
        pipe.reset()
        return get(r, job_id)

    return transaction(r, [keys.job(job_id)], changed)


def cancel(r: redis.Redis, job_id: str, by: dict | None = None) -> dict:
    """Cancel a job that has not started printing (or failed). A job on the wire cannot be
    called back."""
    def change(pipe: redis.client.Pipeline, state: str, printer: str) -> bool:
        if state == JobStatus.CANCELLED:
            return False
        if state not in (JobStatus.QUEUED, JobStatus.FAILED):
            raise Conflict(f"job {job_id} is {state} and can no longer be cancelled", status=state)
        pipe.multi()
        _finish(pipe, job_id, printer, JobStatus.CANCELLED)
        pipe.lrem(keys.rq_queue(printer), 0, job_id)
        return True

    return _change(r, job_id, by, change)


def _may_handle(job_id: str, status: bytes | None, owner: bytes | None, by: dict | None) -> None:
    """``by``: the tablet asking; it may cancel or retry its own jobs, a manager's any (None:
    the CLI or the setup page, the owner's)."""
    if status is None:
        raise NotFound(f"no job {job_id}")
    if by is not None and by.get("role") != "manager" and (owner or b"").decode() != by["device_id"]:
        raise Forbidden("a tablet cancels or retries only its own jobs (a manager's tablet any)")


def retry(r: redis.Redis, job_id: str, by: dict | None = None) -> dict:
    """Queue a failed job again, at the end of its printer's queue (it failed on a bug, which
    may since be fixed, or on a record an update repaired). Retrying a job that is not failed
    changes nothing: two people pressing "retry" at once print it once."""
    def change(pipe: redis.client.Pipeline, state: str, printer: str) -> bool:
        if state != JobStatus.FAILED:
            return False
        now = time.time()
        pipe.multi()
        pipe.hset(keys.job(job_id), mapping={"status": JobStatus.QUEUED, "last_error": "", "updated_at": now})
        pipe.persist(keys.job(job_id))
        pipe.zrem(keys.failed_jobs(), job_id)
        pipe.zadd(keys.printer_pending(printer), {job_id: now})
        enqueue(pipe, printers.queue(r, printer), job_id)
        return True

    return _change(r, job_id, by, change)


def failed(r: redis.Redis) -> list[dict]:
    """Failed jobs, newest first, for someone to retry or cancel (ids whose record expired
    are forgotten on the way)."""
    ids = [member.decode() for member in r.zrevrange(keys.failed_jobs(), 0, -1)]
    found = [(job_id, _maybe(r, job_id)) for job_id in ids]
    if gone := [job_id for job_id, job in found if job is None]:
        r.zrem(keys.failed_jobs(), *gone)
    return [job for _, job in found if job is not None]


def _finish(pipe: redis.client.Pipeline, job_id: str, printer: str, status: str, **fields) -> None:
    """End a job: its record says how, and rq forgets it, in the caller's transaction. The
    record keeps its bytes: the history shows its picture and prints it again on request
    (``duplicate``), a failed job is retried with them; ``history.trim`` forgets them."""
    now = time.time()
    pipe.hset(keys.job(job_id), mapping={"status": status, "updated_at": now, **fields})
    if status == JobStatus.FAILED:
        pipe.zadd(keys.failed_jobs(), {job_id: now})
    else:
        pipe.zrem(keys.failed_jobs(), job_id)
    pipe.zrem(keys.printer_pending(printer), job_id)
    pipe.expire(keys.job(job_id), RETENTION)
    pipe.lrem(keys.rq_intermediate(printer), 0, job_id)
    pipe.delete(keys.rq_job(job_id))


# -- the worker's side of the life cycle -----------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    """What the worker needs to send one job."""

    job_id: str
    payload: bytes
    copies: int
    drawer: bool
    reprint: bool
    moved_from: str | None
    language: str = "escpos"  # the printer language the payload is written in


# Atomic, one round trip: the attempt starts only if the job is still wanted; rq's job and
# worker say "started" and "busy" with it. ARGV[4] is JobStatus.PRINTING, ARGV[5..7] FINAL.
_BEGIN_ATTEMPT = script("""
local status = redis.call('HGET', KEYS[1], 'status')
if not status or status == ARGV[5] or status == ARGV[6] or status == ARGV[7] then
  return false
end
redis.call('HSET', KEYS[1], 'status', ARGV[4], 'updated_at', ARGV[1])
redis.call('HSETNX', KEYS[1], 'sent_at', ARGV[1])
redis.call('HINCRBY', KEYS[1], 'attempts', 1)
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('HSET', KEYS[2], 'status', 'started', 'started_at', ARGV[2])
end
if KEYS[3] ~= '' then
  redis.call('HSET', KEYS[3], 'state', 'busy', 'current_job', ARGV[3])
end
return redis.call('HMGET', KEYS[1], 'payload', 'copies', 'drawer', 'reprint', 'moved_from', 'language')
""")


def begin_attempt(r: redis.Redis, job_id: str, worker_key: str | None = None) -> Attempt | None:
    """Mark the job as on its way to the paper. None when it must not print (cancelled,
    finished, or gone). From here on, a crash means the paper may already show it."""
    started = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    found = _BEGIN_ATTEMPT(keys=[keys.job(job_id), keys.rq_job(job_id), worker_key or ""],
                                              args=[time.time(), started, job_id, JobStatus.PRINTING, *FINAL], client=r)
    if not found:
        return None
    return _attempt(job_id, found)


def offered(r: redis.Redis, job_id: str) -> Attempt | None:
    """What a job sends, read without starting an attempt (a CloudPRNT printer's fetch, which
    may come twice)."""
    found = r.hmget(keys.job(job_id), "payload", "copies", "drawer", "reprint", "moved_from", "language")
    return _attempt(job_id, found) if found[0] is not None else None


def _attempt(job_id: str, found: list) -> Attempt:
    payload, copies, drawer, reprint, moved_from, language = found
    return Attempt(job_id, payload, int(copies), drawer == b"1", reprint == b"1",
                   moved_from.decode() if moved_from else None, language.decode() if language else "escpos")


def status_of(r: redis.Redis, job_id: str) -> str | None:
    status = r.hget(keys.job(job_id), "status")
    return status.decode() if status else None


def note_waiting(r: redis.Redis, job_id: str, problem: str) -> None:
    """The printer is not ready: say why; the job keeps its place."""
    r.hset(keys.job(job_id), mapping={"last_error": problem, "updated_at": time.time()})


def requeue(r: redis.Redis, printer: str, job_ids: list[str], problem: str) -> None:
    """Jobs that may have reached the paper, in the order they were sent, go back to the
    head of their queue, to print again whole under the REPRINT banner."""
    queue = printers.queue(r, printer)
    with r.pipeline() as pipe:
        pipe.multi()
        for job_id in job_ids:
            pipe.hset(keys.job(job_id), mapping={"status": JobStatus.QUEUED, "reprint": 1, "last_error": problem,
                                                 "updated_at": time.time()})
            pipe.lrem(keys.rq_intermediate(printer), 0, job_id)
        for job_id in reversed(job_ids):
            enqueue(pipe, queue, job_id, at_front=True)
        pipe.execute()


def move_waiting(r: redis.Redis, source: str, target: str, current: str | None) -> int:
    """Failover: ``current`` (the job the source's worker holds, if any) and every job queued
    for ``source`` move, in order, to the end of ``target``'s queue, in one transaction."""
    target_queue = printers.queue(r, target)

    def move(pipe: redis.client.Pipeline) -> int:
        queued = [member.decode() for member in pipe.lrange(keys.rq_queue(source), 0, -1)]
        ids = [*([current] if current else []), *queued]
        if not ids:
            pipe.reset()
            return 0
        now = time.time()
        pipe.multi()
        for index, job_id in enumerate(ids):
            pipe.hset(keys.job(job_id), mapping={"printer": target, "moved_from": source, "updated_at": now,
                                                 "last_error": f"moved from {source}"})
            pipe.zrem(keys.printer_pending(source), job_id)
            pipe.zadd(keys.printer_pending(target), {job_id: now + index * 1e-6})
            pipe.lrem(keys.rq_intermediate(source), 0, job_id)
            pipe.lrem(keys.rq_queue(source), 0, job_id)
            enqueue(pipe, target_queue, job_id)
        pipe.execute()
        return len(ids)

    return transaction(r, [keys.rq_queue(source)], move)


def mark_printed(r: redis.Redis, job_id: str, printer: str, warning: str = "",
                 idle_worker: str | None = None) -> None:
    """The printer confirmed the job. ``idle_worker``: rq's hash of a worker that has nothing
    more in the printer's hands, to say "idle" in the same transaction."""
    with r.pipeline() as pipe:
        _finish(pipe, job_id, printer, JobStatus.PRINTED, printed_at=time.time(), last_error=warning)
        if idle_worker:
            pipe.hset(idle_worker, mapping={"state": "idle", "current_job": ""})
        pipe.execute()


def mark_failed(r: redis.Redis, job_id: str, printer: str, error: str) -> None:
    with r.pipeline() as pipe:
        _finish(pipe, job_id, printer, JobStatus.FAILED, last_error=error)
        pipe.execute()


def waiting(r: redis.Redis, printer: str) -> list[dict]:
    """The jobs a printer has still to print, oldest first (the one printing included)."""
    return [job for job in (_maybe(r, job_id) for job_id in pending_ids(r, printer)) if job]


def _maybe(r: redis.Redis, job_id: str) -> dict | None:
    raw = r.hgetall(keys.job(job_id))
    return view(raw) if raw else None


def payload(r: redis.Redis, job_id: str) -> bytes:
    """The bytes of a job (kept while the history remembers it)."""
    data = r.hget(keys.job(job_id), "payload")
    if data is None:
        raise NotFound(f"no job {job_id} with its bytes")
    return data


def duplicate(r: redis.Redis, job_id: str, by: dict | None = None) -> dict:
    """Print a job again, on the printer that printed it, marked DUPLICATA / COPY on paper so
    no one takes it for a new order; a new job (its own id, ``duplicate_of`` the first)."""
    fields = r.hmget(keys.job(job_id), "status", "device_id", "printer", "payload", "language")
    status, owner, printer, data, language = fields
    _may_handle(job_id, status, owner, by)
    if data is None:
        raise NotFound(f"no job {job_id} with its bytes")
    target = printers.get(r, printer.decode())
    language = (language or b"escpos").decode()
    marked = (star_render.duplicate_banner(language) if languages.family(language) == "star"
              else duplicate_banner(target.profile)) + data
    request = JobRequest.model_construct(id=uuid.uuid4(), printer=target.name, role=None, document=None, raw=marked,
                                         copies=1, drawer=False, raw_language=language)
    with r.pipeline() as pipe:
        pipe.multi()
        record = _store(r, pipe, str(request.id), request, target, by["device_id"] if by else None, marked, language)
        pipe.hset(keys.job(str(request.id)), "duplicate_of", job_id)
        _execute(pipe, str(request.id))
    return view({k.encode(): str(v).encode() for k, v in {**record, "duplicate_of": job_id}.items()})


def pending_ids(r: redis.Redis, printer: str) -> list[str]:
    return [member.decode() for member in r.zrange(keys.printer_pending(printer), 0, -1)]
