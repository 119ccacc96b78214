"""What the API takes and gives, in one place: the request models (pydantic, the same ones
that validate requests) and the JSON Schemas of the answers. The views and the OpenAPI
document both use this module; neither imports the other."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from appliance.printing.jobs import JobStatus
from appliance.printing.request import JobRequest
from appliance.sync.push import PushRequest
from appliance.sync.sessions import CloseRequest, StartRequest


class PairRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pin: str = Field(min_length=1, max_length=16)
    name: str | None = Field(default=None, min_length=1, max_length=64)


REQUESTS: tuple[type[BaseModel], ...] = (JobRequest, PairRequest, PushRequest, StartRequest, CloseRequest)

JOB = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "status": {"enum": [status.value for status in JobStatus],
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
        "sent_at": {"type": ["number", "null"], "description": "when it first went to the printer"},
        "printed_at": {"type": ["number", "null"]},
        "duplicate_of": {"type": ["string", "null"], "description": "a copy printed on request: the job it copies"},
    },
    "required": ["id", "status", "printer"],
}
HISTORY = {
    "type": "object",
    "properties": {
        "jobs": {"type": "array", "items": JOB},
        "next": {"type": ["number", "null"], "description": "pass it as `before` for the next page (null: none)"},
    },
    "required": ["jobs", "next"],
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
        "language": {"enum": ["escpos", "star-line", "starprnt", "star-graphic"], "description":
                     "the printer language the box speaks to it: learnt from the printer, unless named"},
        "language_forced": {"type": "boolean", "description": "the owner named the language (--language)"},
        "maker": {"type": ["string", "null"], "description": "as the printer says (GS I, ESC # *)"},
        "model": {"type": ["string", "null"], "description": "as the printer says (GS I, ESC # *)"},
        "port": {"type": ["integer", "null"], "description": "TCP port of its virtual network printer, if exposed"},
        "port_state": {"type": ["string", "null"], "description": "listening, or why the port cannot open"},
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


OBJECT = {"type": "object"}
CHANGE = {"type": "object", "description": "An entity's new state; apply in cursor order, replacing the entity",
          "properties": {"cursor": {"type": "string"}, "kind": {"type": "string"}, "id": {"type": "string"},
                         "data": {"type": ["object", "null"]}, "live": {"type": "boolean"},
                         "device": {"type": "string"}, "mutation": {"type": "string"}}}
PULL = {"type": "object", "description": "Either a snapshot (snapshot=true, state) or the changes after the cursor",
        "properties": {"snapshot": {"type": "boolean"}, "cursor": {"type": "string"},
                       "changes": {"type": "array", "items": {"$ref": "#/components/schemas/Change"}},
                       "state": OBJECT, "visibility": {"enum": ["all", "own", "role"]}, "register": OBJECT,
                       "last_mutation_id": {"type": "integer"}}}
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

RESPONSES = {"Job": JOB, "History": HISTORY, "Printer": PRINTER, "Error": ERROR, "Paired": PAIRED, "Object": OBJECT,
             "Change": CHANGE, "Pull": PULL, "Pushed": PUSHED, "Ticket": TICKET}
