"""A web POS in a browser: the demo page, loaded from another origin over HTTPS, pairs with the
box, pushes a ticket and prints it, in Debian's Chromium with the box's own CA trusted (an
NSS database made for this browser, as a shop trusts it on a tablet). Also: the certificate
names the box and its addresses, the CA downloads, and origins are set from the shell."""

from __future__ import annotations

import shutil
import ssl
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509

from appliance.access import devices, origins
from appliance.sync import sessions
from appliance.system import certs
from tests.box import SCREENSHOTS, Box, wait_for
from tests.fakeprinter import FakePrinter

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CERTUTIL = shutil.which("certutil")


def test_the_certificate_names_the_box_and_is_renewed_for_a_new_address(tmp_path: Path) -> None:
    assert certs.ensure(tmp_path, ["192.168.1.20"]) is True
    assert certs.ensure(tmp_path, ["192.168.1.20"]) is False  # nothing changed: nothing written
    where = certs.paths(tmp_path)
    server = x509.load_pem_x509_certificate(where.cert.read_bytes())
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "comptoir.local" in names.get_values_for_type(x509.DNSName)
    assert {str(a) for a in names.get_values_for_type(x509.IPAddress)} == {"127.0.0.1", "192.168.1.20"}
    ca_before = where.ca_cert.read_bytes()
    assert certs.ensure(tmp_path, ["192.168.1.20", "10.0.0.7"]) is True  # a DHCP renewal, a second link
    assert where.ca_cert.read_bytes() == ca_before  # tablets keep trusting the same CA
    assert b"com.apple.security.root" in certs.apple_profile(tmp_path, "Chez Zofia")


def test_origins_are_set_from_the_shell(box: Box) -> None:
    run = subprocess.run(box.argv("settings", "origins", "https://POS.example.com/", "https://odoo.example:8069"),
                         capture_output=True, text=True, timeout=30)
    assert run.returncode == 0 and "https://odoo.example:8069, https://pos.example.com" in run.stdout
    bad = subprocess.run(box.argv("settings", "origins", "pos.example.com/path"), capture_output=True, text=True,
                         timeout=30)
    assert bad.returncode != 0 and "an origin is a scheme and a host" in bad.stderr
    assert origins.listed(box.redis) == ["https://odoo.example:8069", "https://pos.example.com"]  # kept
    cleared = subprocess.run(box.argv("settings", "origins", "--none"), capture_output=True, text=True, timeout=30)
    assert "none" in cleared.stdout and origins.listed(box.redis) == []


def test_the_ca_downloads_without_login_and_secures_the_box(box: Box) -> None:
    pem = urllib.request.urlopen(f"{box.url}/ca.pem", timeout=10).read()
    context = ssl.create_default_context(cadata=pem.decode())
    for url in (f"{box.https_url}/healthz", f"https://localhost:{box.ports.epos_https}/healthz"):
        assert urllib.request.urlopen(url, context=context, timeout=10).status == 200
    profile = urllib.request.urlopen(f"{box.url}/comptoir.mobileconfig", timeout=10)
    assert profile.headers["Content-Type"] == "application/x-apple-aspen-config"


@pytest.fixture
def trusting_home(box: Box, tmp_path: Path) -> Iterator[Path]:
    """A HOME whose NSS database trusts the box's CA: Chromium on Linux reads it."""
    if CERTUTIL is None:
        pytest.skip("needs certutil (apt-get install libnss3-tools)")
    home = tmp_path / "home"
    nssdb = home / ".pki" / "nssdb"
    nssdb.mkdir(parents=True)
    subprocess.run([CERTUTIL, "-d", f"sql:{nssdb}", "-N", "--empty-password"], check=True, capture_output=True)
    subprocess.run([CERTUTIL, "-d", f"sql:{nssdb}", "-A", "-t", "C,,", "-n", "comptoir",
                    "-i", str(certs.paths(box.data_dir).ca_cert)], check=True, capture_output=True)
    yield home


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (apt-get install chromium)")
def test_the_demo_web_pos_prints_from_another_origin_over_https(box: Box, trusting_home: Path) -> None:
    from playwright.sync_api import sync_playwright

    printer = FakePrinter()
    try:
        box.add_printer("comptoir", printer.uri, ("receipt",))
        sessions.open_register(box.redis, {"device_id": "test", "role": "manager", "name": "test"})
        page_origin = f"https://localhost:{box.ports.https}"  # another origin than the API's 127.0.0.1
        origins.replace(box.redis, [page_origin])
        pin = devices.new_pin(box.redis)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, env={"HOME": str(trusting_home)},
                                                 args=["--no-sandbox", "--disable-background-networking"])
            try:
                page = browser.new_page()  # no ignore_https_errors: the CA must be trusted for real
                page.goto(f"{page_origin}/demo/?box={box.https_url}")
                page.get_by_label("Pairing PIN").fill(pin)
                page.get_by_role("button", name="Pair with the box").click()
                page.get_by_text("Paired, session open.").wait_for(timeout=15_000)
                page.get_by_role("button", name="Push the ticket").click()
                page.get_by_text("Ticket pushed: applied, applied.").wait_for(timeout=15_000)
                page.get_by_role("button", name="Print the ticket").click()
                page.get_by_text("Printed on paper.").wait_for(timeout=30_000)
                page.screenshot(path=str(SCREENSHOTS / "demo-web-pos.png"))
            finally:
                browser.close()
        assert "2x Żurek" in printer.wait_receipts(1, timeout=10)[0].text
        wait_for(lambda: any(t["label"] == "Web table" for t in _tickets(box)), 10, "the ticket to be in the box")
    finally:
        printer.stop()


def _tickets(box: Box) -> list[dict]:
    from appliance.sync import log

    return log.snapshot(box.redis, log.Viewer("test", "", "manager"))["state"].get("ticket", [])
