"""Epson Server Direct Print's endpoint, which TM printers poll: ``POST /epson/sdp`` (a form:
``ConnectionType=GetRequest`` or ``SetResponse``). No token, as on Epson's own servers: a
printer is known by its ID once the owner accepted it. The work is in printing/sdp.py."""

from __future__ import annotations

from flask import Blueprint, current_app, request

from appliance.printing import sdp
from appliance.web import store
from appliance.web.body import raw_body

bp = Blueprint("sdp", __name__)


@bp.post(sdp.PATH)
def poll():
    answer = sdp.serve(store(), raw_body(sdp.MAX_FORM), request.remote_addr or "unknown")
    return current_app.response_class(answer, status=200, mimetype="text/xml",
                                      headers={"Cache-Control": "no-store"})
