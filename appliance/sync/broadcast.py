"""Fan-out of the log to the tablets connected to one web process.

One thread per process blocks on the log (XREAD) and keeps the newest entries in memory;
every SSE stream and long poll of that process waits on one event instead of holding a
Redis connection of its own. 50 tablets cost one blocked Redis client, and a change reaches
all of them as soon as Redis hands it to that thread.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque

import redis

from appliance.store import keys
from appliance.sync import log

logger = logging.getLogger(__name__)

BUFFER = 5000


class Broadcaster:
    def __init__(self, r: redis.Redis) -> None:
        # Its own client: the XREAD blocks, and must not share a socket timeout meant for requests.
        kwargs = dict(r.connection_pool.connection_kwargs)
        kwargs["socket_timeout"] = None
        self.r = redis.Redis(connection_pool=redis.ConnectionPool(
            connection_class=r.connection_pool.connection_class, **kwargs))
        self.entries: deque[dict] = deque(maxlen=BUFFER)
        # Set (and replaced) when new entries arrive: one flag every waiting stream watches,
        # cheaper than a condition's lock per waiter when 500 streams wait.
        self.lock = threading.Lock()
        self.arrived = threading.Event()
        self.head = (0, 0)  # the newest cursor seen
        self.since = log.last_cursor(self.r)  # entries after this one are in memory
        self.thread = threading.Thread(target=self._run, daemon=True, name="sync-broadcast")
        self.thread.start()

    def _run(self) -> None:
        cursor = self.since
        while True:
            try:
                found = self.r.xread({keys.sync_log(): cursor}, block=5000, count=500)
            except redis.RedisError as exc:
                logger.warning("sync log unreadable (%s); retrying", exc)
                time.sleep(0.5)
                continue
            if not found:
                continue
            changes = [log.decode(entry_id, fields) for entry_id, fields in found[0][1]]
            with self.lock:
                self.entries.extend(changes)
                if len(self.entries) == BUFFER:
                    self.since = self.entries[0]["cursor"]
                cursor = changes[-1]["cursor"]
                self.head = log.parse_cursor(cursor)
                arrived, self.arrived = self.arrived, threading.Event()
            arrived.set()

    def after(self, cursor: str, timeout: float) -> list[dict] | None:
        """Changes after ``cursor``, waiting up to ``timeout`` s for one. None: not in memory
        (the caller reads the log in Redis)."""
        position = log.parse_cursor(cursor)
        with self.lock:
            if position < log.parse_cursor(self.since):
                return None
            arrived = self.arrived
            waiting = self.head <= position
        if waiting:
            arrived.wait(timeout)
        with self.lock:
            newer = []
            for change in reversed(self.entries):  # the newest few, not the whole buffer
                if log.parse_cursor(change["cursor"]) <= position:
                    break
                newer.append(change)
            return newer[::-1]


_instance: tuple[int, Broadcaster] | None = None
_lock = threading.Lock()


def get(r: redis.Redis) -> Broadcaster:
    """This process's broadcaster, started on first use (after gunicorn forked the worker)."""
    global _instance
    with _lock:
        if _instance is None or _instance[0] != os.getpid():
            _instance = (os.getpid(), Broadcaster(r))
        return _instance[1]
