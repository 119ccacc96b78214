"""What the box hands out without a login: its icon, the demo web POS, and its CA for tablets
(a certificate file, an iPad profile)."""

from __future__ import annotations

from flask import current_app, send_from_directory

from appliance.sync import shop
from appliance.system import certs
from appliance.web import store
from appliance.web.pages import WEBUI, bp


@bp.get("/favicon.ico")
def favicon():
    """The box's icon in the browser's tab and on a phone's home screen."""
    return send_from_directory(WEBUI / "static", "favicon.ico", mimetype="image/x-icon", max_age=86400)


@bp.get("/demo/")
@bp.get("/demo/<path:name>")
def demo(name: str = "index.html"):
    """A static web POS that pairs, pushes a ticket and prints it through the API, from any
    origin the owner allowed (docs/web-apps.md)."""
    return send_from_directory(WEBUI / "demo", name)


# -- the box's certificate authority, for tablets to trust its HTTPS -----------------------------

@bp.get("/ca.pem")
def ca_certificate():
    """Public: a tablet installs it to trust the box's HTTPS (Android, desktops)."""
    return current_app.response_class(certs.ca_pem(current_app.extensions["settings"].data_dir),
                                      mimetype="application/x-x509-ca-cert",
                                      headers={"Content-Disposition": 'attachment; filename="comptoir-ca.crt"'})


@bp.get("/comptoir.mobileconfig")
def apple_profile():
    """Public: the same, as a configuration profile an iPad or iPhone installs."""
    profile = certs.apple_profile(current_app.extensions["settings"].data_dir, shop.name(store()))
    return current_app.response_class(profile, mimetype="application/x-apple-aspen-config",
                                      headers={"Content-Disposition": 'attachment; filename="comptoir.mobileconfig"'})


