"""The register (cash session) and the tablets' selling sessions.

The register opens and closes only through the box (a manager's tablet, later the setup
page). A tablet starts a session to sell and closes it once the box has all its mutations.
Closing the register is refused while any tablet's session is open, and produces the
immutable closing (Z) report, sent to the back office like any other record. A manager may
force-close a tablet's session: the box then refuses that tablet's pushes from the old
session (410), and what it had not synced is lost; it says so.
"""

from __future__ import annotations

import json
import time
import uuid

import redis
from pydantic import BaseModel, ConfigDict, Field

from appliance.access import devices
from appliance.errors import Conflict, NoSession, NotFound, SessionGone
from appliance.store import keys
from appliance.store.client import decode_hash, transaction
from appliance.sync import log, mutations


class StartRequest(BaseModel):
    """POST /api/v1/sessions: who uses the tablet (optional; a push may say it later)."""

    model_config = ConfigDict(extra="forbid")
    staff: str = Field(default="", max_length=64)
    role: str = Field(default="", max_length=64)


class CloseRequest(BaseModel):
    """DELETE /api/v1/sessions/current: the id of the tablet's last mutation."""

    model_config = ConfigDict(extra="forbid")
    last_mutation_id: int = Field(default=0, ge=0, strict=True)


def register_state(r: redis.Redis) -> dict:
    state = decode_hash(r.hgetall(keys.register()))
    return state or {"state": "closed", "number": "0"}


def _session(r: redis.Redis | redis.client.Pipeline, device_id: str) -> dict:
    return decode_hash(r.hgetall(keys.session(device_id)))


def open_sessions(r: redis.Redis) -> list[dict]:
    found = []
    for device in devices.list_all(r):
        session = _session(r, device["device_id"])
        if session.get("state") == "open":
            found.append({"device_id": device["device_id"], "name": device["name"], "session": session["id"]})
    return found


def open_register(r: redis.Redis, manager: dict) -> dict:
    def body(pipe: redis.client.Pipeline) -> dict:
        current = decode_hash(pipe.hgetall(keys.register()))
        if current.get("state") == "open":
            raise Conflict(f"the register is open already (number {current['number']})")
        number = int(current.get("number", 0)) + 1
        state = {"state": "open", "number": number, "opened_at": time.time(), "opened_by": manager["device_id"]}
        pipe.multi()
        pipe.hset(keys.register(), mapping=state)
        log.append(pipe, "register", "current", {k: str(v) for k, v in state.items()}, manager["device_id"],
                   "register.open")
        pipe.execute()
        return state

    transaction(r, lambda: [keys.register()], body)
    return register_state(r)


def z_report(register: dict, totals: dict[str, int], names: dict[str, str], closed_at: float) -> dict:
    """The closing report of one register period, from its running totals (see
    ``mutations.total_field``). Pure. Payment method names are kept whole, whatever they hold
    (``carte:visa``, ``espèces``), and the total is the sum of the payments."""
    by_device: dict[str, dict] = {}
    by_method: dict[str, int] = {}
    for name, value in totals.items():
        scope, _, rest = name.partition(":")
        if scope == "shop":
            by_method[rest.removeprefix("method:")] = value
        elif scope == "device":
            device_id, _, what = rest.partition(":")
            entry = by_device.setdefault(device_id, {"name": names.get(device_id, device_id), "count": 0,
                                                     "by_method": {}})
            if what == "count":
                entry["count"] = value
            else:
                entry["by_method"][what.removeprefix("method:")] = value
    return {"number": int(register["number"]), "opened_at": float(register["opened_at"]), "closed_at": closed_at,
            "sales": totals.get("count", 0), "total": sum(by_method.values()), "by_method": by_method,
            "by_device": by_device}


def close_register(r: redis.Redis, manager: dict) -> dict:
    """The Z report, or a Conflict naming the tablets whose sessions are still open."""
    def watched() -> list[str]:
        return [keys.register(), *(keys.session(d["device_id"]) for d in devices.list_all(r))]

    def body(pipe: redis.client.Pipeline) -> dict:
        register = decode_hash(pipe.hgetall(keys.register()))
        if register.get("state") != "open":
            raise Conflict("the register is not open")
        still_open = open_sessions(r)
        if still_open:
            names = ", ".join(s["name"] for s in still_open)
            raise Conflict(f"tablets still have open sessions: {names}", sessions=still_open)
        report = _report_now(r, register)
        pipe.multi()
        pipe.hset(keys.register(), mapping={"state": "closed", "closed_at": report["closed_at"]})
        pipe.set(keys.entity("closing", str(report["number"])), json.dumps(report))
        pipe.xadd(keys.outbox(), {"record": json.dumps({"kind": "closing", "id": f"Z{report['number']}",
                                                        "data": report})})
        log.append(pipe, "register", "current", {"state": "closed", "number": str(report["number"])},
                   manager["device_id"], "register.close")
        log.append(pipe, "closing", str(report["number"]), report, manager["device_id"], "register.close")
        pipe.execute()
        return report

    return transaction(r, watched, body)


def _report_now(r: redis.Redis, register: dict) -> dict:
    totals = {k.decode(): int(v) for k, v in r.hgetall(keys.register_totals(int(register["number"]))).items()}
    names = {d["device_id"]: d["name"] for d in devices.list_all(r)}
    return z_report(register, totals, names, time.time())


def takings(r: redis.Redis) -> dict | None:
    """While the register is open, what it has taken so far (the closing report it would make
    now: by payment method, by tablet, tickets paid) and the bills still open (tables served and
    not yet paid, and what they hold); None while it is closed."""
    register = register_state(r)
    if register.get("state") != "open":
        return None
    ids = [member.decode() for member in r.smembers(keys.entities("ticket"))]
    tickets = [json.loads(value) for value in r.mget([keys.entity("ticket", i) for i in ids]) if value] if ids else []
    return {**_report_now(r, register), **open_bills(tickets)}


def open_bills(tickets: list[dict]) -> dict:
    """How many open tickets hold something to pay, and how much is left to pay on them. Pure."""
    due = [mutations.total(t) - mutations.paid(t) for t in tickets if t.get("status") == "open"]
    return {"open_tickets": sum(1 for left in due if left > 0), "open_due": sum(left for left in due if left > 0)}


def closing_reports(r: redis.Redis) -> list[dict]:
    """Every closing (Z) report the box keeps, newest first."""
    last = int(register_state(r).get("number", 0))
    found = r.mget([keys.entity("closing", str(n)) for n in range(last, 0, -1)]) if last else []
    return [json.loads(value) for value in found if value]


def closing_report(r: redis.Redis, number: int) -> dict:
    found = r.get(keys.entity("closing", str(number)))
    if found is None:
        raise NotFound(f"no closing report Z{number}")
    return json.loads(found)


def add_totals(pipe: redis.client.Pipeline, number: int, totals: dict[str, int]) -> None:
    for name, value in totals.items():
        pipe.hincrby(keys.register_totals(number), name, value)


def start(r: redis.Redis, device: dict, staff: str = "", role: str = "") -> dict:
    """Start (or return) the tablet's selling session, used by ``staff`` in ``role`` (what
    the box shows them depends on it: see ``viewer``). The register must be open, and stay
    open until the session is written: closing it watches the sessions, this watches it."""
    session_key = keys.session(device["device_id"])

    def body(pipe: redis.client.Pipeline) -> dict:
        if decode_hash(pipe.hgetall(keys.register())).get("state") != "open":
            raise Conflict("the register is closed: a manager opens it first")
        current = _session(pipe, device["device_id"])
        if current.get("state") == "open":
            if (staff or role) and (current.get("staff"), current.get("role")) != (staff, role):
                pipe.multi()
                pipe.hset(session_key, mapping={"staff": staff, "role": role})
                pipe.execute()
                current.update(staff=staff, role=role)
            return current
        session = {"id": uuid.uuid4().hex, "state": "open", "started_at": str(time.time()), "staff": staff,
                   "role": role}
        pipe.multi()
        pipe.delete(session_key)
        pipe.hset(session_key, mapping=session)
        log.append(pipe, "session", device["device_id"], session, device["device_id"], "session.start")
        pipe.execute()
        return session

    return transaction(r, lambda: [keys.register(), session_key], body)


def close(r: redis.Redis, device: dict, last_mutation_id: int) -> dict:
    """Close the tablet's session, once the box has every mutation up to ``last_mutation_id``."""
    current = _session(r, device["device_id"])
    if current.get("state") != "open":
        raise NoSession("this tablet has no open session")
    applied = int(r.get(keys.sync_applied(device["device_id"])) or 0)
    if applied < last_mutation_id:
        raise Conflict(f"mutations {applied + 1} to {last_mutation_id} have not reached the box yet; push them first",
                       last_mutation_id=applied)
    return _end(r, device["device_id"], "closed", device["device_id"])


def force_close(r: redis.Redis, manager: dict, device_id: str) -> dict:
    devices.get(r, device_id)
    if _session(r, device_id).get("state") != "open":
        raise NoSession("that tablet has no open session")
    return _end(r, device_id, "force_closed", manager["device_id"])


def _end(r: redis.Redis, device_id: str, state: str, by: str) -> dict:
    """Close the session and log it in one transaction (a push in flight sees it: it
    watches the session)."""
    session = {**_session(r, device_id), "state": state, "closed_at": str(time.time()), "closed_by": by}
    with r.pipeline() as pipe:
        pipe.hset(keys.session(device_id), mapping=session)
        log.append(pipe, "session", device_id, session, by, f"session.{state}")
        pipe.execute()
    return session


def who(pipe: redis.client.Pipeline, device_id: str, staff: str, role: str, before: tuple[str, str]) -> None:
    """A push says who uses the tablet now (``before``: what the session said): the session
    keeps it, inside the push's transaction, and a change of hands is logged, so the
    tablet's open event stream filters anew."""
    if (staff or role) and (staff, role) != before:
        pipe.hset(keys.session(device_id), mapping={"staff": staff, "role": role})
        log.append(pipe, "session", device_id, {"staff": staff, "role": role}, device_id, "session.staff")


def viewer(r: redis.Redis, device_id: str) -> log.Viewer:
    """Who reads, as the box knows it (the session), never as the request claims it."""
    staff, role = r.hmget(keys.session(device_id), "staff", "role")
    return log.Viewer(device_id, (staff or b"").decode(), (role or b"").decode())


def check_push(r: redis.Redis | redis.client.Pipeline, device_id: str, session_id: str) -> None:
    """A push belongs to the tablet's open session; a closed one is gone for good (410)."""
    current = _session(r, device_id)
    if current.get("id") == session_id and current.get("state") == "open":
        return
    if not current:
        raise NoSession("start a session first (POST /api/v1/sessions)")
    if current.get("state") == "open":
        raise SessionGone(f"session {session_id} is over; this tablet's session is now {current['id']}")
    raise SessionGone(
        f"session {session_id} was {'force-closed by a manager' if current['state'] == 'force_closed' else 'closed'}: "
        "changes this tablet had not synced are lost; start a new session", state=current["state"])


def session_state(r: redis.Redis, device_id: str) -> str:
    """open, closed, force_closed, or none (never started)."""
    return _session(r, device_id).get("state", "none")


def device_states(r: redis.Redis) -> list[dict]:
    """Every paired tablet, its record and its session (the API's devices, the setup page)."""
    return [{**device, "session": session_state(r, device["device_id"])} for device in devices.list_all(r)]
