"""/api/v1 routes of the sync hub: push, pull, events, tickets, sessions, register."""

from __future__ import annotations

import select
import socket

from flask import Blueprint, Response, g, jsonify, request

from appliance.access import devices
from appliance.errors import Conflict, Forbidden, Invalid
from appliance.sync import feed, log, push, sessions
from appliance.web import auth, store
from appliance.web.body import json_body

bp = Blueprint("sync", __name__, url_prefix="/api/v1")
bp.before_request(auth.require_device)


def _manager() -> dict:
    if g.device.get("role") != "manager":
        raise Forbidden("a manager's tablet is needed for this (appliance pair --role manager)")
    return g.device


def _viewer() -> log.Viewer:
    return sessions.viewer(store(), g.device["device_id"])


@bp.post("/sync/push")
def sync_push():
    return jsonify(push.push(store(), g.device["device_id"], push.PushRequest.model_validate(json_body())))


@bp.get("/sync/pull")
def sync_pull():
    try:
        wait = float(request.args.get("wait", 0))
    except ValueError:
        raise Invalid("wait: a number of seconds") from None
    return jsonify(feed.pull(store(), _viewer(), request.args.get("cursor"), max(0.0, wait)))


@bp.get("/sync/events")
def sync_events():
    """Server-Sent Events (see feed.events)."""
    r = store()
    device_id = g.device["device_id"]
    cursor = request.headers.get("Last-Event-ID") or request.args.get("cursor")
    connection = request.environ.get("gunicorn.socket")

    device = g.device

    def gone() -> bool:
        """The tablet hung up: its socket reads as closed. While it listens, it is seen."""
        devices.seen(r, device)
        if connection is None or not select.select([connection], [], [], 0)[0]:
            return False
        try:
            return connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    stream = feed.events(r, lambda: sessions.viewer(r, device_id), cursor, gone)
    return Response(stream, mimetype="text/event-stream", headers={"Cache-Control": "no-cache",
                                                                   "X-Accel-Buffering": "no"})


def _public_ticket(ticket: dict) -> dict:
    return {"id": ticket["id"], "label": ticket["label"], "status": ticket["status"], "version": ticket["version"],
            "lines": [{k: line[k] for k in ("line_id", "product", "qty", "unit_price", "void")}
                      for line in ticket["lines"]],
            "total": ticket["total"], "paid": ticket["paid"], "default": ticket["default"],
            "owner": ticket["owner"], "lease": ticket["lease"], "payments": ticket["payments"]}


@bp.get("/tickets")
def list_tickets():
    state = log.snapshot(store(), _viewer(), kinds=("ticket",))
    status = request.args.get("status")
    tickets = [_public_ticket(t) for t in state["state"]["ticket"] if status is None or t["status"] == status]
    return jsonify({"tickets": tickets, "cursor": state["cursor"]})


@bp.get("/tickets/<ticket_id>")
def get_ticket(ticket_id: str):
    return jsonify(_public_ticket(log.entity_for(store(), "ticket", ticket_id, _viewer())))


@bp.get("/devices")
def list_devices():
    _manager()
    return jsonify({"devices": sessions.device_states(store())})


@bp.post("/sessions")
def start_session():
    asked = sessions.StartRequest.model_validate(json_body(required=False))
    return jsonify(sessions.start(store(), g.device, asked.staff, asked.role)), 201


@bp.delete("/sessions/current")
def close_session():
    asked = sessions.CloseRequest.model_validate(json_body(required=False))
    return jsonify(sessions.close(store(), g.device, asked.last_mutation_id))


@bp.post("/sessions/<device_id>/force-close")
def force_close_session(device_id: str):
    return jsonify(sessions.force_close(store(), _manager(), device_id))


@bp.get("/backoffice")
def backoffice_status():
    from appliance.sync import forwarder

    _manager()
    return jsonify(forwarder.status(store()))


@bp.get("/register")
def get_register():
    return jsonify(sessions.register_state(store()))


@bp.get("/register/takings")
def register_takings():
    """While the register is open (manager): the takings so far and the bills still open."""
    _manager()
    found = sessions.takings(store())
    if found is None:
        raise Conflict("the register is not open")
    return jsonify(found)


@bp.post("/register/open")
def open_register():
    return jsonify(sessions.open_register(store(), _manager()))


@bp.post("/register/close")
def close_register():
    return jsonify(sessions.close_register(store(), _manager()))
