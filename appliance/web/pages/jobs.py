"""The jobs page: each printer's queue, live, with a picture of each receipt; cancelling and
retrying; the history of every job, searched, each printed again on request."""

from __future__ import annotations

import redis
from flask import abort, current_app, redirect, render_template, request, url_for

from appliance.access import devices
from appliance.errors import ServiceError
from appliance.printing import history, jobs, preview, printers
from appliance.web import store
from appliance.web.pages import bp, logged_in, said

SEARCHED = ("q", "printer", "device", "status", "since", "until", "before")


def _queues(r: redis.Redis) -> dict:
    return {"queues": [{"printer": p, "jobs": jobs.waiting(r, p["name"])} for p in printers.describe_all(r)],
            "failed": jobs.failed(r)}


@bp.get("/jobs")
@logged_in
def job_queue():
    """Each printer's queue, live: what waits and why, with a picture of each receipt; failed
    jobs first. Then the history, searched as asked (the form's fields are the API's)."""
    r = store()
    asked = {name: request.args[name].strip() for name in SEARCHED if request.args.get(name, "").strip()}
    error, found, following = None, [], None
    try:
        found, following = history.search(r, history.query_from(asked, ended=True))  # the waiting ones: above
    except ServiceError as exc:
        error = said(exc)
    tablets = devices.list_all(r)
    sent = request.args.get("sent")
    return render_template("jobs.html", **_queues(r), found=found, following=following, asked=asked, error=error,
                           tablets=tablets, names={t["device_id"]: t["name"] for t in tablets},
                           sent=_job_or_none(r, sent) if sent else None, statuses=list(jobs.JobStatus))


def _job_or_none(r: redis.Redis, job_id: str) -> dict | None:
    try:
        return jobs.get(r, job_id)
    except ServiceError:
        return None


@bp.get("/ui/jobs")
@logged_in
def job_queue_part():
    return render_template("jobs_part.html", **_queues(store()))


@bp.get("/jobs/<job_id>/picture.png")
@logged_in
def job_picture(job_id: str):
    r = store()
    job = jobs.get(r, job_id)
    try:
        width = printers.get(r, job["printer"]).width
        picture = preview.picture_of(jobs.payload(r, job_id), width)
    except ServiceError:
        abort(404)
    except ValueError:
        abort(422)
    return current_app.response_class(picture, mimetype="image/png", headers={"Cache-Control": "private, max-age=60"})


@bp.post("/jobs/<job_id>/cancel")
@logged_in
def cancel_job(job_id: str):
    jobs.cancel(store(), job_id)  # the owner may cancel any tablet's job (the CLI's rule)
    return redirect(url_for("ui.job_queue"))


@bp.post("/jobs/<job_id>/retry")
@logged_in
def retry_job(job_id: str):
    jobs.retry(store(), job_id)
    return redirect(url_for("ui.job_queue"))


@bp.post("/jobs/<job_id>/reprint")
@logged_in
def reprint_job(job_id: str):
    """Print it again, marked DUPLICATA / COPY; the page says it went."""
    copy = jobs.duplicate(store(), job_id)
    return redirect(url_for("ui.job_queue", sent=copy["id"], _anchor="history"))


