"""/api/v1: what tablets call. Each view: parse, call one service function, answer."""

from __future__ import annotations

import uuid

from flask import Blueprint, g, jsonify, request

from appliance.access import devices
from appliance.errors import NotFound
from appliance.printing import history, jobs, printers
from appliance.printing.request import JobRequest
from appliance.web import auth, store
from appliance.web.body import json_body
from appliance.web.schemas import PairRequest

bp = Blueprint("api", __name__, url_prefix="/api/v1")
bp.before_request(auth.require_device)



def _job_id(job_id: str) -> str:
    try:
        return str(uuid.UUID(job_id))
    except ValueError:
        raise NotFound(f"no job {job_id}") from None


@bp.post("/pair")
def pair():
    asked = PairRequest.model_validate(json_body())
    paired = devices.pair(store(), asked.pin, asked.name, request.remote_addr or "unknown")
    return jsonify(paired), 201


@bp.get("/printers")
def list_printers():
    return jsonify({"printers": printers.describe_all(store())})


@bp.post("/jobs")
def create_job():
    job_request = JobRequest.model_validate(json_body())
    submitted = jobs.submit(store(), job_request, g.device["device_id"], g.device.get("receipt_printer"))
    response = jsonify(submitted.job)
    response.status_code = 202 if submitted.created else 200
    response.headers["Location"] = f"/api/v1/jobs/{submitted.job['id']}"
    if not submitted.created:
        response.headers["Idempotent-Replayed"] = "true"
    return response


@bp.get("/jobs")
def job_history():
    """Every job the box remembers, newest first, searched (``q``: words of the ticket;
    ``printer``, ``device``, ``status``, ``since``, ``until``) and paged (``next``: pass it as
    ``before`` for the next page). A staff tablet sees its own jobs, a manager's every job."""
    found, following = history.search(store(), history.query_from(request.args, g.device))
    return jsonify({"jobs": found, "next": following})


@bp.post("/jobs/<job_id>/reprint")
def reprint_job(job_id: str):
    """Print a job again, marked DUPLICATA / COPY: a new job."""
    job = jobs.duplicate(store(), _job_id(job_id), g.device)
    response = jsonify(job)
    response.status_code = 202
    response.headers["Location"] = f"/api/v1/jobs/{job['id']}"
    return response


@bp.get("/jobs/<job_id>")
def get_job(job_id: str):
    return jsonify(jobs.get(store(), _job_id(job_id)))


@bp.delete("/jobs/<job_id>")
def cancel_job(job_id: str):
    return jsonify(jobs.cancel(store(), _job_id(job_id), g.device))


@bp.post("/jobs/<job_id>/retry")
def retry_job(job_id: str):
    return jsonify(jobs.retry(store(), _job_id(job_id), g.device))
