"""/api/v1 routes of the sync hub: push, pull, events, tickets, sessions, register."""

from __future__ import annotations

import json
import time

import redis
from flask import Blueprint, Response, current_app, g, jsonify, request, stream_with_context

from appliance import keys
from appliance.errors import Forbidden, Invalid, NotFound
from appliance.sync import feed, log, push, sessions
from appliance.web import auth
from appliance.web.api import body

bp = Blueprint("sync", __name__, url_prefix="/api/v1")
bp.before_request(auth.require_device)

SSE_KEEPALIVE = 15.0


def _redis() -> redis.Redis:
    return current_app.extensions["redis"]


def _manager() -> dict:
    if g.device.get("role") != "manager":
        raise Forbidden("a manager's tablet is needed for this (appliance pair --role manager)")
    return g.device


def _viewer() -> log.Viewer:
    return log.Viewer(g.device["device_id"], request.args.get("staff", ""), request.args.get("role", ""))


@bp.post("/sync/push")
def sync_push():
    return jsonify(push.push(_redis(), g.device["device_id"], push.PushRequest.model_validate(body())))


@bp.get("/sync/pull")
def sync_pull():
    try:
        wait = float(request.args.get("wait", 0))
    except ValueError:
        raise Invalid("wait: a number of seconds") from None
    return jsonify(feed.pull(_redis(), _viewer(), request.args.get("cursor"), max(0.0, wait)))


def _event(name: str, cursor: str, data: dict) -> str:
    return f"id: {cursor}\nevent: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


@bp.get("/sync/events")
def sync_events():
    """Server-Sent Events: one ``change`` event per change, its id the cursor. A tablet that
    reconnects with Last-Event-ID resumes right after it; without one, or too far behind,
    it first gets a ``snapshot`` event."""
    r = _redis()
    viewer = _viewer()
    cursor = request.headers.get("Last-Event-ID") or request.args.get("cursor")

    def stream():
        nonlocal cursor
        yield "retry: 1000\n\n"
        mode = log.visibility(r)
        mode_read = time.monotonic()
        while True:
            found = feed.changes_after(r, cursor, SSE_KEEPALIVE) if cursor else None
            if found is None:
                state = log.snapshot(r, viewer)
                cursor = state["cursor"]
                yield _event("snapshot", cursor, state)
                continue
            if not found:
                yield ": keepalive\n\n"
                continue
            if time.monotonic() - mode_read > 5:
                mode, mode_read = log.visibility(r), time.monotonic()
            for change in found:
                if log.visible(change, viewer, mode):
                    yield _event("change", change["cursor"], change)
            cursor = found[-1]["cursor"]

    return Response(stream_with_context(stream()), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def _public_ticket(ticket: dict) -> dict:
    return {"id": ticket["id"], "label": ticket["label"], "status": ticket["status"], "version": ticket["version"],
            "lines": [{k: line[k] for k in ("line_id", "product", "qty", "unit_price", "void")}
                      for line in ticket["lines"]],
            "total": ticket["total"], "paid": ticket["paid"], "default": ticket["default"],
            "owner": ticket["owner"], "lease": ticket["lease"], "payments": ticket["payments"]}


@bp.get("/tickets")
def list_tickets():
    state = log.snapshot(_redis(), _viewer(), kinds=("ticket",))
    status = request.args.get("status")
    tickets = [_public_ticket(t) for t in state["state"]["ticket"] if status is None or t["status"] == status]
    return jsonify({"tickets": tickets, "cursor": state["cursor"]})


@bp.get("/tickets/<ticket_id>")
def get_ticket(ticket_id: str):
    value = _redis().get(keys.entity("ticket", ticket_id))
    if value is None:
        raise NotFound(f"no ticket {ticket_id}")
    return jsonify(_public_ticket(json.loads(value)))


@bp.get("/devices")
def list_devices():
    _manager()
    return jsonify({"devices": sessions.device_states(_redis())})


@bp.post("/sessions")
def start_session():
    return jsonify(sessions.start(_redis(), g.device)), 201


@bp.delete("/sessions/current")
def close_session():
    data = request.get_json(force=True, silent=True) or {}
    last = data.get("last_mutation_id", 0) if isinstance(data, dict) else 0
    if not isinstance(last, int) or last < 0:
        raise Invalid("last_mutation_id: the id of the tablet's last mutation (an integer)")
    return jsonify(sessions.close(_redis(), g.device, last))


@bp.post("/sessions/<device_id>/force-close")
def force_close_session(device_id: str):
    return jsonify(sessions.force_close(_redis(), _manager(), device_id))


@bp.get("/backoffice")
def backoffice_status():
    from appliance.sync import forwarder

    _manager()
    return jsonify(forwarder.status(_redis()))


@bp.get("/register")
def get_register():
    return jsonify(sessions.register_state(_redis()))


@bp.post("/register/open")
def open_register():
    return jsonify(sessions.open_register(_redis(), _manager()))


@bp.post("/register/close")
def close_register():
    return jsonify(sessions.close_register(_redis(), _manager()))
