"""Getting in: the first-run claim with the setup code, the login (a password, or a login code
made at the box), logging out, the language; and the overview, live."""

from __future__ import annotations

from flask import current_app, redirect, render_template, request, session, url_for

from appliance.access import owner
from appliance.errors import ServiceError
from appliance.web import read_models, store
from appliance.web.pages import (
    anonymous,
    bp,
    client_address,
    local_path,
    log_in,
    logged_in,
    refuse_slowly,
    said,
    select_language,
)


@bp.get("/")
@logged_in
def overview():
    return render_template("overview.html", view=read_models.overview(store()))


@bp.get("/ui/overview")
@logged_in
def overview_part():
    """The overview's body alone: the page fetches it every 2 s to stay live."""
    return render_template("overview_part.html", view=read_models.overview(store()))


@bp.route("/setup", methods=["GET", "POST"])
def setup():
    r = store()
    if owner.claimed(r):
        return redirect(url_for("ui.login"))
    form = {"shop_name": "", "language": select_language(), "code": ""}
    errors: dict[str, str] = {}
    if request.method == "POST":
        form = {key: request.form.get(key, "") for key in ("code", "shop_name", "language")}
        try:
            owner.claim(r, form["code"], form["shop_name"], form["language"], request.form.get("password", ""),
                        client_address())
        except ServiceError as exc:
            refuse_slowly()
            errors[str(exc.details.get("field", "form"))] = said(exc)
        else:
            session["language"] = form["language"]
            log_in()
            return redirect(url_for("ui.overview"))
    return render_template("setup.html", form=form, errors=errors), 422 if errors else 200


@bp.route("/login", methods=["GET", "POST"])
def login():
    r = store()
    if not owner.claimed(r):
        return redirect(url_for("ui.setup"))
    errors: dict[str, str] = {}
    status, retry_after = 200, None
    if request.method == "POST":
        with_code = "code" in request.form
        try:
            if with_code:
                owner.login_with_code(r, request.form.get("code", ""), client_address())
            else:
                owner.login(r, request.form.get("password", ""), client_address())
        except ServiceError as exc:
            refuse_slowly()
            errors["code" if with_code else "password"] = said(exc)
            status, retry_after = exc.status, exc.details.get("retry_after")
        else:
            log_in()
            # A code is for an owner who lost the password: straight to choosing a new one.
            return redirect(url_for("ui.settings", _anchor="password") if with_code
                            else local_path(request.args.get("next", "")))
    response = current_app.make_response((render_template("login.html", errors=errors), status))
    if retry_after:
        response.headers["Retry-After"] = str(retry_after)
    return response


@bp.post("/logout")
def logout():
    owner.end_session(store(), session.get("sid"))
    anonymous()
    return redirect(url_for("ui.login"))


@bp.post("/logout/everywhere")
@logged_in
def logout_everywhere():
    """End every session of the setup page, this one included (a phone lost, a password
    seen)."""
    owner.end_sessions(store())
    anonymous()
    return redirect(url_for("ui.login"))




@bp.post("/language")
def language():
    chosen = request.form.get("language", "")
    if chosen in owner.LANGUAGES:
        session["language"] = chosen
    return redirect(local_path(request.form.get("back", "/")))


