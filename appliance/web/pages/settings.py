"""The settings page, one POST route per form: the shop, the tables, web apps, apps that print
without pairing, QZ-compatible web POS, the certificate, the back office, the password, the
software update."""

from __future__ import annotations

from collections.abc import Callable

import redis
from flask import current_app, redirect, render_template, request, session, url_for
from flask_babel import gettext
from werkzeug.exceptions import RequestEntityTooLarge

from appliance import offload
from appliance import settings as owner_settings
from appliance.access import origins, owner
from appliance.errors import ServiceError, Unavailable
from appliance.printing import qz
from appliance.sync import forwarder, log, shop
from appliance.system import certs
from appliance.system.update import receive, versions
from appliance.web import store
from appliance.web.pages import bp, client_address, logged_in, said


@bp.get("/settings")
@logged_in
def settings():
    """The shop's name and ticket visibility, its tables, web apps, the certificate, the back
    office link, the owner's password, the software update: each form posts to its own route."""
    return settings_page({}, None, {})


def _form(what: str, action: Callable[[redis.Redis], object], errors_at: str | None = None):
    """One form of the page: its action, then the page again, saying "saved", or what was wrong
    next to the form (``errors_at``: which form shows it) with what was typed still in it."""
    try:
        action(store())
    except ServiceError as exc:
        return settings_page({errors_at or what: said(exc)}, None, request.form)
    return settings_page({}, what, {})


def _text(name: str) -> str:
    return request.form.get(name, "").strip()


def _lines(name: str) -> list[str]:
    return [line.strip() for line in request.form.get(name, "").splitlines() if line.strip()]


@bp.post("/settings/shop")
@logged_in
def settings_shop():
    def save(r: redis.Redis) -> None:
        shop.set_name(r, request.form.get("shop_name", ""))
        shop.set_visibility(r, request.form.get("visibility", "all"))
        owner_settings.put(r, currency=request.form.get("currency", ""),
                           job_history_days=request.form.get("job_history_days", "7"))
    return _form("shop", save)


@bp.post("/settings/tables")
@logged_in
def settings_tables():
    return _form("tables", lambda r: shop.set_default_tickets(r, _lines("tables")))


@bp.post("/settings/origins")
@logged_in
def settings_origins():
    return _form("origins", lambda r: origins.replace(r, _lines("origins")))


@bp.post("/settings/apps")
@logged_in
def settings_apps():
    return _form("apps", lambda r: owner_settings.put(r, apps_reach_all=request.form.get("apps_reach_all") == "1",
                                                      app_receipt_metres=request.form.get("app_receipt_metres", "")))


@bp.post("/settings/qz")
@logged_in
def settings_qz():
    """Whether web POS from the listed web apps may print without a trusted certificate."""
    return _form("qz", lambda r: owner_settings.put(r, qz_paired_origins=request.form.get("qz_paired_origins") == "1"))


@bp.post("/settings/qz/<fingerprint>/<action>")
@logged_in
def settings_qz_certificate(fingerprint: str, action: str):
    """Trust a web POS's signing certificate that asked to print, or forget one."""
    return _form("qz", lambda r: qz.trust(r, fingerprint, action == "trust"))


@bp.post("/settings/certificate-installed")
@logged_in
def settings_certificate_installed():
    return _form("ca_installed", lambda r: certs.ca_installed(current_app.extensions["settings"].data_dir))


@bp.post("/settings/backoffice")
@logged_in
def settings_backoffice():
    return _form("backoffice", lambda r: forwarder.link(r, _text("url"), _text("token")))


@bp.post("/settings/backoffice/test")
@logged_in
def settings_backoffice_test():
    def test(r: redis.Redis) -> None:
        problem = forwarder.test_connection(r)
        if problem:
            raise Unavailable(problem)
    return _form("test", test, errors_at="backoffice")


@bp.post("/settings/backoffice/refused/<action>")
@logged_in
def settings_backoffice_refused(action: str):
    """The records the back office refused: sent again (``retry``), or dropped."""
    return _form(action, lambda r: forwarder.settle_dead_letters(r, retry=action == "retry"), errors_at="backoffice")


@bp.post("/settings/password")
@logged_in
def settings_password():
    def change(r: redis.Redis) -> None:
        owner.login(r, request.form.get("current", ""), client_address())
        owner.set_password(r, request.form.get("new", ""), keep_session=session.get("sid"))
    return _form("password", change)


def settings_page(errors: dict[str, str], saved: str | None, typed, status: int | None = None) -> tuple[str, int]:
    r = store()
    data_dir = current_app.extensions["settings"].data_dir
    apps = {"reach_all": owner_settings.get(r, "apps_reach_all"),
            "receipt_metres": f"{owner_settings.get(r, 'app_receipt_metres'):g}",
            "qz_origins": owner_settings.get(r, "qz_paired_origins"), "qz_certificates": qz.listed(r)}
    return render_template("settings.html", errors=errors, saved=saved, visibility=log.visibility(r),
                           currency=owner_settings.get(r, "currency"), currencies=owner_settings.CURRENCIES,
                           history_days=f"{owner_settings.get(r, 'job_history_days'):g}",
                           apps=apps, ca_replaced=certs.ca_replaced(data_dir),
                           modes=log.VISIBILITY, backoffice=forwarder.status(r), typed=typed,
                           tables=shop.default_tickets(r), origins=origins.listed(r),
                           update=versions.state(current_app.extensions["settings"])), \
        status or (422 if errors else 200)


@bp.post("/settings/update")
@logged_in
def upload_update():
    """A signed update from the owner's phone or computer: checked, then handed to the box's
    update service, which installs it and keeps it only if the box is healthy after."""
    try:
        bundle = request.files.get("bundle")
        if bundle is None or not bundle.filename:
            raise ServiceError(receive.CHOOSE_FILE)
        # Checksums and the fsync of tens of MB, off the event loop the tablets are served by.
        offload.run(receive.receive, current_app.extensions["settings"], bundle.stream)
    except RequestEntityTooLarge:
        return settings_page({"bundle": gettext(receive.bundle.TOO_BIG)}, None, {}, status=413)
    except ServiceError as exc:
        return settings_page({"bundle": said(exc)}, None, {}, status=exc.status)
    return redirect(url_for("ui.settings", _anchor="update"))


