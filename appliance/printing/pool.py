"""The worker pool: one rq worker thread per printer, started, restarted and stopped as
printers come and go (``appliance printers add`` works while the box runs).

Threads, not processes: a printer's worker spends its life waiting on its printer or on
Redis, which holds nobody else back, and four forked Python processes cost a Raspberry Pi
3 some 35 MB more than four threads. A worker whose thread dies (Redis restarting, a bug)
is started again with a backoff; one that the pool's process takes down with it (kill -9,
power cut) puts its in-flight job back at the head of its queue when it starts again.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field

import redis

from appliance.config import Settings
from appliance.printing import history, printers, transports
from appliance.printing import worker as printer_worker
from appliance.runtime import sdnotify
from appliance.store import keys
from appliance.store.client import connect

log = logging.getLogger(__name__)

HEARTBEAT_TTL = 5
STOP_GRACE = 10.0
RESTART_BACKOFF_CAP = 30.0


@dataclass
class Running:
    thread: threading.Thread
    worker: printer_worker.PrinterWorker | None = None
    crashes: int = 0
    started_at: float = field(default_factory=time.monotonic)


class Pool:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.r = connect(settings)
        self.running: dict[str, Running] = {}
        self.retry_at: dict[str, tuple[int, float]] = {}  # name -> (crashes in a row, not before)
        self.stopping = False

    def _start(self, name: str, crashes: int) -> None:
        running = Running(threading.Thread(target=self._serve, args=(name,), name=f"printer-{name}", daemon=True),
                          crashes=crashes)
        self.running[name] = running
        running.thread.start()

    def _serve(self, name: str) -> None:
        def started(worker: printer_worker.PrinterWorker) -> None:
            self.running[name].worker = worker
            log.info("printer %s: worker started", name)

        try:
            printer_worker.run(connect(self.settings, socket_timeout=printer_worker.WORKER_TTL + 15), name, started)
        except Exception:
            if not self.stopping:
                log.exception("worker of printer %s stopped", name)

    def reconcile(self) -> None:
        """Make the running workers match the configured printers."""
        wanted = {config.name for config in printers.all_configs(self.r)}
        now = time.monotonic()
        for name, running in list(self.running.items()):
            if not running.thread.is_alive():
                del self.running[name]
                crashes = 1 if now - running.started_at > 60 else running.crashes + 1
                delay = min(0.5 * 2 ** (crashes - 1), RESTART_BACKOFF_CAP)
                self.retry_at[name] = (crashes, now + delay)
                if name in wanted:
                    log.warning("printer %s: worker stopped, restart in %.1f s", name, delay)
            elif name not in wanted and running.worker is not None:
                running.worker.request_stop_now()
        for name in sorted(wanted - set(self.running)):
            crashes, not_before = self.retry_at.get(name, (0, 0.0))
            if now >= not_before:
                self._start(name, crashes)
        alive = {name: "running" for name, r in self.running.items() if r.thread.is_alive()}
        self.r.set(keys.pool_heartbeat(), json.dumps({"pid": os.getpid(), "workers": alive}), ex=HEARTBEAT_TTL)

    def stop_workers(self) -> None:
        for running in self.running.values():
            if running.worker is not None:
                running.worker.request_stop_now()
        deadline = time.monotonic() + STOP_GRACE
        for running in self.running.values():
            running.thread.join(max(0.0, deadline - time.monotonic()))

    def run(self) -> None:
        signal.signal(signal.SIGTERM, self._request_stop)
        signal.signal(signal.SIGINT, self._request_stop)
        ready = False
        pubsub = None
        trimmed = 0.0
        while not self.stopping:
            try:
                if pubsub is None:
                    pubsub = self.r.pubsub(ignore_subscribe_messages=True)
                    pubsub.subscribe(keys.printers_changed())
                self.reconcile()
                if time.monotonic() - trimmed >= history.TRIM_EVERY:  # the owner's days of job history
                    history.trim(self.r)
                    trimmed = time.monotonic()
                if not ready:
                    sdnotify.notify("READY=1")
                    ready = True
                sdnotify.notify("WATCHDOG=1")
                pubsub.get_message(timeout=1.0)
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                log.warning("Redis unreachable (%s); retrying", exc)
                pubsub = None
                time.sleep(0.5)
        self.stop_workers()
        with contextlib.suppress(redis.RedisError):
            self.r.delete(keys.pool_heartbeat())

    def _request_stop(self, signum, frame) -> None:
        self.stopping = True


def run(settings: Settings) -> None:
    pool = Pool(settings)
    transports.load_all()
    # Threads here mostly wait; when one wakes with a job it must not wait out the default
    # 5 ms GIL switch interval behind another's status poll (it showed as p99 latency).
    sys.setswitchinterval(0.0005)
    pool.run()
