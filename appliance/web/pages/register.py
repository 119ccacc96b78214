"""The register page: opening and closing the register, the takings so far, force-closing a
tablet's session, the closing (Z) reports and printing them."""

from __future__ import annotations

import redis
from flask import render_template, request
from flask_babel import gettext

from appliance.errors import ServiceError
from appliance.printing import jobs, printers, reports
from appliance.sync import sessions, shop
from appliance.web import store
from appliance.web.pages import bp, helpers, logged_in, said

SETUP_PAGE_MANAGER = {"device_id": "setup-page", "role": "manager", "name": "setup page"}


@bp.route("/register", methods=["GET", "POST"])
@logged_in
def register():
    """Open and close the register. Closing with tablets still selling lists them; force-
    closing one says in plain words that what it had not synced is lost."""
    r = store()
    error = None
    still_open: list[dict] = []
    if request.method == "POST":
        try:
            if request.form.get("action") == "open":
                sessions.open_register(r, SETUP_PAGE_MANAGER)
            else:
                sessions.close_register(r, SETUP_PAGE_MANAGER)
        except ServiceError as exc:
            error = said(exc) if "sessions" not in exc.details else None
            still_open = exc.details.get("sessions", [])
    return _register_page(r, error=error, still_open=still_open)


def _register_page(r: redis.Redis, error: str | None = None, still_open: list | None = None,
                   printed: int | None = None, done: str | None = None):
    return render_template("register.html", state=sessions.register_state(r), error=error, still_open=still_open or [],
                           reports=sessions.closing_reports(r), printers=printers.describe_all(r), printed=printed,
                           takings=sessions.takings(r), done=done)


@bp.post("/register/z/<int:number>/print")
@logged_in
def print_closing(number: int):
    """A closing report on the printer the owner chose, in the page's language."""
    r = store()
    report = sessions.closing_report(r, number)
    shown = helpers()
    document = reports.z_ticket(report, shop.name(r), gettext, shown["amount"], shown["when"])
    try:
        jobs.print_document(r, document, printer=request.form.get("printer", ""))
    except ServiceError as exc:
        return _register_page(r, error=said(exc)), exc.status
    return _register_page(r, printed=number)


@bp.post("/register/force-close/<device_id>")
@logged_in
def force_close(device_id: str):
    """Force-close a tablet that cannot close its session (the owner was closing the register):
    when it was the last one selling, the register closes with it, in the same press."""
    r = store()
    name = next((s["name"] for s in sessions.open_sessions(r) if s["device_id"] == device_id), device_id)
    sessions.force_close(r, SETUP_PAGE_MANAGER, device_id)
    still_open = sessions.open_sessions(r)
    if still_open or sessions.register_state(r).get("state") != "open":
        return _register_page(r, still_open=still_open, done=gettext("%(name)s was force-closed.", name=name))
    report = sessions.close_register(r, SETUP_PAGE_MANAGER)
    return _register_page(r, done=gettext("%(name)s was force-closed and the register is closed: report "
                                          "Z%(number)s below.", name=name, number=report["number"]))


