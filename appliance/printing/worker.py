"""The worker of one printer: an rq worker that takes that printer's jobs in order and hands
them to its driver (``driver.py``), which lets a job go only once the printer confirmed it.

Each printer has its own worker thread (see ``pool.py``); a printer's work is waiting on its
link, which never holds back another printer's thread, so a slow or broken printer never
delays another. The queue is consumed strictly FIFO: a job whose printer is offline, out of
paper or open stays at the head and is retried (backoff up to 30 s while the printer cannot
be reached, every 2 s while it answers but needs a person: paper, cover) until the printer
prints it or its stand-in takes over.

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
import uuid
from collections.abc import Callable

import redis
from rq import Queue, SimpleWorker
from rq.exceptions import DequeueTimeout
from rq.job import Job
from rq.registry import FailedJobRegistry, StartedJobRegistry
from rq.utils import as_text, now
from rq.worker import WorkerStatus

from appliance.printing import jobs, printers
from appliance.printing.driver import PrinterDriver, Stopping
from appliance.printing.polled import PolledDriver, is_polled
from appliance.store import keys

log = logging.getLogger(__name__)

HEARTBEAT_TTL = 15
WORKER_TTL = 20  # rq's worker key lives this long (+ 60 s) without a heartbeat
IDLE_POLL = 10.0  # status refresh while no job runs
STOP_GRACE = 5.0  # answers still collected for the jobs the printer holds when asked to stop
STOP_POLL = 2  # seconds a dequeue blocks before the worker looks whether it must stop
SUSPENSION_EVERY = 1.0  # seconds between two looks at `rq suspend`


def print_job(job_id: str) -> None:
    """The function rq records for every print job. Comptoir's printer workers run the job
    themselves (PrinterWorker.execute_job); a stock rq worker pointed at a printer's queue
    must not take its jobs."""
    raise RuntimeError("print jobs run only in Comptoir's printer workers (appliance workers)")


def recover(r: redis.Redis, name: str) -> list[str]:
    """Put every pending job that is not in the queue back at its head, oldest first, and
    drop what rq holds for jobs that are no longer pending.

    Called before the worker takes its first job, when no other worker serves this printer,
    so whatever rq holds in its intermediate list or registries was left by a dead worker.
    """
    queue = printers.queue(r, name)
    queued = set(queue.get_job_ids())
    pending = jobs.pending_ids(r, name)
    missing = [job_id for job_id in pending if job_id not in queued]
    started = StartedJobRegistry(queue=queue)
    failed = FailedJobRegistry(queue=queue)
    held = [member.decode() for member in r.lrange(keys.rq_intermediate(name), 0, -1)]
    with r.pipeline() as pipe:
        for job_id in set(held) - set(pending):  # ended, but rq's share was left behind
            pipe.lrem(keys.rq_intermediate(name), 0, job_id)
            pipe.delete(keys.rq_job(job_id))
        pipe.execute()
    for job_id in reversed(missing):
        was_printing = jobs.status_of(r, job_id) == jobs.JobStatus.PRINTING
        stale = [m for m in r.zrange(started.key, 0, -1) if m.decode().split(":")[0] == job_id]
        with r.pipeline() as pipe:
            if stale:
                pipe.zrem(started.key, *stale)
            pipe.zrem(failed.key, job_id)
            pipe.execute()
        if was_printing:
            jobs.requeue(r, name, [job_id], "the box restarted while this job was printing")
        else:
            with r.pipeline() as pipe:
                pipe.multi()  # rq's enqueue asks for MULTI itself unless it is already there
                pipe.lrem(keys.rq_intermediate(name), 0, job_id)
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
    dequeues (BLMOVE into rq's intermediate list, as rq does, without reading rq's job back),
    asks about `rq suspend` once a second rather than before each job; the job's first attempt says
    "started" on rq's job and "busy" on this worker, and the transaction that ends the job
    drops rq's copy and its intermediate entry (and says "idle" when the printer holds
    nothing more). rq's started/failed registries are not used; after a crash, ``recover``
    rebuilds the queue from the printer's pending set instead of waiting for rq's cleanup to
    declare the job abandoned.
    """

    heartbeat_every = 30.0

    def __init__(self, driver: PrinterDriver | PolledDriver) -> None:
        name = driver.config.name
        # A name of its own at every start: the previous worker's key may outlive it (kill -9,
        # Redis restarted) and rq refuses a name that looks alive.
        super().__init__([printers.queue(driver.r, name)], connection=driver.r, worker_ttl=WORKER_TTL,
                         name=f"{keys.printer_queue(name)}.{os.getpid()}.{uuid.uuid4().hex[:8]}")
        self.driver = driver
        driver.worker_key = self.key
        self._suspension_asked = 0.0

    def _install_signal_handlers(self) -> None:
        pass  # a thread: the pool process takes the signals and stops its workers

    def heartbeat(self, timeout: int | None = None, pipeline=None) -> None:
        elapsed = (now() - self.last_heartbeat).total_seconds() if self.last_heartbeat else None
        if pipeline is None and elapsed is not None and elapsed < self.heartbeat_every:
            return
        super().heartbeat(timeout, pipeline)

    def register_birth(self) -> None:
        super().register_birth()
        super().set_state(WorkerStatus.IDLE)

    def set_state(self, state: str, pipeline=None) -> None:
        if state in (WorkerStatus.BUSY, WorkerStatus.IDLE) and pipeline is None:
            # rq flips these around every dequeue; the job transactions write the true one.
            self._state = state
            return
        super().set_state(state, pipeline)

    def dequeue_job_and_maintain_ttl(self, timeout: int | None, max_idle_time: int | None = None):
        """rq's dequeue (BLMOVE into its intermediate list, as rq does), in short blocks, so a
        stop request is seen within STOP_POLL seconds (rq's own loop waits for the next job,
        however long that takes); without reading rq's job hash back, which rq does and a
        print job does not need: its id is all, the job's record holds the rest and the
        attempt reads it (one round trip less before the printer's first byte)."""
        [queue] = self.queues
        while not self._stop_requested:
            try:
                self.heartbeat()
                found = Queue.lmove(self.connection, queue.key, STOP_POLL)
            except DequeueTimeout:
                continue
            except redis.ConnectionError as exc:  # Redis restarting: rq's loop waits as well
                log.warning("printer %s: Redis unreachable (%s)", self.driver.config.name, exc)
                self.driver.stop.wait(1.0)
                continue
            return Job(as_text(found[1]), connection=self.connection), queue
        return None

    def check_for_suspension(self, burst: bool) -> None:
        """rq asks Redis whether workers are suspended (`rq suspend`) before every job, and
        writes a heartbeat with the question: a write to the card per receipt. Asked once a
        second here, which is as soon as an owner typing the command would notice."""
        if time.monotonic() - self._suspension_asked >= SUSPENSION_EVERY:
            self._suspension_asked = time.monotonic()
            super().check_for_suspension(burst)

    def run_maintenance_tasks(self) -> None:
        # rq's registry cleaning would declare a job that waits an hour for paper "stuck in
        # the intermediate queue" and fail it; recover() does this job's share at start.
        self.last_cleaned_at = now()

    def execute_job(self, job, queue) -> None:
        try:
            self._run(job.id, lambda: self.connection.llen(queue.key) > 0)
        except Stopping:
            # Left in rq's intermediate list and the pending set: first in line next start.
            self._stop_requested = True

    def _run(self, job_id: str, queued: Callable[[], bool]) -> None:
        try:
            self.driver.print(job_id, queued)
        except (Stopping, redis.RedisError):
            raise
        except Exception as exc:  # a bug: record it and let the queue move on
            log.exception("job %s failed", job_id)
            jobs.mark_failed(self.driver.r, job_id, self.driver.config.name, f"internal error: {exc!r}")

    def request_stop_now(self) -> None:
        """Stop after the current job, or at once if the job only waits for its printer."""
        self.driver.stop.set()
        self._stop_requested = True


def _background(driver: PrinterDriver | PolledDriver, worker: PrinterWorker, worker_key: str) -> None:
    """Heartbeats (ours for /healthz, rq's for `rq info`, kept while a job waits for paper)
    and status readings, on a thread beside the worker's: every IDLE_POLL seconds, and at
    once when an app's status question wants a fresh one (printers.want_reading)."""
    last_poll = 0.0
    wanted = keys.printer_reading_wanted(driver.config.name)
    asked = False
    while not driver.stop.is_set():
        try:
            driver.r.set(worker_key, json.dumps({"pid": os.getpid(), "worker": worker.name}), ex=HEARTBEAT_TTL)
            if worker.last_heartbeat is not None:  # rq has registered it
                worker.heartbeat()
            if asked or time.monotonic() - last_poll >= IDLE_POLL:
                driver.poll_idle(fresh=asked)
                last_poll = time.monotonic()
            # Waiting for the next question is the second's pause; the questions asked
            # meanwhile are answered by one reading.
            asked = driver.r.blpop([wanted], timeout=1) is not None
            if asked:
                driver.r.delete(wanted)
        except redis.RedisError:
            log.warning("printer %s: Redis unreachable", driver.config.name)
            driver.stop.wait(1.0)


def run(r: redis.Redis, name: str, started: Callable[[PrinterWorker], None] = lambda worker: None,
        driver: PrinterDriver | PolledDriver | None = None) -> None:
    """Serve one printer until asked to stop, or until Redis goes away (the pool restarts it).
    ``r`` is this printer's own client, with a socket timeout above rq's dequeue block.
    ``driver``: one made by the caller (a link through a stand-in socket, in tests)."""
    config = printers.get(r, name)
    if driver is None:
        driver = PolledDriver(r, config) if is_polled(config.uri) else PrinterDriver(r, config)
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
        driver.finish(STOP_GRACE)
        thread.join(5)
        with contextlib.suppress(redis.RedisError):
            r.delete(keys.printer_worker(name))
