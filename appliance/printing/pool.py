"""The worker pool: one process per printer, started, restarted and stopped as printers come
and go (``appliance printers add`` works while the box runs).

Workers are forked from this process, which has already imported rq, python-escpos and
Pillow, so a new printer's worker starts in milliseconds and shares those pages.
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import os
import signal
import time

import redis

from appliance import keys, sdnotify
from appliance.config import Settings
from appliance.printing import jobs, printers, transports
from appliance.printing import worker as printer_worker
from appliance.printing.request import JobRequest
from appliance.printing.testpage import test_page
from appliance.redis_server import connect

log = logging.getLogger(__name__)

HEARTBEAT_TTL = 5
STOP_GRACE = 10.0
RESTART_BACKOFF_CAP = 30.0


EMULATED = "emulated"


def ensure_emulated_printer(settings: Settings, r: redis.Redis) -> None:
    """With no printer configured, add the emulated one, so a fresh box prints somewhere,
    and queue a test page on it, so the newcomer sees a receipt right away."""
    if printers.all_configs(r):
        return
    uri = f"file://{settings.receipts_dir}/"
    printers.add(r, printers.validate(EMULATED, uri, ["receipt", "kitchen", "bar"]))
    jobs.submit(r, JobRequest.model_validate({"printer": EMULATED, "document": test_page("Comptoir", EMULATED)}))


class Pool:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.r = connect(settings)
        self.children: dict[str, int] = {}
        self.failures: dict[str, tuple[int, float]] = {}  # name -> (crashes in a row, retry at)
        self.stopping = False

    def _fork(self, name: str) -> None:
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                printer_worker.run(connect(self.settings), name)
                code = 0
            except BaseException:
                log.exception("worker of printer %s stopped", name)
            finally:
                logging.shutdown()
                os._exit(code)
        self.children[name] = pid
        log.info("printer %s: worker %d started", name, pid)

    def _reap(self) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            for name, child in list(self.children.items()):
                if child == pid:
                    del self.children[name]
                    crashes = self.failures.get(name, (0, 0.0))[0] + 1
                    delay = min(0.5 * 2 ** (crashes - 1), RESTART_BACKOFF_CAP)
                    self.failures[name] = (crashes, time.monotonic() + delay)
                    if not self.stopping:
                        log.warning("printer %s: worker %d exited (%s), restart in %.1f s",
                                    name, pid, status, delay)

    def reconcile(self) -> None:
        """Make the running workers match the configured printers."""
        self._reap()
        wanted = {config.name for config in printers.all_configs(self.r)}
        for name in set(self.children) - wanted:
            os.kill(self.children[name], signal.SIGTERM)
        for name in sorted(wanted - set(self.children)):
            _, retry_at = self.failures.get(name, (0, 0.0))
            if time.monotonic() >= retry_at:
                self._fork(name)
        for name, (_, retry_at) in list(self.failures.items()):
            # A worker that has run a while since its last crash starts a fresh backoff.
            if name in self.children and time.monotonic() - retry_at > 60:
                del self.failures[name]
        self.r.set(keys.pool_heartbeat(), json.dumps({"pid": os.getpid(), "workers": self.children}),
                   ex=HEARTBEAT_TTL)

    def stop_children(self) -> None:
        for pid in self.children.values():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE
        while self.children and time.monotonic() < deadline:
            self._reap()
            time.sleep(0.02)
        for pid in self.children.values():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def run(self) -> None:
        signal.signal(signal.SIGTERM, self._request_stop)
        signal.signal(signal.SIGINT, self._request_stop)
        ready = False
        pubsub = None
        while not self.stopping:
            try:
                if pubsub is None:
                    pubsub = self.r.pubsub(ignore_subscribe_messages=True)
                    pubsub.subscribe(keys.printers_changed())
                self.reconcile()
                if not ready:
                    sdnotify.notify("READY=1")
                    ready = True
                sdnotify.notify("WATCHDOG=1")
                pubsub.get_message(timeout=1.0)
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                log.warning("Redis unreachable (%s); retrying", exc)
                pubsub = None
                self._reap()
                time.sleep(0.5)
        self.stop_children()
        with contextlib.suppress(redis.RedisError):
            self.r.delete(keys.pool_heartbeat())

    def _request_stop(self, signum, frame) -> None:
        self.stopping = True


def run(settings: Settings, emulated_printer: bool = False) -> None:
    pool = Pool(settings)
    if emulated_printer:
        ensure_emulated_printer(settings, pool.r)
    # Objects made so far are shared with the forked workers; frozen, the garbage
    # collector leaves them alone and their pages stay shared instead of being copied.
    transports.load_all()
    gc.collect()
    gc.freeze()
    pool.run()
