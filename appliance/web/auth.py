"""Bearer-token authentication of /api/v1 (like Moonraker's authorization component)."""

from __future__ import annotations

from flask import g, request

from appliance.access import devices
from appliance.web import store
from appliance.web.errors import error

PUBLIC_ENDPOINTS = {"api.pair"}


def require_device():
    """before_request hook: every route but pairing and the OpenAPI document needs a token.
    A token query parameter is accepted too, for EventSource, which cannot set headers."""
    if request.endpoint in PUBLIC_ENDPOINTS or request.endpoint is None:
        return None
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if not header and request.args.get("token"):
        scheme, token = "bearer", request.args["token"]
    device = None
    if scheme.lower() == "bearer" and token:
        device = devices.authenticate(store(), token.strip())
    if device is None:
        response = error(401, "unauthorized", "pair this tablet first, then send 'Authorization: Bearer <token>'")
        response.headers["WWW-Authenticate"] = 'Bearer realm="comptoir"'
        return response
    g.device = device
    devices.seen(store(), device)
    if version := request.headers.get(devices.APP_VERSION_HEADER):
        devices.note_app_version(store(), device, version)
    return None
