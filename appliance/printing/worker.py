"""The worker of one printer: an rq worker that sends that printer's jobs, one at a time, in
order, and only lets a job go once the printer has confirmed it.

Each printer has its own worker thread (see ``pool.py``); a printer's work is waiting on its
link, which never holds back another printer's thread, so a slow or broken printer never
delays another. The queue is consumed strictly FIFO: a job whose printer is offline, out of paper or
open stays at the head and is retried (backoff up to 30 s while the printer cannot be reached,
every 2 s while it answers but needs a person: paper, cover), for as long as it takes.

After a crash the worker rebuilds its queue from the printer's pending set before taking any
job: what rq left in its intermediate list or started/failed registries goes back to the head
of the queue, in acceptance order, and a job that was on the wire is marked REPRINT.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Literal

import redis
from rq import SimpleWorker
from rq.registry import FailedJobRegistry, StartedJobRegistry
from rq.utils import now
from rq.worker import WorkerStatus

from appliance import keys
from appliance.printing import jobs, printers
from appliance.printing import status as printer_status
from appliance.printing.render import compose
from appliance.printing.transports import Transport, TransportError

log = logging.getLogger(__name__)

PRE_CHECK_TIMEOUT = 3.0
# After the last byte, the answer to the status request comes once the printer has read
# everything before it: a long receipt on a slow printer takes a while.
CONFIRM_TIMEOUT = 30.0
BACKOFF_START, BACKOFF_CAP = 0.5, 30.0
NEEDS_A_PERSON_POLL = 2.0
IDLE_POLL = 10.0  # status refresh while no job runs
IDLE_CLOSE = 5.0  # a network printer's port is given back after this much idle time
HEARTBEAT_TTL = 15
WORKER_TTL = 20  # rq's: its dequeue blocks WORKER_TTL - 15 s at most
STATUS_REFRESH = 5.0


Outcome = Literal["done", "needs a person", "unreachable"]


class Stopping(Exception):
    """The worker was asked to stop while a job waited: the job stays pending and goes back to
    the head of the queue on the next start."""


class PrinterDriver:
    """Owns the link to one printer. The job thread and the idle status poller share it
    under one lock."""

    def __init__(self, r: redis.Redis, config: printers.PrinterConfig) -> None:
        self.r = r
        self.config = config
        self.link: Transport = config.transport()
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.last_used = 0.0
        self._shown: dict | None = None
        self._shown_at = 0.0

    # -- status ----------------------------------------------------------------------

    def _query(self, timeout: float) -> printer_status.PrinterStatus:
        """Open if needed and read the status; TransportError or StatusError when unreachable."""
        self.link.open()
        if not self.link.answers_status:
            return printer_status.PrinterStatus(True, "ok", False, False)
        try:
            return printer_status.query(self.link, timeout)
        except printer_status.StatusError:
            self.link.close()  # a stream out of step: start clean next time
            raise

    def _record(self, state: printer_status.PrinterStatus | None, problem: str | None = None) -> None:
        """Publish the status for tablets; written only when it changes (or every
        STATUS_REFRESH seconds, so its time stays fresh), not twice per job."""
        if state is None:
            shown = {"online": False, "ready": False, "paper": "unknown", "cover_open": False,
                     "error": False, "problem": problem or "unreachable"}
        else:
            shown = state.as_dict()
        if shown != self._shown or time.monotonic() - self._shown_at > STATUS_REFRESH:
            printers.record_status(self.r, self.config.name, shown)
            self._shown, self._shown_at = shown, time.monotonic()

    def _close_if_idle(self) -> None:
        """Give an idle connection back: the printer may have dropped it meanwhile, and a
        network printer's port is free for other software between jobs."""
        if self.link.is_open and time.monotonic() - self.last_used > IDLE_CLOSE:
            self.link.close()

    def poll_idle(self) -> None:
        """Refresh the status shown to tablets while no job runs."""
        if not self.lock.acquire(blocking=False):
            return
        try:
            self._close_if_idle()
            try:
                self._record(self._query(PRE_CHECK_TIMEOUT))
            except (TransportError, printer_status.StatusError) as exc:
                self._record(None, str(exc))
            finally:
                self._close_if_idle()
        finally:
            self.lock.release()

    # -- printing --------------------------------------------------------------------

    def _wait(self, seconds: float) -> None:
        if self.stop.wait(seconds):
            raise Stopping()

    def print(self, job_id: str) -> None:
        delay = BACKOFF_START
        while True:
            with self.lock:
                outcome = self._try(job_id)
            self.last_used = time.monotonic()
            if outcome == "done":
                return
            if outcome == "needs a person":
                self._wait(NEEDS_A_PERSON_POLL)
                delay = BACKOFF_START
            else:
                self._wait(delay)
                delay = min(delay * 2, BACKOFF_CAP)
            if jobs.status_of(self.r, job_id) in (*jobs.FINAL, None):
                return  # cancelled while it waited

    def _try(self, job_id: str) -> Outcome:
        """One attempt. The job's record tells tablets why it waits."""
        self._close_if_idle()
        try:
            state = self._query(PRE_CHECK_TIMEOUT)
        except (TransportError, printer_status.StatusError) as exc:
            self._record(None, str(exc))
            jobs.note_waiting(self.r, job_id, f"printer unreachable: {exc}")
            return "unreachable"
        self._record(state)
        if not state.ready:
            jobs.note_waiting(self.r, job_id, state.problem or "printer not ready")
            return "needs a person"

        attempt = jobs.begin_attempt(self.r, job_id)
        if attempt is None:
            return "done"  # cancelled meanwhile
        data = compose(attempt.payload, copies=attempt.copies, drawer=attempt.drawer,
                       reprint=attempt.reprint, profile=self.config.profile)
        try:
            self.link.write(data)
            after = printer_status.query(self.link, CONFIRM_TIMEOUT) if self.link.answers_status else state
        except (TransportError, printer_status.StatusError) as exc:
            self.link.close()
            problem = f"interrupted while printing: {exc}"
            jobs.back_to_queue(self.r, job_id, problem)
            self._record(None, problem)
            return "unreachable"
        self._record(after)
        # It answered after taking every byte: the job is the printer's now. Should the paper
        # have run out on the way, the printer finishes it once refilled; say so.
        jobs.mark_printed(self.r, job_id, self.config.name, warning=after.problem or "")
        return "done"


def print_job(job_id: str) -> None:
    """The function rq records for every print job. Comptoir's printer workers run the job
    themselves (PrinterWorker.execute_job); a stock rq worker pointed at a printer's queue
    must not take its jobs."""
    raise RuntimeError("print jobs run only in Comptoir's printer workers (appliance workers)")


def recover(r: redis.Redis, name: str) -> list[str]:
    """Put every pending job that is not in the queue back at its head, oldest first.

    Called before the worker takes its first job, when no other worker serves this printer,
    so whatever rq holds in its intermediate list or registries was left by a dead worker.
    """
    queue = printers.queue(r, name)
    queued = set(queue.get_job_ids())
    missing = [job_id for job_id in jobs.pending_ids(r, name) if job_id not in queued]
    started = StartedJobRegistry(queue=queue)
    failed = FailedJobRegistry(queue=queue)
    for job_id in reversed(missing):
        if jobs.status_of(r, job_id) == "printing":
            jobs.back_to_queue(r, job_id, "the box restarted while this job was printing")
        stale = [m for m in r.zrange(started.key, 0, -1) if m.decode().split(":")[0] == job_id]
        with r.pipeline() as pipe:
            pipe.multi()
            pipe.lrem(queue.intermediate_queue_key, 0, job_id)
            if stale:
                pipe.zrem(started.key, *stale)
            pipe.zrem(failed.key, job_id)
            jobs.enqueue(pipe, queue, job_id, at_front=True)
            pipe.execute()
    if missing:
        log.warning("printer %s: %d job(s) put back at the head of the queue after a restart",
                    name, len(missing))
    return missing


class PrinterWorker(SimpleWorker):
    """rq's in-process worker for one printer (no fork per job: a receipt must start printing
    within milliseconds), run on a thread of the pool process, without the per-job
    bookkeeping a print job does not need.

    Measured here, a stock SimpleWorker spends about 58 Redis commands, 15 of them fsync'd
    writes, on every job: 5.7 ms before the printer sees a byte. The job record
    (``keys.job``) is the durable state of a print job, so per job this worker only
    dequeues (BLMOVE into rq's intermediate list, as rq does) and, once the job is done with,
    drops rq's copy and its intermediate entry in one transaction. rq's started/failed
    registries are not used; after a crash, ``recover`` rebuilds the queue from the printer's
    pending set instead of waiting for rq's cleanup to declare the job abandoned.
    """

    heartbeat_every = 30.0

    def __init__(self, driver: PrinterDriver) -> None:
        name = driver.config.name
        # A short dequeue block (worker_ttl - 15 s) so a stop request is seen within seconds.
        super().__init__([printers.queue(driver.r, name)], connection=driver.r, worker_ttl=WORKER_TTL,
                         name=f"{keys.printer_queue(name)}.{os.getpid()}.{threading.get_ident()}")
        self.driver = driver

    def _install_signal_handlers(self) -> None:
        pass  # a thread: the pool process takes the signals and stops its workers

    def heartbeat(self, timeout: int | None = None, pipeline=None) -> None:
        elapsed = (now() - self.last_heartbeat).total_seconds() if self.last_heartbeat else None
        if pipeline is None and elapsed is not None and elapsed < self.heartbeat_every:
            return
        super().heartbeat(timeout, pipeline)

    def set_state(self, state: str, pipeline=None) -> None:
        if state in (WorkerStatus.BUSY, WorkerStatus.IDLE) and pipeline is None:
            self._state = state  # flips twice per job: kept in memory
            return
        super().set_state(state, pipeline)

    def run_maintenance_tasks(self) -> None:
        # rq's registry cleaning would declare a job that waits an hour for paper "stuck in
        # the intermediate queue" and fail it; recover() does this job's share at start.
        self.last_cleaned_at = now()

    def execute_job(self, job, queue) -> None:
        self.set_state(WorkerStatus.BUSY)
        try:
            self._run(job.id)
        except Stopping:
            # Left in rq's intermediate list and the pending set: first in line next start.
            self._stop_requested = True
            return
        finally:
            self.set_state(WorkerStatus.IDLE)
        with self.connection.pipeline() as pipe:
            pipe.lrem(queue.intermediate_queue_key, 1, job.id)
            pipe.delete(job.key)
            pipe.execute()

    def _run(self, job_id: str) -> None:
        try:
            self.driver.print(job_id)
        except (Stopping, redis.RedisError):
            raise
        except Exception as exc:  # a bug: record it and let the queue move on
            log.exception("job %s failed", job_id)
            jobs.mark_failed(self.driver.r, job_id, self.driver.config.name, f"internal error: {exc!r}")

    def request_stop_now(self) -> None:
        """Stop after the current job, or at once if the job only waits for its printer."""
        self.driver.stop.set()
        self._stop_requested = True


def _background(driver: PrinterDriver, worker: PrinterWorker, worker_key: str) -> None:
    """Heartbeats (ours for /healthz, rq's for `rq info`, kept while a job waits for paper)
    and idle status polls, on a thread beside the worker's."""
    last_poll = 0.0
    while not driver.stop.is_set():
        try:
            driver.r.set(worker_key, json.dumps({"pid": os.getpid(), "worker": worker.name}), ex=HEARTBEAT_TTL)
            if worker.last_heartbeat is not None:  # rq has registered it
                worker.heartbeat()
            if time.monotonic() - last_poll >= IDLE_POLL:
                driver.poll_idle()
                last_poll = time.monotonic()
        except redis.RedisError:
            log.warning("printer %s: Redis unreachable", driver.config.name)
        driver.stop.wait(1.0)


def run(r: redis.Redis, name: str, started: Callable[[PrinterWorker], None] = lambda worker: None) -> None:
    """Serve one printer until asked to stop, or until Redis goes away (the pool restarts it).
    ``r`` is this printer's own client, with a socket timeout above rq's dequeue block."""
    config = printers.get(r, name)
    driver = PrinterDriver(r, config)
    worker = PrinterWorker(driver)
    recover(r, name)
    started(worker)
    thread = threading.Thread(target=_background, args=(driver, worker, keys.printer_worker(name)),
                              daemon=True, name=f"status-{name}")
    thread.start()
    try:
        worker.work(logging_level="WARNING", with_scheduler=False)
    finally:
        driver.stop.set()
        with driver.lock:
            driver.link.close()
        thread.join(5)
        with contextlib.suppress(redis.RedisError):
            r.delete(keys.printer_worker(name))
