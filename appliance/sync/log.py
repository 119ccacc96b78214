"""The ordered log of changes (one Redis stream) and what tablets read from it.

Every change is an entity's new state: ``{"kind": "ticket", "id": "t1", "data": {...}}``
(``data`` null when it is gone). Applying the entries in log order, replacing each entity,
gives every tablet the box's state. Entry ids are the cursors tablets keep, the SSE event ids.
The log keeps the last MAX_ENTRIES changes; a tablet further behind gets a snapshot instead.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

import redis

from appliance import settings
from appliance.errors import NotFound
from appliance.store import keys
from appliance.store.client import decode_hash

MAX_ENTRIES = 20_000
KINDS_IN_SNAPSHOT = ("ticket", "kitchen", "customer", "stock", "product")
VISIBILITY_SETTING = settings.SETTINGS["visibility"]
VISIBILITY = VISIBILITY_SETTING.choices  # all, own, role


@dataclass(frozen=True)
class Viewer:
    """Who reads: the tablet, and the staff member and role using it now."""

    device_id: str
    staff: str = ""
    role: str = ""


ENDED = ("paid", "transferred", "served")


def is_live(kind: str, data: dict | None) -> bool:
    """Whether tablets keep showing the entity (and snapshots hold it): a paid ticket or a
    served kitchen ticket is history. Every change says so in its ``live`` field."""
    return kind in KINDS_IN_SNAPSHOT and data is not None and data.get("status", "open") not in ENDED


def append(pipe: redis.client.Pipeline, kind: str, entity_id: str, data: dict | None, device_id: str = "",
           mutation: str = "", encoded: str | None = None) -> None:
    """Add a change to the log, inside the caller's transaction (MULTI): the change and its
    log entry are written together or not at all. ``encoded``: ``data`` as JSON already."""
    if encoded is None and data is not None:
        encoded = json.dumps(data)
    pipe.xadd(keys.sync_log(), {"kind": kind, "id": entity_id, "data": encoded or "",
                                "live": int(is_live(kind, data)), "device": device_id, "mutation": mutation},
              maxlen=MAX_ENTRIES, approximate=True)


def decode(entry_id: bytes | str, fields: dict[bytes, bytes]) -> dict:
    data = fields.get(b"data", b"")
    return {"cursor": entry_id.decode() if isinstance(entry_id, bytes) else entry_id,
            "kind": fields[b"kind"].decode(), "id": fields[b"id"].decode(),
            "data": json.loads(data) if data else None, "live": fields.get(b"live") == b"1",
            "device": fields.get(b"device", b"").decode(), "mutation": fields.get(b"mutation", b"").decode()}


def parse_cursor(cursor: str) -> tuple[int, int]:
    """A stream id "1700000000000-3" as a comparable pair; ValueError when it is not one."""
    ms, _, seq = cursor.partition("-")
    return int(ms), int(seq or 0)


def visible(change: dict, viewer: Viewer, mode: str) -> bool:
    """Parked receipts: own tickets only, all, or those of the same role. Default tickets
    (the shop's tables) and everything else are seen by all, but ``device`` changes: those
    are the box's own signals (a revoked tablet), shown to nobody."""
    if change["kind"] == "device":
        return False
    if change["kind"] != "ticket" or mode == "all" or change["data"] is None:
        return True
    ticket = change["data"]
    owner = ticket.get("owner")
    if ticket.get("default") or owner is None:
        return True
    if mode == "own":
        return owner["device_id"] == viewer.device_id or (bool(viewer.staff) and owner["staff"] == viewer.staff)
    return owner["role"] == viewer.role


def visibility(r: redis.Redis) -> str:
    return settings.get(r, "visibility")


def last_cursor(r: redis.Redis) -> str:
    last = r.xrevrange(keys.sync_log(), count=1)
    return last[0][0].decode() if last else "0-0"


def read(r: redis.Redis, cursor: str, count: int = 1000) -> list[dict] | None:
    """Changes after ``cursor``; None when the log no longer holds what follows it."""
    first = r.xrange(keys.sync_log(), count=1)
    if first and parse_cursor(cursor) < parse_cursor(first[0][0].decode()):
        return None  # entries after the cursor may have been trimmed: the tablet needs a snapshot
    entries = r.xrange(keys.sync_log(), min=f"({cursor}", count=count)
    return [decode(entry_id, fields) for entry_id, fields in entries]


def entity_for(r: redis.Redis, kind: str, entity_id: str, viewer: Viewer) -> dict:
    """One entity, if it exists and ``viewer`` may see it (the same rule as the feeds)."""
    value = r.get(keys.entity(kind, entity_id))
    data = json.loads(value) if value is not None else None
    if data is None or not visible({"kind": kind, "data": data}, viewer, visibility(r)):
        raise NotFound(f"no {kind} {entity_id}")
    return data


def filtered(changes: Iterable[dict], viewer: Viewer, mode: str) -> list[dict]:
    return [change for change in changes if visible(change, viewer, mode)]


def snapshot(r: redis.Redis, viewer: Viewer, kinds: tuple[str, ...] = KINDS_IN_SNAPSHOT) -> dict:
    """Everything a tablet shows (or only ``kinds`` of it), and the cursor it is valid at,
    read in one transaction so no change slips between the state and the cursor."""
    with r.pipeline() as pipe:
        pipe.xrevrange(keys.sync_log(), count=1)
        for kind in kinds:
            pipe.smembers(keys.entities(kind))
        pipe.hget(keys.shop_settings(), VISIBILITY_SETTING.name)
        pipe.hgetall(keys.register())
        last, *members, mode, register = pipe.execute()
    cursor = last[0][0].decode() if last else "0-0"
    ids = {kind: sorted(m.decode() for m in found) for kind, found in zip(kinds, members, strict=True)}
    # Entities may have moved on since the cursor was read: that is fine, the changes after
    # the cursor (which the tablet reads next) carry them again.
    wanted = [(kind, entity_id) for kind, entity_ids in ids.items() for entity_id in entity_ids]
    values = r.mget([keys.entity(kind, entity_id) for kind, entity_id in wanted]) if wanted else []
    state: dict[str, list[dict]] = {kind: [] for kind in kinds}
    mode_name = VISIBILITY_SETTING.loaded(mode)
    for (kind, entity_id), value in zip(wanted, values, strict=True):
        if value is None:
            continue
        data = json.loads(value)
        if visible({"kind": kind, "id": entity_id, "data": data}, viewer, mode_name):
            state[kind].append(data)
    return {"cursor": cursor, "state": state, "visibility": mode_name,
            "register": decode_hash(register) or {"state": "closed"}}
