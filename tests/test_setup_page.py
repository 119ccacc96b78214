"""The setup page, driven as a shop owner would: in headless Chromium (Debian's package, through
Playwright's client), by the labels and roles a screen reader sees, at phone and desktop width.
Screenshots of each page go to a temporary folder, or to ``COMPTOIR_SCREENSHOTS`` when set:
``make screenshots`` refreshes the ones the README shows (docs/screenshots/); a test run never
writes into the checkout."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Iterator

import pytest

from appliance.access import devices, origins, owner
from appliance.printing import printers
from appliance.store import keys
from appliance.system import addresses, wifi
from appliance.system.update import receive
from appliance.tools.client import Client
from tests.box import ROOT, SCREENSHOTS, Box, free_port, wait_for
from tests.fakeprinter import FakePrinter

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SHOTS = SCREENSHOTS
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
    assert not owner.claimed(box.redis)
    code = owner.setup_code(box.redis)
    claim(page, box, code)
    page.wait_for_url(box.url + "/")
    assert page.get_by_role("heading", name="Vue d'ensemble").is_visible()
    assert page.get_by_text("Chez Zofia").first.is_visible()
    assert owner.setup_code(box.redis) is None  # used up
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
    claim(page, box, owner.setup_code(box.redis))
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
        claim(page, box, owner.setup_code(box.redis))
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
    claim(page, box, owner.setup_code(box.redis))
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
    from appliance.discovery import search
    from appliance.web import pages, read_models

    found |= set(read_models.REMEDIES) | set(read_models.REMEDIES.values()) | {read_models.UNREACHABLE}
    from appliance import settings as owner_settings
    from appliance.printing import history, languages, printers, reports

    found |= {*owner.MESSAGES, *owner_settings.MESSAGES, *(s.label for s in owner_settings.DECLARED if s.label),
              search.SUBNET_FORMAT, *search.NOTES, *reports.WORDS, printers.PORT_RANGE, printers.PORT_TAKEN,
              printers.UNLIKE_BACKUP, *languages.NAMES.values(),
              origins.FORMAT, *receive.REFUSALS, *wifi.EVENTS, wifi.NO_NETWORKMANAGER, wifi.JOIN_FAILED,
              wifi.NAME_NEEDED, wifi.NO_WIFI, wifi.NOT_HEARD, addresses.ASKING, addresses.NEEDS_ETHERNET,
              *history.MESSAGES, *pages.CONNECTIONS.values()}
    for language in ("fr", "en"):
        with (webui / "translations" / language / "LC_MESSAGES" / "messages.po").open("rb") as source:
            catalogue = read_po(source)
        missing = sorted(m for m in found if isinstance(m, str) and (m not in catalogue or (
            language == "fr" and not catalogue[m].string)))
        assert missing == [], f"{language}: {missing}"


def test_admin_reset_password_from_the_shell(box: Box, page) -> None:
    claim(page, box, owner.setup_code(box.redis))
    page.wait_for_url(box.url + "/")
    subprocess.run(box.argv("admin", "reset-password", "--stdin"), input="nouveau mot de passe\n", text=True,
                   check=True, capture_output=True)
    page.get_by_role("button", name="Se déconnecter").click()
    page.get_by_label("Mot de passe").fill("nouveau mot de passe")
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(box.url + "/")
    said = subprocess.run(box.argv("setup-code"), capture_output=True, text=True, check=True).stdout
    assert "set up already" in said


def logged_in(page, box: Box) -> None:
    claim(page, box, owner.setup_code(box.redis))
    page.wait_for_url(box.url + "/")


def test_pairing_a_tablet_with_the_pin_the_page_shows(box: Box, page) -> None:
    logged_in(page, box)
    page.get_by_role("link", name="Tablettes", exact=True).click()
    page.get_by_label("Nom de la tablette").fill("Terrasse")
    page.get_by_role("button", name="Afficher un code d'appairage").click()
    pin = page.get_by_label("Code à taper sur la tablette").inner_text().strip()
    assert re.fullmatch(r"\d{6}", pin)
    assert page.get_by_role("img", name="QR code avec l'adresse du boîtier et le code d'appairage").is_visible()
    shoot(page, "tablets-pairing")
    tablet = Client(box.url)
    assert tablet.pair(pin)["name"] == "Terrasse"
    page.get_by_role("link", name="Tablettes", exact=True).click()
    assert page.get_by_text("Terrasse", exact=True).is_visible()
    card = page.locator("li", has=page.get_by_text("Terrasse", exact=True)).first
    assert "pas encore entendue" in card.inner_text()
    tablet.printers()  # it talks to the box: connected now
    page.reload()
    assert "connectée" in card.inner_text()
    paired = devices.find(box.redis, "Terrasse")
    box.redis.hset(keys.device(paired["device_id"]), "last_seen", time.time() - 300)  # five minutes ago
    page.reload()
    assert "vue il y a 5 minutes" in card.inner_text()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Révoquer Terrasse").click()
    page.get_by_text("Aucune tablette appairée.").wait_for()
    assert tablet.request("GET", "/api/v1/printers")[0] == 401


def test_adding_a_network_printer_and_printing_a_test_page(box: Box, page) -> None:
    printer = FakePrinter()
    try:
        logged_in(page, box)
        page.get_by_role("link", name="Imprimantes", exact=True).click()
        page.get_by_label("Nom", exact=True).fill("Cuisine")  # capitals are refused, with what to type
        page.get_by_label("Adresse").fill(f"127.0.0.1:{printer.port}")
        page.get_by_label("cuisine").check()
        page.get_by_role("button", name="Ajouter l'imprimante").click()
        assert page.get_by_role("alert").is_visible()
        assert page.get_by_label("Adresse").input_value() == f"127.0.0.1:{printer.port}"  # kept
        page.get_by_label("Nom", exact=True).fill("cuisine")
        page.get_by_role("button", name="Ajouter l'imprimante").click()
        page.get_by_role("button", name="Imprimer une page de test sur cuisine").click()
        page.get_by_role("status").get_by_text("Page de test envoyée à cuisine : elle s'imprime.").wait_for()
        # The language it speaks, asked of the printer itself, in words.
        page.locator(".cards").get_by_text("ESC/POS (Epson et compatibles)").wait_for(timeout=15_000)
        assert "appris de l'imprimante" in page.locator(".cards").inner_text()
        receipt = printer.wait_receipts(1, timeout=20)[0]
        assert "Crème brûlée" in receipt.text and "cuisine" in receipt.text
        port = free_port()  # an app that prints to an IP address, through the box
        page.get_by_label("Port (9100 pour la plupart des applications ; vide : non exposée)").fill(str(port))
        page.get_by_role("button", name="Enregistrer le port").click()
        page.get_by_text(f"Les applications y impriment sur le port {port}").wait_for()
        page.get_by_text("à l'écoute").wait_for(timeout=15_000)  # live
        from escpos.printer import Network

        app = Network("127.0.0.1", port=port, timeout=5)
        app.text("Zapiekanka\n")
        app.cut()
        app.close()
        assert "Zapiekanka" in printer.wait_receipts(2, timeout=20)[1].text
        shoot(page, "printers")
    finally:
        printer.stop()


def test_a_printer_the_box_finds_is_added_in_one_tap(box: Box, page) -> None:
    """The search probes the subnet the owner types (here one loopback address: the tests
    keep mDNS and the probe of the machine's own subnets off); Bluetooth is absent here and
    the page says so."""
    try:
        printer = FakePrinter(host="127.0.0.77", port=9100)
    except OSError as exc:
        pytest.skip(f"port 9100 on 127.0.0.77 is taken here ({exc})")
    printer.engine.maker, printer.engine.printer_id = b"EPSON", b"TM-m30III"
    try:
        logged_in(page, box)
        page.get_by_role("link", name="Imprimantes", exact=True).click()
        page.get_by_label("Sonder aussi ce sous-réseau (facultatif)").fill("10.0.0.0/8")
        page.get_by_role("button", name="Chercher des imprimantes").click()
        assert page.get_by_text("écrivez le sous-réseau comme 192.168.1.0/24").is_visible()
        page.get_by_label("Sonder aussi ce sous-réseau (facultatif)").fill("127.0.0.77/32")
        page.get_by_role("button", name="Chercher des imprimantes").click()
        add = page.get_by_role("link", name="Ajouter EPSON TM-m30III")
        add.wait_for(timeout=30_000)  # live: the page was not reloaded
        assert page.get_by_text("Bluetooth n'est pas disponible").is_visible()
        shoot(page, "printers-found")
        add.click()
        assert page.get_by_label("Adresse").input_value() == "tcp://127.0.0.77"
        page.get_by_label("Nom", exact=True).fill("salle")
        page.get_by_label("caisse", exact=True).check()
        page.get_by_role("button", name="Ajouter l'imprimante").click()
        page.get_by_role("button", name="Imprimer une page de test sur salle").click()
        assert "salle" in printer.wait_receipts(1, timeout=20)[0].text
        page.get_by_text("déjà ajoutée").wait_for()
    finally:
        printer.stop()


def test_closing_the_register_with_a_tablet_still_selling(box: Box, page) -> None:
    from appliance.tools.client import Tablet

    printer = FakePrinter()
    box.add_printer("comptoir", printer.uri, ("receipt",))
    logged_in(page, box)
    page.get_by_role("link", name="Caisse").click()
    page.get_by_role("button", name="Ouvrir la caisse").click()
    page.get_by_role("button", name="Fermer la caisse").wait_for()
    tablet = Tablet(box.client("Comptoir 2"), staff="ana")
    tablet.start()
    tablet.mutate("ticket.open", ticket_id="t1", label="Table 1")
    tablet.mutate("ticket.add_line", ticket_id="t1", line_id="l", product="Pierogi", qty=2, unit_price=1250)
    tablet.mutate("ticket.pay", ticket_id="t1", payment_id="p1", method="carte:visa", amount=2500)
    tablet.mutate("ticket.open", ticket_id="t2", label="Table 2")
    tablet.mutate("ticket.add_line", ticket_id="t2", line_id="l", product="Kompot", qty=1, unit_price=900)
    tablet.push()
    page.reload()  # the takings so far, in the shop's currency: by method, by tablet, the bills still open
    takings = page.get_by_role("region", name="Recettes jusqu'ici").inner_text()
    assert "25,00\xa0€" in takings and "1 ticket payé" in takings and "carte:visa" in takings, takings
    assert "Comptoir 2" in takings and "1 ticket encore ouvert, 9,00\xa0€ à encaisser" in takings, takings
    page.get_by_role("button", name="Fermer la caisse").click()
    assert page.get_by_role("heading", name="Ces tablettes vendent encore").is_visible()
    shoot(page, "register-open-sessions")
    asked: list[str] = []

    def confirm(dialog) -> None:
        asked.append(dialog.message)
        dialog.accept()

    page.once("dialog", confirm)
    page.get_by_role("button", name="Fermer de force Comptoir 2").click()
    page.get_by_role("heading", name="Ces tablettes vendent encore").wait_for(state="detached")
    assert "perdues" in asked[0]  # the owner is told, in plain words, what force-closing costs
    # The last tablet selling force-closed, the register closed with it, in the same press.
    page.get_by_text("Comptoir 2 a été fermée de force et la caisse est fermée : rapport Z1 ci-dessous.").wait_for()
    assert page.get_by_role("button", name="Ouvrir la caisse").is_visible()
    report = page.get_by_role("article", name="Rapport Z1")
    assert "25,00" in report.inner_text() and "carte:visa" in report.inner_text()  # the page's locale
    shoot(page, "register-report")
    assert devices.find(box.redis, "Comptoir 2")
    assert page.get_by_label("Imprimante pour Z1").input_value() == "comptoir"  # the receipt printer first
    page.get_by_role("button", name="Imprimer Z1").click()
    paper = printer.wait_receipts(1, timeout=20)[0].text
    assert "Rapport de clôture Z1" in paper and "25,00 €" in paper.replace("\xa0", " ") and "Comptoir 2" in paper
    printer.stop()


def test_the_jobs_page_shows_what_waits_why_and_how_it_looks(box: Box, page) -> None:
    printer = FakePrinter()
    try:
        box.add_printer("bar", printer.uri, ("bar",))
        printer.set_state(paper="out")
        tablet = box.client("bar-tablet")
        job = tablet.print(printer="bar", document={"lines": [{"text": "2x Kompot", "size": "double"}]})
        wait_for(lambda: tablet.job(job["id"])["last_error"], 20, "the job to say why it waits")
        logged_in(page, box)
        page.get_by_role("link", name="Impressions").click()
        picture = page.get_by_role("img", name=f"Ticket de l'impression {job['id'][:8]}")
        picture.wait_for()
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=picture.element_handle())
        assert page.get_by_role("listitem").filter(has=picture).get_by_text("plus de papier").is_visible()
        later = tablet.print(printer="bar", document={"lines": [{"text": "1x Herbata"}]})
        page.get_by_role("img", name=f"Ticket de l'impression {later['id'][:8]}").wait_for(timeout=10_000)  # live
        shoot(page, "jobs")
        for waiting in (job, later):
            page.get_by_role("button", name=f"Annuler l'impression {waiting['id'][:8]}").click()
        page.get_by_text("Rien en attente.").wait_for()
        assert tablet.job(job["id"])["status"] == "cancelled"
        printer.set_state(paper="out")
        broken = tablet.print(printer="bar", document={"lines": [{"text": "3x Pączki"}]})
        wait_for(lambda: tablet.job(broken["id"])["last_error"], 20, "the job to wait for paper")
        payload = box.redis.hget(keys.job(broken["id"]), "payload")
        box.redis.hdel(keys.job(broken["id"]), "payload")  # a record the worker cannot read: a bug
        printer.set_state(paper="ok")
        page.get_by_role("heading", name=re.compile("Impressions en échec")).wait_for(timeout=20_000)
        box.redis.hset(keys.job(broken["id"]), "payload", payload)  # repaired
        page.get_by_role("button", name=f"Réessayer l'impression {broken['id'][:8]}").click()
        assert tablet.wait_job(broken["id"], timeout=20)["status"] == "printed"
        assert "3x Pączki" in printer.wait_receipts(1, timeout=20)[-1].text
    finally:
        printer.stop()


def test_settings_keep_what_was_typed_and_say_what_is_wrong(box: Box, page) -> None:
    from appliance.sync import log, shop
    from appliance.tools.client import Replica

    logged_in(page, box)
    page.get_by_role("link", name="Réglages").click()
    page.get_by_label("Nom du commerce").fill("Bar Pod Lipą")
    page.get_by_label("Qui voit un ticket en attente").select_option("own")
    page.get_by_role("button", name="Enregistrer le commerce").click()
    page.get_by_role("status").wait_for()
    assert shop.name(box.redis) == "Bar Pod Lipą" and log.visibility(box.redis) == "own"
    page.get_by_label("Tables et tickets permanents, un par ligne").fill("Table 10\nTable 2\nTerrasse")
    page.get_by_role("button", name="Enregistrer les tables").click()
    page.get_by_role("status").wait_for()
    tables = page.get_by_label("Tables et tickets permanents, un par ligne")
    assert tables.input_value() == "Table 2\nTable 10\nTerrasse"  # in the order a person reads them
    tablet = Replica()
    tablet.apply(box.client("Tablette salle").pull())
    assert {t["label"] for t in tablet.state["ticket"].values()} == {"Table 2", "Table 10", "Terrasse"}
    page.get_by_label("Adresse du back-office").fill("ftp://nope")
    page.get_by_role("button", name="Relier le back-office").click()
    assert page.get_by_text("l'adresse du back-office commence par http:// ou https://").is_visible()
    assert page.get_by_label("Adresse du back-office").input_value() == "ftp://nope"  # kept
    page.get_by_label("Mot de passe actuel").fill("pas le bon")
    page.get_by_label("Nouveau mot de passe").fill("encore un autre")
    page.get_by_role("button", name="Changer le mot de passe").click()
    assert page.get_by_text("mot de passe incorrect").is_visible()
    shoot(page, "settings")


def test_tablets_are_renamed_given_a_role_and_a_printer_and_versions_are_watched(box: Box, page) -> None:
    printer = FakePrinter()
    try:
        box.add_printer("caisse", printer.uri, ("receipt",))
        for name, version in (("Salle 1", "2.3.0"), ("Salle 2", "2.4.1")):
            tablet = box.client(name)
            tablet.request("GET", "/api/v1/printers", headers={devices.APP_VERSION_HEADER: version})
        logged_in(page, box)
        page.get_by_role("link", name="Tablettes", exact=True).click()
        warning = page.get_by_role("alert").filter(has_text="même version")
        assert "2.3.0, 2.4.1" in warning.inner_text()
        page.get_by_label("Nom de Salle 1").fill("")
        page.get_by_role("button", name="Enregistrer Salle 1").click()
        assert page.get_by_text("le nom d'une tablette : de 1 à 64 caractères").is_visible()
        page.get_by_label("Nom de Salle 1").fill("Bar")
        page.get_by_label("Rôle de Salle 1").select_option("manager")
        page.get_by_label("Imprimante de tickets de Salle 1").select_option("caisse")
        page.get_by_role("button", name="Enregistrer Salle 1").click()
        page.get_by_label("Nom de Bar").wait_for()
        bar = devices.find(box.redis, "Bar")
        assert bar["role"] == "manager" and bar["receipt_printer"] == "caisse"
        shoot(page, "tablets")
    finally:
        printer.stop()


def test_the_back_office_link_is_tested_and_refused_records_are_sent_again(box: Box, page, tmp_path) -> None:
    import json

    from appliance.store import keys
    from tests.test_backoffice import BackOffice

    logged_in(page, box)
    page.get_by_role("link", name="Réglages").click()
    closed = f"http://127.0.0.1:{free_port()}"
    page.get_by_label("Adresse du back-office").fill(closed)
    page.get_by_role("button", name="Relier le back-office").click()
    page.get_by_role("button", name="Tester la connexion").click()
    assert page.get_by_text("catalogue").first.is_visible()  # the error, in words, next to the link form
    office = BackOffice(tmp_path).start()
    try:
        page.get_by_label("Adresse du back-office").fill(office.url)
        page.get_by_label("Jeton du back-office").fill("test-token")
        page.get_by_role("button", name="Relier le back-office").click()
        page.get_by_role("button", name="Tester la connexion").click()
        assert page.get_by_role("status").inner_text() == "Le back-office répond."
        refused = {"record": {"kind": "sale", "id": "x1", "data": {}}, "reason": "unknown shop", "at": 0}
        box.redis.rpush(keys.dead_letters(), json.dumps(refused))
        page.reload()
        assert page.get_by_text("Enregistrements refusés par le back-office : 1").is_visible()
        page.get_by_role("button", name="Les renvoyer").click()
        assert box.redis.llen(keys.dead_letters()) == 0
        # Back in the outbox, or already forwarded by the box to the back office.
        wait_for(lambda: "sale:x1" in office.sales() or any(
            b"x1" in fields[b"record"] for _, fields in box.redis.xrange(keys.outbox())), 10, "the record sent again")
    finally:
        office.kill()


def test_an_update_is_sent_from_the_page_and_a_wrong_file_is_refused_in_words(tmp_path, page) -> None:
    from tests import bundles

    key, bundle = bundles.appliance_only("9.1.0", tmp_path)
    (tmp_path / "photo.jpg").write_bytes(b"\xff\xd8\xff not an update")
    box = Box(tmp_path / "box")
    box.env = {"APPLIANCE_UPDATE_KEYS": str(key.parent)}
    box.start()
    try:
        logged_in(page, box)
        page.get_by_role("link", name="Réglages").click()
        assert page.get_by_text("la version d'origine de la carte").is_visible()
        page.get_by_label("Fichier de mise à jour (.tar), signé par Comptoir").set_input_files(tmp_path / "photo.jpg")
        page.get_by_role("button", name="Installer la mise à jour").click()
        assert page.get_by_text("ce fichier n'est pas une mise à jour").is_visible(), page.inner_text("main")
        page.get_by_label("Fichier de mise à jour (.tar), signé par Comptoir").set_input_files(bundle)
        page.get_by_role("button", name="Installer la mise à jour").click()
        assert page.get_by_text("Mise à jour 9.1.0 en cours").is_visible()
        assert (box.data_dir / "versions" / "incoming.tar").exists()  # for comptoir-update.service
    finally:
        box.stop()


def test_the_network_page_says_where_wifi_is_managed(box: Box, page) -> None:
    logged_in(page, box)
    page.get_by_role("link", name="Réseau").click()
    assert page.get_by_role("heading", name="Réseau").is_visible()
    assert page.get_by_role("heading", name="Maintenant").is_visible()  # NetworkManager's view, or why there is none


def test_the_owner_accepts_printers_that_call_the_box_on_the_printers_page(box: Box, page) -> None:
    """A Star CloudPRNT printer and an Epson one polling with Server Direct Print, each
    accepted from its card."""
    from tests.cloudprnt_printer import CloudPrinter
    from tests.sdp_printer import SdpPrinter

    caller = CloudPrinter(box.url, "00:11:62:aa:bb:01").start()
    epson = SdpPrinter(box.url, "KASA-1").start()
    try:
        logged_in(page, box)
        page.get_by_role("link", name="Imprimantes", exact=True).click()
        star_card = page.locator("#callers li", has_text="Imprimante Star CloudPRNT 00:11:62:aa:bb:01")
        star_card.wait_for(timeout=20_000)
        star_card.get_by_label("Nom", exact=True).fill("terrasse")
        star_card.get_by_role("button", name="Accepter cette imprimante").click()
        page.locator("li.card", has_text="terrasse").get_by_text("appelle le boîtier (Star CloudPRNT)").wait_for(
            timeout=20_000)
        assert printers.get(box.redis, "terrasse").language == "starprnt"
        epson_card = page.locator("#callers li", has_text="Imprimante Epson Server Direct Print KASA-1")
        epson_card.wait_for(timeout=20_000)
        epson_card.get_by_label("Nom", exact=True).fill("kasa")
        epson_card.get_by_role("button", name="Accepter cette imprimante").click()
        page.locator("li.card", has_text="kasa").get_by_text("appelle le boîtier (Epson Server Direct Print)").wait_for(
            timeout=20_000)
        assert printers.get(box.redis, "kasa").language == "escpos"
    finally:
        caller.stop()
        epson.stop()


def test_the_owner_finds_table_7_s_ticket_and_prints_a_copy(box: Box, page, make_printer) -> None:
    """"Did table 7's ticket print?": the jobs page's history answers, searched by the ticket's
    words, and its "Reprint" prints a copy marked DUPLICATA / COPY, acknowledged on the page."""
    logged_in(page, box)
    kitchen = make_printer()
    box.add_printer("cuisine", kitchen.uri, ("kitchen",))
    tablet = box.client("Terrasse")
    seven = tablet.print(printer="cuisine", document={"lines": [{"text": "Table 7"}, {"text": "2x Żurek"}]})
    nine = tablet.print(printer="cuisine", document={"lines": [{"text": "Table 9"}, {"text": "1x Kompot"}]})
    for job in (seven, nine):
        assert tablet.wait_job(job["id"], timeout=20)["status"] == "printed"
    page.get_by_role("link", name="Impressions", exact=True).click()
    page.get_by_label("Mots du ticket (une table, un plat)").fill("table 7 zurek")
    page.get_by_role("button", name="Chercher").click()
    history = page.locator("#history")
    history.get_by_text("Sur le papier à").wait_for()
    assert history.locator("li.job").count() == 1  # table 7's only
    assert "imprimé" in history.locator("li.job").inner_text() and "Terrasse" in history.locator("li.job").inner_text()
    shoot(page, "jobs-history")
    before = len(kitchen.receipts)
    page.get_by_role("button", name=f"Réimprimer l'impression {seven['id'][:8]}").click()
    page.get_by_text("Une copie a été envoyée à cuisine, marquée DUPLICATA / COPY.").wait_for()
    paper = kitchen.wait_receipts(before + 1, timeout=20)[-1].text
    assert "DUPLICATA / COPY" in paper and "Table 7" in paper
    icon = page.request.get(box.url + "/favicon.ico")  # the tab's icon, not a 404
    assert icon.ok and icon.headers["content-type"] == "image/x-icon"
    # The shop's currency and how long the history keeps every job, set on the settings page.
    from appliance import settings as owner_settings

    page.get_by_role("link", name="Réglages", exact=True).click()
    page.get_by_label("Devise").select_option("PLN")
    page.get_by_label("Jours pendant lesquels la page Impressions garde chaque impression").fill("14")
    page.get_by_role("button", name="Enregistrer le commerce").click()
    page.get_by_role("status").get_by_text("Enregistré.").wait_for()
    assert owner_settings.get(box.redis, "currency") == "PLN"
    assert owner_settings.get(box.redis, "job_history_days") == 14
    assert page.get_by_label("Devise").input_value() == "PLN"
