"""What a tablet reads: changes after its cursor (waiting for them if asked), or a snapshot
when it has no cursor or the log no longer reaches back to it. Shared by long polling and
Server-Sent Events, so both tell the same story."""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator

import redis

from appliance.store import keys
from appliance.sync import broadcast, log

MAX_WAIT = 30.0
WAKE = 1.0  # an event stream looks this often whether its tablet is still there
REREAD = 30.0  # who reads and the visibility rule, read again at the latest after this long
KEEPALIVE = 15.0  # a comment line after this much silence keeps proxies and Wi-Fi from idling out
_ENCODED: OrderedDict[str, str] = OrderedDict()  # the last changes as SSE text: encoded once, sent to many
# Snapshots are the one big thing a stream makes: after a restart every tablet asks at once.
# A few are built at a time, and one that every tablet sees alike (visibility "all") is built
# once per cursor and shared.
_SNAPSHOTS_AT_ONCE = threading.BoundedSemaphore(4)
_shared_snapshot: tuple[str, str] = ("", "")  # (cursor, SSE text)


def changes_after(r: redis.Redis, cursor: str, wait: float) -> list[dict] | None:
    """Changes after ``cursor`` (all kinds, unfiltered); None when a snapshot is needed."""
    found = broadcast.get(r).after(cursor, min(wait, MAX_WAIT))
    if found is None:
        found = log.read(r, cursor)
    return found


def pull(r: redis.Redis, viewer: log.Viewer, cursor: str | None, wait: float) -> dict:
    applied = int(r.get(keys.sync_applied(viewer.device_id)) or 0)
    if cursor:
        try:
            log.parse_cursor(cursor)
        except ValueError:
            cursor = None
    found = changes_after(r, cursor, wait) if cursor else None
    if found is None:
        return {**log.snapshot(r, viewer), "snapshot": True, "last_mutation_id": applied}
    mode = log.visibility(r)
    next_cursor = found[-1]["cursor"] if found else cursor
    return {"snapshot": False, "changes": log.filtered(found, viewer, mode), "cursor": next_cursor,
            "last_mutation_id": applied}


def _event(name: str, cursor: str, data: dict) -> str:
    return f"id: {cursor}\nevent: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def _change_event(change: dict) -> str:
    text = _ENCODED.get(change["cursor"])
    if text is None:
        text = _ENCODED[change["cursor"]] = _event("change", change["cursor"], change)
        if len(_ENCODED) > broadcast.BUFFER:
            _ENCODED.popitem(last=False)
    return text


def _snapshot_event(r: redis.Redis, viewer: log.Viewer, mode: str) -> tuple[str, str]:
    """(cursor, the SSE ``snapshot`` event) for ``viewer``."""
    global _shared_snapshot
    with _SNAPSHOTS_AT_ONCE:
        if mode == "all" and _shared_snapshot[0] == log.last_cursor(r):
            return _shared_snapshot
        state = log.snapshot(r, viewer)
        made = (state["cursor"], _event("snapshot", state["cursor"], state))
        if state["visibility"] == "all":  # what it was built with, not what the stream last read
            _shared_snapshot = made
        return made


def events(r: redis.Redis, viewer: Callable[[], log.Viewer], cursor: str | None,
           gone: Callable[[], bool]) -> Iterator[str]:
    """Server-Sent Events: one ``change`` event per change, its id the cursor. A tablet that
    reconnects with Last-Event-ID resumes right after it; without one, or too far behind, it
    first gets a ``snapshot`` event.

    The stream ends within WAKE seconds of its tablet going away (``gone``), and as soon as
    the tablet's token is revoked (the revocation is a change in the log). Who reads
    (``viewer``) and the shop's visibility rule are read again when the log says they changed
    (a change of hands on the tablet, a new setting), and every REREAD seconds anyway: no
    Redis call per stream while nothing happens, which is what lets 500 streams share a Pi."""
    yield "retry: 1000\n\n"
    seen_by, mode, read_at = viewer(), log.visibility(r), time.monotonic()
    said_at = time.monotonic()
    while True:
        found = changes_after(r, cursor, WAKE) if cursor else None
        if found is None:
            cursor, text = _snapshot_event(r, seen_by, mode)
            yield text
            continue
        mine = [c for c in found if c["id"] == seen_by.device_id and c["kind"] in ("device", "session")]
        if any(c["kind"] == "device" for c in mine):
            return  # revoked
        if mine or any(c["kind"] == "settings" for c in found) or time.monotonic() - read_at > REREAD:
            seen_by, mode, read_at = viewer(), log.visibility(r), time.monotonic()
        shown = [_change_event(change) for change in found if log.visible(change, seen_by, mode)]
        if found:
            cursor = found[-1]["cursor"]
        if shown:
            yield "".join(shown)
            said_at = time.monotonic()
        elif gone():
            return
        elif time.monotonic() - said_at >= KEEPALIVE:
            yield ": keepalive\n\n"
            said_at = time.monotonic()
