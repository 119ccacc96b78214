"""Browsers' cross-origin rules (CORS), and Chrome's Private Network Access preflight.

Two policies:
- ePOS-Print (``/cgi-bin/epos/``) and WebPRNT (``/StarWebPRNT/``) answer any origin, as
  Epson's and Star's printers do: web POS apps post to them from their own origin and read
  the answer, and printing is what a printer on the LAN offers anyone anyway.
- The API answers only the origins the owner listed (setup page, ``appliance settings
  origins``). Its tokens travel in a header, never a cookie, so no credentials are allowed.

A preflight (OPTIONS with Access-Control-Request-Method) is answered here, before any token
check; one from an origin not allowed gets 403 and no CORS header at all.
"""

from __future__ import annotations

from flask import Flask, current_app, request

from appliance.access import origins
from appliance.web import store

EPOS = ("/cgi-bin/epos/", "/StarWebPRNT/")  # printers' own web endpoints: any origin, as on the printers
METHODS = "GET, POST, DELETE, OPTIONS"
HEADERS = "Authorization, Content-Type, Last-Event-ID, X-Comptoir-App-Version"
EPOS_HEADERS = "Content-Type, SOAPAction, If-Modified-Since"
EXPOSED = "Location, Idempotent-Replayed, Retry-After"
MAX_AGE = "600"


def _allowed(origin: str | None) -> bool:
    """Whether this request's path and origin get CORS answers (the setup page never does)."""
    if not origin:
        return False
    if request.path.startswith(EPOS):
        return True
    return request.path.startswith("/api/") and origins.allowed(store(), origin)


def _preflight():
    origin = request.headers.get("Origin")
    if request.method != "OPTIONS" or not origin or "Access-Control-Request-Method" not in request.headers:
        return None
    if not (request.path.startswith(EPOS) or request.path.startswith("/api/")):
        return None
    if not _allowed(origin):
        return current_app.response_class(status=403)
    response = current_app.response_class(status=204)
    response.headers.update({
        "Access-Control-Allow-Methods": "POST, OPTIONS" if request.path.startswith(EPOS) else METHODS,
        "Access-Control-Allow-Headers": EPOS_HEADERS if request.path.startswith(EPOS) else HEADERS,
        "Access-Control-Max-Age": MAX_AGE,
    })
    if request.headers.get("Access-Control-Request-Private-Network") == "true":
        response.headers["Access-Control-Allow-Private-Network"] = "true"
    return response


def _headers(response):
    origin = request.headers.get("Origin")
    if _allowed(origin):
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = EXPOSED
        response.vary.add("Origin")
    return response


def init_app(app: Flask) -> None:
    app.before_request(_preflight)
    app.after_request(_headers)
