"""What a tablet reads: changes after its cursor (waiting for them if asked), or a snapshot
when it has no cursor or the log no longer reaches back to it. Shared by long polling and
Server-Sent Events, so both tell the same story."""

from __future__ import annotations

import redis

from appliance import keys
from appliance.sync import broadcast, log

MAX_WAIT = 30.0


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
