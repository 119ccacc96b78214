"""The network page: the shop's Wi-Fi, a cable, the box's own access point."""

from __future__ import annotations

from flask import render_template, request

from appliance.errors import ServiceError
from appliance.web import store
from appliance.web.pages import bp, logged_in, said


@bp.route("/network", methods=["GET", "POST"])
@logged_in
def network():
    """The box's network: the Wi-Fi it joined (or joins now), a cable, and its own access point
    for when it has none (its name and password, when it opened and closed)."""
    from appliance.system import wifi

    r = store()
    errors: dict[str, str] = {}
    joined = None
    if request.method == "POST":
        try:
            joined = wifi.join(request.form.get("ssid", ""), request.form.get("password", ""))
        except ServiceError as exc:
            errors[exc.details.get("field", "ssid")] = said(exc)
    state = joined or wifi.state()
    try:
        heard = wifi.networks(state["device"]) if state.get("device") and not state.get("access_point") else []
    except ServiceError:
        heard = []
    return render_template("network.html", state=state, joined=joined, heard=heard, errors=errors,
                           typed=request.form if errors else {}, access_point=wifi.access_point(r),
                           events=list(reversed(wifi.events(r))), ap_address=wifi.AP_ADDRESS,
                           no_networkmanager=wifi.NO_NETWORKMANAGER), 422 if errors else 200


