"""Star's WebPRNT endpoint, where web apps built on Star's JavaScript SDK post as to a Star
printer: ``POST /StarWebPRNT/SendMessage``. No token, as on the printer itself; CORS for any
origin (cors.py). The work is in printing/webprnt.py."""

from __future__ import annotations

from flask import Blueprint, current_app, request

from appliance.printing import webprnt
from appliance.web import store
from appliance.web.body import raw_body

bp = Blueprint("webprnt", __name__)


@bp.post("/StarWebPRNT/SendMessage")
def send_message():
    answer = webprnt.serve(store(), raw_body(webprnt.MAX_BODY), request.args.get("timeout"))
    return current_app.response_class(answer.body, status=answer.http_status, mimetype="text/xml",
                                      headers={"Cache-Control": "no-store"})
