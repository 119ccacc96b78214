"""The jobs page: each printer's queue, live, with a picture of each receipt; cancelling and
retrying."""

from __future__ import annotations

import redis
from flask import abort, current_app, redirect, render_template, url_for

from appliance.errors import ServiceError
from appliance.printing import jobs, preview, printers
from appliance.web import store
from appliance.web.pages import bp, logged_in


def _queues(r: redis.Redis) -> dict:
    return {"queues": [{"printer": p, "jobs": jobs.waiting(r, p["name"])} for p in printers.describe_all(r)],
            "failed": jobs.failed(r)}


@bp.get("/jobs")
@logged_in
def job_queue():
    """Each printer's queue, live: what waits and why, with a picture of each receipt; failed
    jobs first."""
    return render_template("jobs.html", **_queues(store()))


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


