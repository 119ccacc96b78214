"""Epson's ePOS-Print endpoint, where web POS apps (Odoo's among them) post their receipts as
to an Epson printer: ``POST /cgi-bin/epos/service.cgi?devid=…&timeout=…``. No token, as on
the printer itself; CORS for any origin (cors.py). The work is in printing/epos.py.

Posted to a printer's own address (system/addresses.py), as Odoo does with its printer's IP,
the request is for that printer whatever its devid: Odoo always says ``local_printer``."""

from __future__ import annotations

from flask import Blueprint, current_app, request

from appliance.printing import epos
from appliance.web import store
from appliance.web.body import raw_body

bp = Blueprint("epos", __name__)


@bp.post("/cgi-bin/epos/service.cgi")
def service():
    r = store()
    answer = epos.serve(r, request.args.get("devid", "local_printer"), raw_body(epos.MAX_BODY),
                        request.args.get("timeout"), printer=epos.dialled(r, request.host))
    return current_app.response_class(answer.body, status=answer.http_status,
                                      mimetype="text/xml", headers={"Cache-Control": "no-store"})
