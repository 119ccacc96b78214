"""The setup page at ``/``: first-run claim with the setup code, login, the overview.

Server-rendered templates from ``webui/`` with a little plain JavaScript (the overview refreshes
itself every 2 s). Every action calls the same service functions as the API and the CLI
(``admin``, ``dashboard``...). Forms carry a per-session token against cross-site requests;
the session cookie is HttpOnly and SameSite=Strict; bad input keeps what was typed and says
what is wrong next to the field.
"""

from __future__ import annotations

import re
import secrets
from functools import wraps
from pathlib import Path

import redis
from flask import (
    Blueprint,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    send_from_directory,
    session,
    url_for,
)
from flask.sessions import SecureCookieSessionInterface
from flask_babel import Babel, format_datetime, format_decimal, gettext
from werkzeug.exceptions import RequestEntityTooLarge

from appliance import admin, certs, dashboard, devices, offload, update
from appliance import settings as owner_settings
from appliance.discovery import search
from appliance.errors import ServiceError, Unavailable
from appliance.onboarding import receipts
from appliance.printing import jobs, preview, printers, reports
from appliance.sync import log, sessions, shop
from appliance.web import store

_PACKAGED = Path(__file__).resolve().parents[1] / "webui"  # appliance/webui, in a wheel
WEBUI = _PACKAGED if _PACKAGED.is_dir() else Path(__file__).resolve().parents[2] / "webui"  # the repository's
bp = Blueprint("ui", __name__, template_folder=str(WEBUI / "templates"), static_folder=str(WEBUI / "static"),
               static_url_path="/ui/static")



def select_language() -> str:
    """The language the visitor chose on the page, else their browser's, else the box's."""
    chosen = session.get("language")
    if chosen in admin.LANGUAGES:
        return chosen
    return request.accept_languages.best_match(admin.LANGUAGES) or admin.LANGUAGES[0]


# The page's own files only: no inline script or style, no plugin, no frame, forms posted to
# the box. A name someone typed with markup in it is escaped by Jinja, and would run nowhere.
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                           "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def init_app(app) -> None:
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Strict",
                      BABEL_TRANSLATION_DIRECTORIES=str(compile_catalogues(app.extensions["settings"].data_dir)))
    Babel(app, locale_selector=select_language)
    app.secret_key = admin.session_secret(app.extensions["settings"].data_dir)
    app.session_interface = _Cookie()
    app.register_blueprint(bp)
    app.jinja_env.filters["say"] = say


class _Cookie(SecureCookieSessionInterface):
    """Flask's signed cookie holds the visitor's language, the form token and, once they
    log in, the id of their session in Redis (``admin.start_session``): what makes a login is
    the session in Redis, which a logout or a new password ends. ``Secure`` when the page
    came over HTTPS (the box serves both)."""

    def get_cookie_secure(self, app) -> bool:
        return request.is_secure


def said(exc: ServiceError) -> str:
    """A service's refusal in the page's language, its parameters filled in after."""
    return gettext(exc.template, **{k: gettext(v) if k in exc.words else v for k, v in exc.params.items()})


def say(message: str | None) -> str:
    """A message from a service (a printer's problem, a job's last error), in the page's
    language when the catalogues know it. Unlike ``_()`` in a template, whose result Jinja
    trusts as markup, this is plain text: it is escaped like any other data."""
    return gettext(message) if message else ""


@bp.after_request
def _headers(response):
    if response.mimetype == "text/html" and request.endpoint != "ui.demo":
        response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
    return response


def compile_catalogues(data_dir: Path) -> Path:
    """The .po catalogues of webui/translations, compiled into the data dir when they changed
    (the repository keeps only the text catalogues)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    target = data_dir / "translations"
    for po in (WEBUI / "translations").glob("*/LC_MESSAGES/messages.po"):
        mo = target / po.relative_to(WEBUI / "translations").with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            mo.parent.mkdir(parents=True, exist_ok=True)
            with po.open("rb") as source:
                catalogue = read_po(source)
            partial = mo.with_suffix(".part")
            with partial.open("wb") as out:
                write_mo(out, catalogue)
            partial.replace(mo)
    return target


UPLOAD = "ui.upload_update"
MAX_FORM = 64 * 1024  # the largest of the page's forms (the tables, the web apps) by far


@bp.before_request
def _csrf() -> None:
    """Every form carries the session's token. The update form carries it in its address, not
    in its body: the one large body the box takes is refused, from a stranger or past its
    size, before a byte of it is read."""
    session.setdefault("csrf", secrets.token_urlsafe(24))
    if request.method != "POST":
        return None
    # The page's forms are small: a megabyte of "password" is refused from its headers,
    # before the event loop spends time decoding it.
    request.max_content_length = MAX_FORM
    if request.endpoint == UPLOAD:
        if not _logged_in():
            abort(403)
        request.max_content_length = update.MAX_UPLOAD
        sent = request.args.get("csrf", "") or request.headers.get("X-CSRF-Token", "")
    else:
        sent = request.form.get("csrf", "")
    if not secrets.compare_digest(sent, session["csrf"]):
        abort(400, "the form expired; reload the page and try again")
    if request.endpoint == UPLOAD and (request.content_length or 0) > update.MAX_UPLOAD:
        return _settings_page({"bundle": gettext(update.TOO_BIG)}, None, {}, status=413)
    return None


_LOCAL_PATH = re.compile(r"/(?:[A-Za-z0-9_-]+(?:/[A-Za-z0-9_.-]+)*/?)?")


def _local(target: str) -> str:
    """Where to go back to after a login or a language change: one of the box's own paths,
    spelt plainly. Anything else (``//host``, ``/\\host``, a tab or a newline a browser
    would drop, a scheme) is ignored for the overview, so a link cannot send the owner away."""
    return target if _LOCAL_PATH.fullmatch(target) else "/"


def _client() -> str:
    return request.remote_addr or "unknown"


def _logged_in() -> bool:
    return admin.session_alive(store(), session.get("sid"))


def _log_in() -> None:
    """A new session for the owner who just proved it; what the cookie held before is gone."""
    language = session.get("language")
    session.clear()
    session.update(sid=admin.start_session(store()), csrf=secrets.token_urlsafe(24),
                   language=language or admin.language(store()))


def logged_in(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        if not admin.claimed(store()):
            return redirect(url_for("ui.setup"))
        if not _logged_in():
            return redirect(url_for("ui.login", next=request.path))
        return view(*args, **kwargs)
    return wrapper


@bp.context_processor
def _globals() -> dict:
    return {"languages": admin.LANGUAGES, "language": select_language(), "csrf": session.get("csrf", ""),
            "owner": _logged_in(), "ca_replaced": certs.ca_replaced(current_app.extensions["settings"].data_dir),
            "shop_name": shop.name(store()), "when": lambda t: format_datetime(t, "short") if t else "—",
            "amount": lambda cents: format_decimal(cents / 100, format="#,##0.00")}


@bp.get("/")
@logged_in
def overview():
    return render_template("overview.html", view=dashboard.overview(store()))


@bp.get("/ui/overview")
@logged_in
def overview_part():
    """The overview's body alone: the page fetches it every 2 s to stay live."""
    return render_template("overview_part.html", view=dashboard.overview(store()))


@bp.route("/setup", methods=["GET", "POST"])
def setup():
    r = store()
    if admin.claimed(r):
        return redirect(url_for("ui.login"))
    form = {"shop_name": "", "language": select_language(), "code": ""}
    errors: dict[str, str] = {}
    if request.method == "POST":
        form = {key: request.form.get(key, "") for key in ("code", "shop_name", "language")}
        try:
            admin.claim(r, form["code"], form["shop_name"], form["language"], request.form.get("password", ""),
                        _client())
        except ServiceError as exc:
            errors[str(exc.details.get("field", "form"))] = said(exc)
        else:
            session["language"] = form["language"]
            _log_in()
            return redirect(url_for("ui.overview"))
    return render_template("setup.html", form=form, errors=errors), 422 if errors else 200


@bp.route("/login", methods=["GET", "POST"])
def login():
    r = store()
    if not admin.claimed(r):
        return redirect(url_for("ui.setup"))
    errors: dict[str, str] = {}
    status, retry_after = 200, None
    if request.method == "POST":
        with_code = "code" in request.form
        try:
            if with_code:
                admin.login_with_code(r, request.form.get("code", ""), _client())
            else:
                admin.login(r, request.form.get("password", ""), _client())
        except ServiceError as exc:
            errors["code" if with_code else "password"] = said(exc)
            status, retry_after = exc.status, exc.details.get("retry_after")
        else:
            _log_in()
            # A code is for an owner who lost the password: straight to choosing a new one.
            return redirect(url_for("ui.settings", _anchor="password") if with_code
                            else _local(request.args.get("next", "")))
    response = current_app.make_response((render_template("login.html", errors=errors), status))
    if retry_after:
        response.headers["Retry-After"] = str(retry_after)
    return response


@bp.post("/logout")
def logout():
    admin.end_session(store(), session.get("sid"))
    _anonymous()
    return redirect(url_for("ui.login"))


@bp.post("/logout/everywhere")
@logged_in
def logout_everywhere():
    """End every session of the setup page, this one included (a phone lost, a password
    seen)."""
    admin.end_sessions(store())
    _anonymous()
    return redirect(url_for("ui.login"))


def _anonymous() -> None:
    language = session.get("language")
    session.clear()
    if language:
        session["language"] = language


@bp.post("/language")
def language():
    chosen = request.form.get("language", "")
    if chosen in admin.LANGUAGES:
        session["language"] = chosen
    return redirect(_local(request.form.get("back", "/")))


# -- tablets ------------------------------------------------------------------------------------

SETUP_PAGE_MANAGER = {"device_id": "setup-page", "role": "manager", "name": "setup page"}


def _qr_svg(text: str) -> str:
    """An inline SVG QR code (qrcode comes with python-escpos already)."""
    import qrcode
    import qrcode.image.svg

    return qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage).to_string(encoding="unicode")


@bp.route("/tablets", methods=["GET", "POST"])
@logged_in
def tablets():
    """Pair a tablet: a PIN and a QR code of the box's address with it (a tablet app scans
    it, and pairs with POST /api/v1/pair); revoke one."""
    r = store()
    pairing = None
    errors: dict[str, str] = {}
    if request.method == "POST":
        name = request.form.get("name", "").strip() or None
        role = request.form.get("role", "staff")
        try:
            pin = devices.new_pin(r, name, role)
        except ServiceError as exc:
            errors["role"] = said(exc)
        else:
            address = request.host_url
            pairing = {"pin": pin, "name": name, "address": address,
                       "qr": _qr_svg(f"{address}?pin={pin}"), "minutes": devices.PIN_TTL // 60}
    return _tablets_page(r, pairing, errors)


def _tablets_page(r: redis.Redis, pairing: dict | None, errors: dict[str, str]):
    rows = dashboard.tablets(r)
    return render_template("tablets.html", tablets=rows, pairing=pairing, errors=errors, roles=devices.ROLES,
                           versions=devices.app_versions(rows),
                           printer_names=[c.name for c in printers.all_configs(r)]), 422 if errors else 200


@bp.post("/tablets/<device_id>")
@logged_in
def edit_tablet(device_id: str):
    """Name, role and own receipt printer of one tablet, all or nothing."""
    r = store()
    try:
        receipt_printer = request.form.get("receipt_printer") or None
        if receipt_printer:
            printers.get(r, receipt_printer)
        devices.update(r, device_id, request.form.get("name", ""), request.form.get("role", ""))
        devices.set_receipt_printer(r, device_id, receipt_printer)
    except ServiceError as exc:
        return _tablets_page(r, None, {device_id: said(exc)})
    return redirect(url_for("ui.tablets"))


@bp.post("/tablets/<device_id>/revoke")
@logged_in
def revoke_tablet(device_id: str):
    devices.revoke(store(), device_id)
    return redirect(url_for("ui.tablets"))


# -- printers -----------------------------------------------------------------------------------

BUILT_IN_ROLES = ("kitchen", "bar", "receipt")


@bp.route("/printers", methods=["GET", "POST"])
@logged_in
def printer_list():
    r = store()
    form = {"name": "", "uri": request.args.get("uri", ""), "width": "80", "roles": [], "other_roles": "",
            "backup": "", "failover_after": "60"}
    errors: dict[str, str] = {}
    if request.method == "POST":
        form = {**form, **{k: request.form.get(k, "").strip() for k in form if k != "roles"},
                "roles": request.form.getlist("roles")}
        roles = [*form["roles"], *(x.strip() for x in form["other_roles"].split(",") if x.strip())]
        try:
            width = int(form["width"])
            delay = float(form["failover_after"] or printers.FAILOVER_AFTER)
        except ValueError:
            errors["width"] = gettext("a number, please")
        else:
            try:
                printers.add(r, printers.validate(form["name"], form["uri"], roles, width, "default",
                                                  form["backup"] or None, delay))
            except ServiceError as exc:
                errors["form"] = said(exc)
            else:
                return redirect(url_for("ui.printer_list"))
    return _printers_page(r, form, errors)


def _printers_page(r: redis.Redis, form: dict | None, errors: dict[str, str], subnet: str = "",
                   exposing: dict | None = None):
    return render_template("printers.html", form=form, errors=errors, built_in=BUILT_IN_ROLES, subnet=subnet,
                           exposing=exposing or {"printer": "", "port": "9100"},
                           **_printers_part(r)), 422 if errors else 200


def _printers_part(r: redis.Redis) -> dict:
    return {"printers": printers.describe_all(r), "search": search.result(r)}


@bp.get("/ui/printers")
@logged_in
def printers_part():
    """The printers' live status and the search's findings, fetched every 2 s by the page."""
    return render_template("printers_part.html", **_printers_part(store()))


@bp.post("/printers/search")
@logged_in
def search_printers():
    """Look for printers on the network and over Bluetooth; the findings appear on the page."""
    r = store()
    subnet = request.form.get("subnet", "")
    try:
        search.ask(r, subnet)
    except ServiceError as exc:
        return _printers_page(r, None, {"subnet": said(exc)}, subnet)
    return redirect(url_for("ui.printer_list"))


@bp.post("/printers/expose")
@logged_in
def expose_printer():
    """Expose a printer as a virtual network printer (or stop, with no port)."""
    r = store()
    exposing = {"printer": request.form.get("printer", ""), "port": request.form.get("port", "").strip()}
    try:
        port = int(exposing["port"]) if exposing["port"] else None
    except ValueError:
        return _printers_page(r, None, {"port": gettext("a number, please")}, exposing=exposing)
    try:
        printers.expose(r, exposing["printer"], port)
    except ServiceError as exc:
        return _printers_page(r, None, {"port": said(exc)}, exposing=exposing)
    return redirect(url_for("ui.printer_list"))


@bp.post("/printers/<name>/test")
@logged_in
def test_printer(name: str):
    r = store()
    receipts.print_test_page(r, printers.get(r, name).name)
    return redirect(url_for("ui.printer_list"))


@bp.post("/printers/<name>/remove")
@logged_in
def remove_printer(name: str):
    r = store()
    try:
        printers.remove(r, name)
    except ServiceError as exc:
        return _printers_page(r, None, {"form": said(exc)})
    return redirect(url_for("ui.printer_list"))


# -- the register ---------------------------------------------------------------------------------

@bp.route("/register", methods=["GET", "POST"])
@logged_in
def register():
    """Open and close the register. Closing with tablets still selling lists them; force-
    closing one says in plain words that what it had not synced is lost."""
    r = store()
    error = None
    still_open: list[dict] = []
    if request.method == "POST":
        try:
            if request.form.get("action") == "open":
                sessions.open_register(r, SETUP_PAGE_MANAGER)
            else:
                sessions.close_register(r, SETUP_PAGE_MANAGER)
        except ServiceError as exc:
            error = said(exc) if "sessions" not in exc.details else None
            still_open = exc.details.get("sessions", [])
    return _register_page(r, error=error, still_open=still_open)


def _register_page(r: redis.Redis, error: str | None = None, still_open: list | None = None,
                   printed: int | None = None):
    return render_template("register.html", state=sessions.register_state(r), error=error, still_open=still_open or [],
                           reports=sessions.closing_reports(r), printers=printers.describe_all(r), printed=printed)


@bp.post("/register/z/<int:number>/print")
@logged_in
def print_closing(number: int):
    """A closing report on the printer the owner chose, in the page's language."""
    r = store()
    report = sessions.closing_report(r, number)
    helpers = _globals()
    document = reports.z_ticket(report, shop.name(r), gettext, helpers["amount"], helpers["when"])
    try:
        jobs.print_document(r, document, printer=request.form.get("printer", ""))
    except ServiceError as exc:
        return _register_page(r, error=said(exc)), exc.status
    return _register_page(r, printed=number)


@bp.post("/register/force-close/<device_id>")
@logged_in
def force_close(device_id: str):
    sessions.force_close(store(), SETUP_PAGE_MANAGER, device_id)
    return redirect(url_for("ui.register"))


# -- jobs -----------------------------------------------------------------------------------------

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


# -- the demo web POS -------------------------------------------------------------------------

@bp.get("/demo/")
@bp.get("/demo/<path:name>")
def demo(name: str = "index.html"):
    """A static web POS that pairs, pushes a ticket and prints it through the API, from any
    origin the owner allowed (docs/web-apps.md)."""
    return send_from_directory(WEBUI / "demo", name)


# -- the box's certificate authority, for tablets to trust its HTTPS -----------------------------

@bp.get("/ca.pem")
def ca_certificate():
    """Public: a tablet installs it to trust the box's HTTPS (Android, desktops)."""
    return current_app.response_class(certs.ca_pem(current_app.extensions["settings"].data_dir),
                                      mimetype="application/x-x509-ca-cert",
                                      headers={"Content-Disposition": 'attachment; filename="comptoir-ca.crt"'})


@bp.get("/comptoir.mobileconfig")
def apple_profile():
    """Public: the same, as a configuration profile an iPad or iPhone installs."""
    profile = certs.apple_profile(current_app.extensions["settings"].data_dir, shop.name(store()))
    return current_app.response_class(profile, mimetype="application/x-apple-aspen-config",
                                      headers={"Content-Disposition": 'attachment; filename="comptoir.mobileconfig"'})


# -- the box's network ------------------------------------------------------------------------------

@bp.route("/network", methods=["GET", "POST"])
@logged_in
def network():
    """The box's network: the Wi-Fi it joined (or joins now), a cable, and its own access point
    for when it has none (its name and password, when it opened and closed)."""
    from appliance import wifi

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


# -- shop settings ---------------------------------------------------------------------------------

@bp.route("/settings", methods=["GET", "POST"])
@logged_in
def settings():
    """The shop's name and ticket visibility, its tables, the back office link, the owner's
    password."""
    from appliance.sync import forwarder

    r = store()
    errors: dict[str, str] = {}
    saved = None
    if request.method == "POST":
        what = request.form.get("what")
        try:
            if what == "shop":
                shop.set_name(r, request.form.get("shop_name", ""))
                shop.set_visibility(r, request.form.get("visibility", "all"))
            elif what == "origins":
                admin.set_allowed_origins(r, request.form.get("origins", "").splitlines())
            elif what == "tables":
                shop.set_default_tickets(r, [x.strip() for x in request.form.get("tables", "").splitlines()
                                             if x.strip()])
            elif what == "backoffice":
                forwarder.link(r, request.form.get("url", "").strip(), request.form.get("token", "").strip())
            elif what == "apps":
                owner_settings.put(r, apps_reach_all=request.form.get("apps_reach_all") == "1",
                                   app_receipt_metres=request.form.get("app_receipt_metres", ""))
            elif what == "ca_installed":
                certs.ca_installed(current_app.extensions["settings"].data_dir)
            elif what == "password":
                admin.login(r, request.form.get("current", ""), _client())
                admin.set_password(r, request.form.get("new", ""), keep_session=session.get("sid"))
            elif what == "test":
                problem = forwarder.test_connection(r)
                if problem:
                    raise Unavailable(problem)
            elif what in ("retry", "drop"):
                forwarder.settle_dead_letters(r, retry=what == "retry")
            saved = what
        except ServiceError as exc:
            errors["backoffice" if what in ("test", "retry", "drop") else what or "form"] = said(exc)
    typed = request.form if errors else {}  # a form that failed shows what was typed
    return _settings_page(errors, saved, typed)


def _settings_page(errors: dict[str, str], saved: str | None, typed, status: int | None = None) -> tuple[str, int]:
    from appliance.sync import forwarder

    r = store()
    data_dir = current_app.extensions["settings"].data_dir
    apps = {"reach_all": owner_settings.get(r, "apps_reach_all"),
            "receipt_metres": f"{owner_settings.get(r, 'app_receipt_metres'):g}"}
    return render_template("settings.html", errors=errors, saved=saved, visibility=log.visibility(r),
                           apps=apps, ca_replaced=certs.ca_replaced(data_dir),
                           modes=log.VISIBILITY, backoffice=forwarder.status(r), typed=typed,
                           tables=shop.default_tickets(r), origins=admin.allowed_origins(r),
                           update=update.read_state(current_app.extensions["settings"])), \
        status or (422 if errors else 200)


@bp.post("/settings/update")
@logged_in
def upload_update():
    """A signed update from the owner's phone or computer: checked, then handed to the box's
    update service, which installs it and keeps it only if the box is healthy after."""
    try:
        bundle = request.files.get("bundle")
        if bundle is None or not bundle.filename:
            raise ServiceError(update.CHOOSE_FILE)
        # Checksums and the fsync of tens of MB, off the event loop the tablets are served by.
        offload.run(update.receive, current_app.extensions["settings"], bundle.stream)
    except RequestEntityTooLarge:
        return _settings_page({"bundle": gettext(update.TOO_BIG)}, None, {}, status=413)
    except ServiceError as exc:
        return _settings_page({"bundle": said(exc)}, None, {}, status=exc.status)
    return redirect(url_for("ui.settings", _anchor="update"))


