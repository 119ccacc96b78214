"""The printers page: adding one by its address or from a search, exposing it to apps, a test
page, removing it; its live status."""

from __future__ import annotations

import redis
from flask import redirect, render_template, request, url_for
from flask_babel import gettext

from appliance.discovery import search
from appliance.errors import ServiceError
from appliance.onboarding import receipts
from appliance.printing import languages, polled, printers
from appliance.web import store
from appliance.web.pages import bp, logged_in, said

BUILT_IN_ROLES = ("kitchen", "bar", "receipt")


@bp.route("/printers", methods=["GET", "POST"])
@logged_in
def printer_list():
    r = store()
    form = {"name": "", "uri": request.args.get("uri", ""), "width": "80", "roles": [], "other_roles": "",
            "backup": "", "failover_after": "60", "language": ""}
    errors: dict[str, str] = {}
    if request.method == "POST":
        form = {**form, **{k: request.form.get(k, "").strip() for k in form if k != "roles"},
                "roles": request.form.getlist("roles")}
        roles = [*form["roles"], *(x.strip() for x in form["other_roles"].split(",") if x.strip())]
        try:
            width = int(form["width"])
            delay = float(form["failover_after"] or printers.FAILOVER_AFTER)
        except ValueError:
            errors["width"] = gettext("a number, please")
        else:
            try:
                printers.add(r, printers.validate(form["name"], form["uri"], roles, width, "default",
                                                  form["backup"] or None, delay, language=form["language"] or None))
            except ServiceError as exc:
                errors["form"] = said(exc)
            else:
                return redirect(url_for("ui.printer_list"))
    return _printers_page(r, form, errors)


def _printers_page(r: redis.Redis, form: dict | None, errors: dict[str, str], subnet: str = "",
                   exposing: dict | None = None):
    sent = request.args.get("sent")
    return render_template("printers.html", form=form, errors=errors, subnet=subnet,
                           sent=sent if sent and any(c.name == sent for c in printers.all_configs(r)) else None,
                           exposing=exposing or {"printer": "", "port": "9100"},
                           **_printers_part(r)), 422 if errors else 200


def _printers_part(r: redis.Redis) -> dict:
    return {"printers": printers.describe_all(r), "search": search.result(r), "language_names": languages.NAMES,
            "callers": [c for c in polled.callers(r) if not c["printer"]], "built_in": BUILT_IN_ROLES}


@bp.get("/ui/printers")
@logged_in
def printers_part():
    """The printers' live status and the search's findings, fetched every 2 s by the page."""
    return render_template("printers_part.html", **_printers_part(store()))


@bp.post("/printers/search")
@logged_in
def search_printers():
    """Look for printers on the network and over Bluetooth; the findings appear on the page."""
    r = store()
    subnet = request.form.get("subnet", "")
    try:
        search.ask(r, subnet)
    except ServiceError as exc:
        return _printers_page(r, None, {"subnet": said(exc)}, subnet)
    return redirect(url_for("ui.printer_list"))


@bp.post("/printers/expose")
@logged_in
def expose_printer():
    """Expose a printer as a virtual network printer (or stop, with no port), and give it its
    own address on the shop's network (or give it back)."""
    r = store()
    exposing = {"printer": request.form.get("printer", ""), "port": request.form.get("port", "").strip(),
                "own_address": request.form.get("own_address") == "on"}
    try:
        port = int(exposing["port"]) if exposing["port"] else None
    except ValueError:
        return _printers_page(r, None, {"port": gettext("a number, please")}, exposing=exposing)
    try:
        printers.expose(r, exposing["printer"], port, exposing["own_address"])
    except ServiceError as exc:
        return _printers_page(r, None, {"port": said(exc)}, exposing=exposing)
    return redirect(url_for("ui.printer_list"))


@bp.post("/printers/accept")
@logged_in
def accept_printer():
    """A printer that called the box (CloudPRNT, Server Direct Print) becomes one of its printers."""
    r = store()
    form = {k: request.form.get(k, "").strip() for k in ("uri", "name", "role")}
    try:
        polled.accept(r, form["uri"], form["name"], [form["role"]] if form["role"] else [])
    except ServiceError as exc:
        return _printers_page(r, None, {"accept": said(exc), "accept_uri": form["uri"]})
    return redirect(url_for("ui.printer_list"))


@bp.post("/printers/<name>/test")
@logged_in
def test_printer(name: str):
    r = store()
    receipts.print_test_page(r, printers.get(r, name).name)
    return redirect(url_for("ui.printer_list", sent=name))  # acknowledged on the page


@bp.post("/printers/<name>/remove")
@logged_in
def remove_printer(name: str):
    r = store()
    try:
        printers.remove(r, name)
    except ServiceError as exc:
        return _printers_page(r, None, {"form": said(exc)})
    return redirect(url_for("ui.printer_list"))


