"""The setup page, driven as a shop owner would: in headless Chromium (Debian's package, through
Playwright's client), by the labels and roles a screen reader sees, at phone and desktop width.
Screenshots of each page go to docs/screenshots/ (the README shows them)."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator

import pytest

from appliance import admin
from appliance.tools.client import Client
from tests.box import ROOT, Box
from tests.fakeprinter import FakePrinter

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SHOTS = ROOT / "docs" / "screenshots"
PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 800}

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (apt-get install chromium)")


@pytest.fixture(scope="module")
def browser() -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport=PHONE, locale="fr-FR")
    yield context.new_page()
    context.close()


def shoot(page, name: str) -> None:
    """The page at phone width, then at desktop width."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    for label, size in (("phone", PHONE), ("desktop", DESKTOP)):
        page.set_viewport_size(size)
        page.screenshot(path=str(SHOTS / f"{name}-{label}.png"), full_page=True)
    page.set_viewport_size(PHONE)


def claim(page, box: Box, code: str, password: str = "sel et poivre") -> None:
    page.goto(box.url + "/")
    page.get_by_label("Code d'installation").fill(code)
    page.get_by_label("Nom du commerce").fill("Chez Zofia")
    page.get_by_label("Choisissez le mot de passe du gérant").fill(password)
    page.get_by_role("button", name="Installer le boîtier").click()


def test_first_run_needs_the_setup_code_then_the_owner_logs_in(box: Box, page) -> None:
    page.goto(box.url + "/")
    assert page.url.endswith("/setup")
    assert page.get_by_role("heading", name="Installer votre boîtier").is_visible()
    shoot(page, "setup")
    claim(page, box, "00000000")  # not the code
    assert page.get_by_text("code d'installation incorrect").is_visible()
    assert page.get_by_label("Nom du commerce").input_value() == "Chez Zofia"  # what was typed stays
    assert not admin.claimed(box.redis)
    code = admin.setup_code(box.redis)
    claim(page, box, code)
    page.wait_for_url(box.url + "/")
    assert page.get_by_role("heading", name="Vue d'ensemble").is_visible()
    assert page.get_by_text("Chez Zofia").first.is_visible()
    assert admin.setup_code(box.redis) is None  # used up
    # The code no longer works; a visitor needs the password.
    page.get_by_role("button", name="Se déconnecter").click()
    page.wait_for_url(re.compile(r".*/login"))
    page.get_by_label("Mot de passe").fill("pas le bon")
    page.get_by_role("button", name="Se connecter").click()
    assert page.get_by_text("mot de passe incorrect").is_visible()
    shoot(page, "login")
    page.get_by_label("Mot de passe").fill("sel et poivre")
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(box.url + "/")


def test_the_session_cookie_is_httponly_and_strict(box: Box, page) -> None:
    claim(page, box, admin.setup_code(box.redis))
    page.wait_for_url(box.url + "/")
    cookie = next(c for c in page.context.cookies() if c["name"] == "session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    # A form posted from elsewhere carries no token of the session: refused.
    status, _, _ = Client(box.url).request("POST", "/language", raw=b"language=en",
                                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 400


def test_the_overview_shows_a_printer_running_out_of_paper_without_a_reload(box: Box, page) -> None:
    printer = FakePrinter()
    try:
        box.add_printer("cuisine", printer.uri, ("kitchen",))
        claim(page, box, admin.setup_code(box.redis))
        page.wait_for_url(box.url + "/")
        page.get_by_text("Tout fonctionne.").wait_for(timeout=20_000)
        printer.set_state(paper="out")
        alert = page.get_by_role("alert").filter(has_text="cuisine")
        alert.wait_for(timeout=20_000)  # the page polls: no reload
        assert "plus de papier" in alert.inner_text() and "mettez un nouveau rouleau" in alert.inner_text()
        shoot(page, "overview-problem")
        printer.set_state(paper="ok")
        page.get_by_text("Tout fonctionne.").wait_for(timeout=20_000)
        shoot(page, "overview")
    finally:
        printer.stop()


def test_the_language_switches_and_stays(box: Box, page) -> None:
    claim(page, box, admin.setup_code(box.redis))
    page.wait_for_url(box.url + "/")
    page.get_by_role("button", name="English").click()
    assert page.get_by_role("heading", name="Overview").is_visible()
    page.reload()
    assert page.get_by_role("heading", name="Overview").is_visible()
    page.get_by_role("button", name="Français").click()
    assert page.get_by_role("heading", name="Vue d'ensemble").is_visible()


def test_every_message_of_the_page_is_translated() -> None:
    """The catalogues are complete: every message the templates and the rules show has a
    French translation, and the English catalogue lists it too."""
    from babel.messages.extract import extract_from_dir
    from babel.messages.pofile import read_po

    webui = ROOT / "webui"
    found = {message for _, _, message, _, _ in extract_from_dir(
        str(webui / "templates"), method_map=[("**.html", "jinja2")],
        options_map={"**.html": {"extensions": "jinja2.ext.i18n"}})}
    from appliance import dashboard

    found |= set(dashboard.REMEDIES) | set(dashboard.REMEDIES.values()) | {dashboard.UNREACHABLE}
    for language in ("fr", "en"):
        with (webui / "translations" / language / "LC_MESSAGES" / "messages.po").open("rb") as source:
            catalogue = read_po(source)
        missing = sorted(m for m in found if isinstance(m, str) and (m not in catalogue or (
            language == "fr" and not catalogue[m].string)))
        assert missing == [], f"{language}: {missing}"


def test_admin_reset_password_from_the_shell(box: Box, page) -> None:
    claim(page, box, admin.setup_code(box.redis))
    page.wait_for_url(box.url + "/")
    subprocess.run(box.argv("admin", "reset-password", "--stdin"), input="nouveau mot de passe\n", text=True,
                   check=True, capture_output=True)
    page.get_by_role("button", name="Se déconnecter").click()
    page.get_by_label("Mot de passe").fill("nouveau mot de passe")
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(box.url + "/")
    said = subprocess.run(box.argv("setup-code"), capture_output=True, text=True, check=True).stdout
    assert "set up already" in said
