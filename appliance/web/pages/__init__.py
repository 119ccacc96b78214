"""The setup page: the owner's pages at ``/``, one module a page (``home``: the overview, and
the ways in: the claim, the login; ``tablets``, ``printers``, ``register``, ``jobs``, ``network``,
``settings``; ``files``: the CA, the iPad profile, the demo web POS), one blueprint.

Server-rendered templates from ``webui/`` with a little plain JavaScript (live regions
refreshed every 2 s). Every action calls the same service functions as the API and the CLI.
Here: what every page shares, the visitor's language, the owner's session (see ``access.owner``:
a cookie that names a session kept in Redis), the form token against cross-site requests,
the headers (a Content-Security-Policy), and the messages in the page's language.
"""

from __future__ import annotations

import functools
import re
import secrets
import time
from functools import wraps
from pathlib import Path

from babel.numbers import get_currency_name
from flask import Blueprint, abort, current_app, g, redirect, request, session, url_for
from flask.sessions import SecureCookieSessionInterface
from flask_babel import Babel, format_currency, format_datetime, format_time, format_timedelta, get_locale, gettext

from appliance.access import owner
from appliance.errors import ServiceError
from appliance.sync import shop
from appliance.system import certs
from appliance.system.update import bundle, receive
from appliance.web import store

_PACKAGED = Path(__file__).resolve().parents[2] / "webui"  # appliance/webui, in a wheel
WEBUI = _PACKAGED if _PACKAGED.is_dir() else Path(__file__).resolve().parents[3] / "webui"  # the repository's
bp = Blueprint("ui", __name__, template_folder=str(WEBUI / "templates"), static_folder=str(WEBUI / "static"),
               static_url_path="/ui/static")



def select_language() -> str:
    """The language the visitor chose on the page, else their browser's, else the box's."""
    chosen = session.get("language")
    if chosen in owner.LANGUAGES:
        return chosen
    return request.accept_languages.best_match(owner.LANGUAGES) or owner.LANGUAGES[0]


# The page's own files only: no inline script or style, no plugin, no frame, forms posted to
# the box. A name someone typed with markup in it is escaped by Jinja, and would run nowhere.
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                           "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def init_app(app) -> None:
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Strict",
                      BABEL_TRANSLATION_DIRECTORIES=str(compile_catalogues(app.extensions["settings"].data_dir)))
    Babel(app, locale_selector=select_language)
    app.secret_key = owner.session_secret(app.extensions["settings"].data_dir)
    app.session_interface = _Cookie()
    app.register_blueprint(bp)
    app.jinja_env.filters["say"] = say


class _Cookie(SecureCookieSessionInterface):
    """Flask's signed cookie holds the visitor's language, the form token and, once they
    log in, the id of their session in Redis (``owner.start_session``): what makes a login is
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
REFUSAL_PAUSE = 1.0  # seconds before a refused login (or an oversized form) is answered


def refuse_slowly() -> None:
    """Wait before answering a refused login: a greenlet's sleep costs the box nothing, while
    each stranger's next try waits for this answer, so 50 of them hammering the page make 50
    tries a second at the most, not as many as the event loop can answer (which starved the
    tablets). The owner, who types the right password, never waits."""
    time.sleep(REFUSAL_PAUSE)  # gevent's sleep in the web process (patched)


@bp.before_request
def _csrf() -> None:
    """Every form carries the session's token. The update form carries it in its address, not
    in its body: the one large body the box takes is refused, from a stranger or past its
    size, before a byte of it is read."""
    session.setdefault("csrf", secrets.token_urlsafe(24))
    if request.method != "POST":
        return None
    # The page's forms are small: a megabyte of "password" is refused from its headers,
    # before the event loop spends time decoding it, and only after a pause (see refuse_slowly).
    request.max_content_length = MAX_FORM
    if request.endpoint != UPLOAD and (request.content_length or 0) > MAX_FORM:
        refuse_slowly()
        abort(413)
    if request.endpoint == UPLOAD:
        if not owner_here():
            abort(403)
        request.max_content_length = receive.MAX_UPLOAD
        sent = request.args.get("csrf", "") or request.headers.get("X-CSRF-Token", "")
    else:
        sent = request.form.get("csrf", "")
    if not secrets.compare_digest(sent, session["csrf"]):
        abort(400, "the form expired; reload the page and try again")
    if request.endpoint == UPLOAD and (request.content_length or 0) > receive.MAX_UPLOAD:
        from appliance.web.pages.settings import settings_page

        return settings_page({"bundle": gettext(bundle.TOO_BIG)}, None, {}, status=413)
    return None


_LOCAL_PATH = re.compile(r"/(?:[A-Za-z0-9_-]+(?:/[A-Za-z0-9_.-]+)*/?)?")


def local_path(target: str) -> str:
    """Where to go back to after a login or a language change: one of the box's own paths,
    spelt plainly. Anything else (``//host``, ``/\\host``, a tab or a newline a browser
    would drop, a scheme) is ignored for the overview, so a link cannot send the owner away."""
    return target if _LOCAL_PATH.fullmatch(target) else "/"


def client_address() -> str:
    return request.remote_addr or "unknown"


def owner_here() -> bool:
    """Is this visitor the logged-in owner? Asked by the login check, the form hooks and every
    template: Redis is asked once a request."""
    if "owner" not in g:
        g.owner = owner.session_alive(store(), session.get("sid"))
    return g.owner


def log_in() -> None:
    """A new session for the owner who just proved it; what the cookie held before is gone."""
    language = session.get("language")
    session.clear()
    session.update(sid=owner.start_session(store()), csrf=secrets.token_urlsafe(24),
                   language=language or owner.language(store()))
    g.owner = True


def logged_in(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        if not owner.claimed(store()):
            return redirect(url_for("ui.setup"))
        if not owner_here():
            return redirect(url_for("ui.login", next=request.path))
        return view(*args, **kwargs)
    return wrapper


@bp.context_processor
def helpers() -> dict:
    """What every template has: the languages, the form token, whether the owner is logged in,
    the shop's name, dates and amounts (in the shop's currency) in the visitor's locale."""
    money = functools.cache(lambda: shop.currency(store()))  # read only by a page that shows an amount
    return {"languages": owner.LANGUAGES, "language": select_language(), "csrf": session.get("csrf", ""),
            "owner": owner_here(), "ca_replaced": certs.ca_replaced(current_app.extensions["settings"].data_dir),
            "shop_name": shop.name(store()), "when": lambda t: format_datetime(t, "short") if t else "—",
            "clock": lambda t: format_time(t, "medium") if t else "—",
            "ago": lambda t: format_timedelta(time.time() - t, threshold=1.1),
            "amount": lambda cents: format_currency(cents / 100, money()),
            "currency_name": lambda code: get_currency_name(code, locale=get_locale()), "connection": connection}


CONNECTIONS = {"tcp": "on the network at %(host)s", "bt": "Bluetooth", "usb": "USB",
               "cloudprnt": "calls the box (Star CloudPRNT)", "sdp": "calls the box (Epson Server Direct Print)"}


def connection(uri: str) -> str:
    """How a printer is connected, in the owner's words rather than its URI."""
    scheme, _, rest = uri.partition("://")
    host = rest.split("/")[0].rsplit(":", 1)[0] if scheme == "tcp" else ""
    return gettext(CONNECTIONS[scheme], host=host) if scheme in CONNECTIONS else ""


def anonymous() -> None:
    """Back to a visitor who is not logged in, keeping the language they chose."""
    language = session.get("language")
    session.clear()
    g.owner = False
    if language:
        session["language"] = language


# The pages register their routes on ``bp`` when imported.
import appliance.web.pages.files  # noqa: E402
import appliance.web.pages.home  # noqa: E402
import appliance.web.pages.jobs  # noqa: E402
import appliance.web.pages.network  # noqa: E402
import appliance.web.pages.printers  # noqa: E402
import appliance.web.pages.register  # noqa: E402
import appliance.web.pages.settings  # noqa: E402
import appliance.web.pages.tablets  # noqa: E402, F401
