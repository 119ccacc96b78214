"""The OpenAPI 3.1 document of /api/v1, served at /api/v1/openapi.json.

Request schemas come from the same pydantic models that validate requests, so the document
cannot drift from what the box accepts; answers are described here by hand.
"""

from __future__ import annotations

from functools import cache

from pydantic.json_schema import models_json_schema

from appliance import __version__

JOB = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "status": {"enum": ["queued", "printing", "printed", "failed", "cancelled"],
                   "description": "printed: confirmed on paper where the printer's confirmation is 'paper'"},
        "printer": {"type": "string", "description": "where it prints (another printer after a failover)"},
        "moved_from": {"type": ["string", "null"], "description": "the printer it was meant for, if it moved"},
        "role": {"type": ["string", "null"]},
        "attempts": {"type": "integer"},
        "last_error": {"type": ["string", "null"]},
        "reprint": {"type": "boolean", "description": "prints again with a REPRINT mark"},
        "copies": {"type": "integer"},
        "drawer": {"type": "boolean"},
        "device_id": {"type": ["string", "null"]},
        "created_at": {"type": "number"},
        "updated_at": {"type": ["number", "null"]},
        "printed_at": {"type": ["number", "null"]},
    },
    "required": ["id", "status", "printer"],
}
PRINTER = {
    "type": "object",
    "properties": {
        "name": {"type": "string"}, "uri": {"type": "string"},
        "roles": {"type": "array", "items": {"type": "string"}},
        "width": {"enum": [58, 80]}, "profile": {"type": "string"},
        "backup": {"type": ["string", "null"], "description": "where its waiting jobs go when it cannot print"},
        "failover_after": {"type": "number", "description": "seconds unable to print before they go"},
        "emulated": {"type": "boolean", "description": "the built-in emulated printer"},
        "confirmation": {"enum": ["paper", "received", "none", "unknown"], "description":
                         "paper: jobs confirmed printed by the printer; received: it answers real-time "
                         "requests only (printed = every byte received); none: a write-only link"},
        "failover_to": {"type": ["string", "null"], "description": "where its jobs go while it cannot print"},
        "online": {"type": "boolean"}, "ready": {"type": "boolean"},
        "paper": {"enum": ["ok", "near_end", "out", "unknown"]}, "cover_open": {"type": "boolean"},
        "problem": {"type": ["string", "null"]}, "checked_at": {"type": ["number", "null"]},
        "queue": {"type": "integer", "description": "jobs waiting, including the one printing"},
    },
}
ERROR = {
    "type": "object",
    "properties": {
        "error": {"type": "string"}, "message": {"type": "string"},
        "problems": {"type": "array", "items": {"type": "object", "properties": {
            "at": {"type": "string"}, "problem": {"type": "string"}}}},
    },
    "required": ["error", "message"],
}
PAIRED = {
    "type": "object",
    "properties": {"device_id": {"type": "string"}, "token": {"type": "string"},
                   "name": {"type": "string"}, "role": {"type": "string"}},
    "required": ["device_id", "token"],
}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(name: str, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": _ref(name)}}}


def _errors(*codes: int) -> dict:
    words = {400: "Malformed JSON", 401: "No or unknown token", 403: "A manager's tablet is needed",
             404: "Unknown id", 409: "Conflict",
             413: "Body over 1 MiB", 422: "Invalid request (the message names the field)",
             429: "Too many wrong PINs", 503: "Storage restarting: nothing accepted, retry"}
    return {str(code): _json("Error", words[code]) for code in codes}


OBJECT = {"type": "object"}
CHANGE = {"type": "object", "description": "An entity's new state; apply in cursor order, replacing the entity",
          "properties": {"cursor": {"type": "string"}, "kind": {"type": "string"}, "id": {"type": "string"},
                         "data": {"type": ["object", "null"]}, "live": {"type": "boolean"},
                         "device": {"type": "string"}, "mutation": {"type": "string"}}}
PULL = {"type": "object", "description": "Either a snapshot (snapshot=true, state) or the changes after the cursor",
        "properties": {"snapshot": {"type": "boolean"}, "cursor": {"type": "string"},
                       "changes": {"type": "array", "items": {"$ref": "#/components/schemas/Change"}},
                       "state": OBJECT, "register": OBJECT, "last_mutation_id": {"type": "integer"}}}
PUSHED = {"type": "object", "properties": {
    "last_mutation_id": {"type": "integer"},
    "results": {"type": "array", "items": {"type": "object", "properties": {
        "id": {"type": "integer"}, "status": {"enum": ["applied", "duplicate", "rejected", "gap"]},
        "reason": {"type": "string"}, "expected": {"type": "integer"}}}}}}
TICKET = {"type": "object", "properties": {
    "id": {"type": "string"}, "label": {"type": "string"}, "status": {"enum": ["open", "paid", "transferred"]},
    "version": {"type": "integer"}, "total": {"type": "integer"}, "paid": {"type": "integer"},
    "lines": {"type": "array", "items": {"type": "object", "properties": {
        "line_id": {"type": "string"}, "product": {"type": "string"}, "qty": {"type": "integer"},
        "unit_price": {"type": "integer"}, "void": {"type": "boolean"}}}}}}


def _simple(summary: str, response: str, codes: tuple[int, ...] = (401, 503), status: str = "200",
            schema: str = "Object", params: list | None = None) -> dict:
    operation = {"summary": summary, "responses": {status: _json(schema, response), **_errors(*codes)}}
    if params:
        operation["parameters"] = params
    return operation


def _query(name: str, description: str, kind: str = "string") -> dict:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": {"type": kind}}


def _path(name: str) -> list[dict]:
    return [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}]


def _sync_paths() -> dict:
    viewer = [_query("staff", "the staff member using the tablet now"), _query("role", "their role")]
    return {
        "/sync/push": {"post": {
            "summary": "Push numbered mutations; each is applied once, in order, atomically",
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("PushRequest")}}},
            "responses": {"200": _json("Pushed", "What became of each mutation"), **_errors(401, 409, 422, 503),
                          "410": _json("Error", "The session was closed: unsynced changes are lost")}}},
        "/sync/pull": {"get": _simple("Changes after the cursor (waiting up to `wait` s), or a snapshot", "Pull",
                                      schema="Pull", params=[_query("cursor", "the last cursor applied"),
                                                             _query("wait", "long-poll seconds (max 30)", "number"),
                                                             *viewer])},
        "/sync/events": {"get": {"summary": "Server-Sent Events: `snapshot` then `change` events, ids are cursors; "
                                            "reconnect with Last-Event-ID", "parameters": viewer,
                                 "responses": {"200": {"description": "text/event-stream"}, **_errors(401)}}},
        "/tickets": {"get": _simple("The tickets this tablet may see", "Tickets",
                                    params=[_query("status", "open"), *viewer])},
        "/tickets/{ticket_id}": {"parameters": _path("ticket_id"),
                                 "get": _simple("One ticket", "The ticket", (401, 404, 503), schema="Ticket")},
        "/devices": {"get": _simple("Tablets and their sessions (manager)", "Devices", (401, 403, 503))},
        "/sessions": {"post": _simple("Start this tablet's selling session", "The session", (401, 409, 503), "201")},
        "/sessions/current": {"delete": {**_simple("Close it, once every mutation is in", "Closed", (401, 409, 503)),
                                         "requestBody": {"content": {"application/json": {"schema": {
                                             "type": "object", "properties": {
                                                 "last_mutation_id": {"type": "integer"}}}}}}}},
        "/sessions/{device_id}/force-close": {
            "parameters": _path("device_id"),
            "post": _simple("Force-close a tablet's session (manager)", "Closed", (401, 403, 404, 409, 503))},
        "/register": {"get": _simple("The register's state", "Register")},
        "/backoffice": {"get": _simple("Back office forwarding (manager): backlog, last success, last error, "
                                       "dead letters", "Status", (401, 403, 503))},
        "/register/open": {"post": _simple("Open the register (manager)", "Register", (401, 403, 409, 503))},
        "/register/close": {"post": _simple("Close the register (manager): the Z report, or 409 naming the "
                                            "tablets still in session", "Z report", (401, 403, 409, 503))},
    }


@cache
def document() -> dict:
    from appliance.printing.request import JobRequest
    from appliance.sync.push import PushRequest
    from appliance.web.api import PairRequest

    _, schemas = models_json_schema([(JobRequest, "validation"), (PairRequest, "validation"),
                                     (PushRequest, "validation")],
                                    ref_template="#/components/schemas/{model}")
    components = {**schemas.get("$defs", {}), "Job": JOB, "Printer": PRINTER, "Error": ERROR,
                  "Paired": PAIRED, "Object": OBJECT, "Change": CHANGE, "Pull": PULL, "Pushed": PUSHED,
                  "Ticket": TICKET}
    job_id = [{"name": "job_id", "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}}]
    return {
        "openapi": "3.1.0",
        "info": {"title": "Comptoir box API", "version": __version__,
                 "description": "Print jobs and printers of a Comptoir box. Every route but /pair and this "
                                "document needs 'Authorization: Bearer <token>'."},
        "servers": [{"url": "/api/v1"}],
        "components": {"schemas": components,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
        "paths": {
            "/pair": {"post": {
                "summary": "Exchange a one-time PIN (from `appliance pair`) for a device token",
                "security": [],
                "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("PairRequest")}}},
                "responses": {"201": _json("Paired", "Paired; the token is shown only now"),
                              **_errors(400, 422, 429, 503)}}},
            "/printers": {"get": {
                "summary": "The printers with their live status and queue length",
                "responses": {"200": {"description": "Printers", "content": {"application/json": {"schema": {
                    "type": "object", "properties": {"printers": {"type": "array", "items": _ref("Printer")}}}}}},
                    **_errors(401, 503)}}},
            "/jobs": {"post": {
                "summary": "Queue a print job (answered once it is on disk)",
                "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("JobRequest")}}},
                "responses": {"202": _json("Job", "Accepted and durably queued"),
                              "200": _json("Job", "This id was accepted before: the job as it is now"),
                              **_errors(400, 401, 409, 413, 422, 503)}}},
            "/jobs/{job_id}": {
                "parameters": job_id,
                "get": {"summary": "A job's state", "responses": {"200": _json("Job", "The job"),
                                                                   **_errors(401, 404, 503)}},
                "delete": {"summary": "Cancel a job that has not started printing",
                           "responses": {"200": _json("Job", "Cancelled"), **_errors(401, 404, 409, 503)}}},
            "/openapi.json": {"get": {"summary": "This document", "security": [],
                                      "responses": {"200": {"description": "OpenAPI 3.1"}}}},
            **_sync_paths(),
        },
    }
