"""Star CloudPRNT's endpoint, which CloudPRNT printers poll: ``POST /cloudprnt`` (the poll),
``GET /cloudprnt?mac=…&type=…`` (the job), ``DELETE /cloudprnt?mac=…&code=…`` (printed, or
why not). No token, as on Star's own servers: a printer is known by its MAC once the owner
accepted it. The work is in printing/cloudprnt.py."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from appliance.printing import cloudprnt
from appliance.web import store
from appliance.web.body import json_body

bp = Blueprint("cloudprnt", __name__)


@bp.post("/cloudprnt")
def poll():
    return jsonify(cloudprnt.poll(store(), json_body(), request.remote_addr or "unknown"))


@bp.get("/cloudprnt")
def fetch():
    if "delete" in request.args:  # a printer told "deleteMethod": "GET" confirms so
        return confirm()
    found = cloudprnt.job_body(store(), cloudprnt.mac(request.args.get("mac", "")), request.args.get("type", ""))
    if found is None:
        return current_app.response_class(b"", status=404)
    body, media_type = found
    return current_app.response_class(body, mimetype=media_type, headers={"Cache-Control": "no-store"})


@bp.delete("/cloudprnt")
def confirm():
    known = cloudprnt.confirm(store(), cloudprnt.mac(request.args.get("mac", "")), request.args.get("code", ""))
    return current_app.response_class(b"", status=200 if known else 404)
