"""The OpenAPI 3.1 document of /api/v1, served at /api/v1/openapi.json (no token needed).

Request schemas come from the same pydantic models that validate requests, and answers from
the schemas in ``schemas.py``, so the document cannot drift from what the box does; a test
(tests/test_schema.py) sends schemathesis's requests to a real box and checks every answer's
status and body against it.
"""

from __future__ import annotations

from functools import cache

from flask import Blueprint, jsonify
from pydantic.json_schema import models_json_schema

from appliance import __version__
from appliance.web import schemas

bp = Blueprint("openapi", __name__, url_prefix="/api/v1")

# What any route may answer, whoever calls it.
_ANY = {
    429: "Too many connections from this address (or, on /pair, too many wrong PINs)",
    503: "The box's storage is restarting (or, for a job, it could not tell whether it stored it: "
         "resend with the same id, it never prints twice)",
    507: "The box's storage is full: nothing can be stored until room is made",
}
_WORDS = {
    **_ANY,
    400: "Malformed JSON, or nested too deep",
    401: "No or unknown token",
    403: "Not allowed for this tablet (a manager's tablet is needed, or the job is another tablet's)",
    404: "Unknown id",
    408: "The body did not arrive in time",
    409: "Conflict",
    410: "The session was closed: unsynced changes are lost",
    413: "Body over 1 MiB",
    422: "Invalid request (the message names the field)",
}
_BODY = (400, 408, 413, 422)


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(name: str, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": _ref(name)}}}


def _errors(*codes: int, token: bool = True) -> dict:
    every = sorted({*codes, *_ANY, *((401,) if token else ())})
    return {str(code): _json("Error", _WORDS[code]) for code in every}


def _operation(summary: str, answer: str, codes: tuple[int, ...] = (), status: str = "200", schema: str = "Object",
               params: list | None = None, body: str | None = None, body_required: bool = True) -> dict:
    operation: dict = {"summary": summary,
                       "responses": {status: _json(schema, answer), **_errors(*codes, *(_BODY if body else ()))}}
    if params:
        operation["parameters"] = params
    if body:
        operation["requestBody"] = {"required": body_required,
                                    "content": {"application/json": {"schema": _ref(body)}}}
    return operation


def _query(name: str, description: str, kind: str = "string") -> dict:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": {"type": kind}}


def _path(name: str, **schema: str) -> list[dict]:
    return [{"name": name, "in": "path", "required": True, "schema": {"type": "string", **schema}}]


def _paths() -> dict:
    job_id = _path("job_id", format="uuid")
    return {
        "/pair": {"post": {**_operation("Exchange a one-time PIN (from `appliance pair`) for a device token",
                                        "Paired; the token is shown only now", status="201", schema="Paired",
                                        body="PairRequest"),
                           "security": [], "responses": {
                               "201": _json("Paired", "Paired; the token is shown only now"),
                               **_errors(*_BODY, token=False)}}},
        "/printers": {"get": {"summary": "The printers with their live status and queue length",
                              "responses": {"200": {"description": "Printers", "content": {"application/json": {
                                  "schema": {"type": "object", "properties": {
                                      "printers": {"type": "array", "items": _ref("Printer")}}}}}},
                                  **_errors()}}},
        "/jobs": {"get": _operation(
                      "Every job the box remembers, newest first, searched and paged (a tablet's own; a manager's "
                      "every tablet's): did table 7's ticket print, and when?", "A page of jobs", (422,),
                      schema="History", params=[
                          _query("q", "words of the ticket (a table, a dish); accents and capitals ignored"),
                          _query("printer", "a printer's name"), _query("device", "a tablet's id"),
                          _query("status", "queued, printing, printed, failed or cancelled"),
                          _query("since", "accepted from: epoch seconds or 2026-12-02T12:30 (the box's time)"),
                          _query("until", "accepted until, the same way"),
                          _query("before", "the `next` of the page before", "number"),
                          _query("limit", "jobs in the page, 1 to 200 (50)", "integer")]),
                  "post": {**_operation("Queue a print job (answered once it is on disk); always send an `id`",
                                        "Accepted and durably queued", (409,), "202", "Job", body="JobRequest"),
                           "responses": {"202": _json("Job", "Accepted and durably queued"),
                                         "200": _json("Job", "This id was accepted before: the job as it is now"),
                                         **_errors(409, *_BODY)}}},
        "/jobs/{job_id}": {
            "parameters": job_id,
            "get": _operation("A job's state", "The job", (404,), schema="Job"),
            "delete": _operation("Cancel a job that has not started printing (a tablet's own; a manager's any)",
                                 "Cancelled", (403, 404, 409), schema="Job")},
        "/jobs/{job_id}/retry": {
            "parameters": job_id,
            "post": _operation("Queue a failed job again, at the end of its printer's queue (a tablet's own; "
                               "a manager's any); a job that is not failed is left as it is",
                               "The job", (403, 404), schema="Job")},
        "/jobs/{job_id}/reprint": {
            "parameters": job_id,
            "post": _operation("Print a job again on its printer, marked DUPLICATA / COPY on paper (a tablet's own; "
                               "a manager's any): a new job", "The copy, queued", (403, 404), "202", "Job")},
        "/openapi.json": {"get": {"summary": "This document", "security": [],
                                  "responses": {"200": {"description": "OpenAPI 3.1"}, **_errors(token=False)}}},
        "/sync/push": {"post": _operation("Push numbered mutations; each is applied once, in order, atomically",
                                          "What became of each mutation", (409, 410), schema="Pushed",
                                          body="PushRequest")},
        "/sync/pull": {"get": _operation("Changes after the cursor (waiting up to `wait` s), or a snapshot", "Pull",
                                         (422,), schema="Pull",
                                         params=[_query("cursor", "the last cursor applied"),
                                                 _query("wait", "long-poll seconds (max 30)", "number")])},
        "/sync/events": {"get": {"summary": "Server-Sent Events: `snapshot` then `change` events, ids are cursors; "
                                            "reconnect with Last-Event-ID. Ends when the token is revoked.",
                                 "responses": {"200": {"description": "text/event-stream"}, **_errors()}}},
        "/tickets": {"get": _operation("The tickets this tablet may see", "Tickets",
                                       params=[_query("status", "open")])},
        "/tickets/{ticket_id}": {"parameters": _path("ticket_id"),
                                 "get": _operation("One ticket, if this tablet may see it", "The ticket", (404,),
                                                   schema="Ticket")},
        "/devices": {"get": _operation("Tablets and their sessions (manager)", "Devices", (403,))},
        "/sessions": {"post": _operation("Start this tablet's selling session, saying who uses it", "The session",
                                         (409,), "201", body="StartRequest", body_required=False)},
        "/sessions/current": {"delete": _operation("Close it, once every mutation is in", "Closed", (409,),
                                                   body="CloseRequest", body_required=False)},
        "/sessions/{device_id}/force-close": {
            "parameters": _path("device_id"),
            "post": _operation("Force-close a tablet's session (manager)", "Closed", (403, 404, 409))},
        "/register": {"get": _operation("The register's state", "Register")},
        "/backoffice": {"get": _operation("Back office forwarding (manager): backlog, last success, last error, "
                                          "dead letters", "Status", (403,))},
        "/register/takings": {"get": _operation(
            "While the register is open (manager): takings so far by payment method and by tablet, tickets paid "
            "(`sales`), and the bills still open (`open_tickets`, `open_due`), amounts in cents", "Takings",
            (403, 409))},
        "/register/open": {"post": _operation("Open the register (manager)", "Register", (403, 409))},
        "/register/close": {"post": _operation("Close the register (manager): the Z report, or 409 naming the "
                                               "tablets still in session", "Z report", (403, 409))},
    }


@cache
def document() -> dict:
    _, requests = models_json_schema([(model, "validation") for model in schemas.REQUESTS],
                                     ref_template="#/components/schemas/{model}")
    return {
        "openapi": "3.1.0",
        "info": {"title": "Comptoir box API", "version": __version__,
                 "description": "Print jobs, printers and the sync hub of a Comptoir box. Every route but /pair "
                                "and this document needs 'Authorization: Bearer <token>'."},
        "servers": [{"url": "/api/v1"}],
        "components": {"schemas": {**requests.get("$defs", {}), **schemas.RESPONSES},
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
        "paths": _paths(),
    }


@bp.get("/openapi.json")
def openapi_document():
    return jsonify(document())
