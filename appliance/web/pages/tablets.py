"""The tablets page: pairing with a PIN and a QR code, renaming, roles, own receipt printers,
revoking."""

from __future__ import annotations

import time

import redis
from flask import redirect, render_template, request, url_for

from appliance.access import devices
from appliance.errors import ServiceError
from appliance.printing import printers
from appliance.sync import sessions
from appliance.web import store
from appliance.web.pages import bp, logged_in, said


def _qr_svg(text: str) -> str:
    """An inline SVG QR code (qrcode comes with python-escpos already)."""
    import qrcode
    import qrcode.image.svg

    return qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage).to_string(encoding="unicode")


@bp.route("/tablets", methods=["GET", "POST"])
@logged_in
def tablets():
    """Pair a tablet: a PIN and a QR code of the box's address with it (a tablet app scans
    it, and pairs with POST /api/v1/pair); revoke one."""
    r = store()
    pairing = None
    errors: dict[str, str] = {}
    if request.method == "POST":
        name = request.form.get("name", "").strip() or None
        role = request.form.get("role", "staff")
        try:
            pin = devices.new_pin(r, name, role)
        except ServiceError as exc:
            errors["role"] = said(exc)
        else:
            address = request.host_url
            pairing = {"pin": pin, "name": name, "address": address,
                       "qr": _qr_svg(f"{address}?pin={pin}"), "minutes": devices.PIN_TTL // 60}
    return _tablets_page(r, pairing, errors)


def _tablets_page(r: redis.Redis, pairing: dict | None, errors: dict[str, str]):
    now = time.time()
    rows = [{**row, "presence": devices.presence(row, now)} for row in sessions.device_states(r)]
    return render_template("tablets.html", tablets=rows, pairing=pairing, errors=errors, roles=devices.ROLES,
                           versions=devices.app_versions(rows),
                           printer_names=[c.name for c in printers.all_configs(r)]), 422 if errors else 200


@bp.post("/tablets/<device_id>")
@logged_in
def edit_tablet(device_id: str):
    """Name, role and own receipt printer of one tablet, all or nothing."""
    r = store()
    try:
        receipt_printer = request.form.get("receipt_printer") or None
        if receipt_printer:
            printers.get(r, receipt_printer)
        devices.update(r, device_id, request.form.get("name", ""), request.form.get("role", ""))
        devices.set_receipt_printer(r, device_id, receipt_printer)
    except ServiceError as exc:
        return _tablets_page(r, None, {device_id: said(exc)})
    return redirect(url_for("ui.tablets"))


@bp.post("/tablets/<device_id>/revoke")
@logged_in
def revoke_tablet(device_id: str):
    devices.revoke(store(), device_id)
    return redirect(url_for("ui.tablets"))


