"""QZ-compatible printing: a web POS built on QZ Tray's own JavaScript client (npm ``qz-tray``,
pinned by tests/node/package-lock.json), loaded in Debian's Chromium from another origin, its
host set to the box, prints on the box's printers once the owner trusts its certificate; the
protocol's refusals (a bad signature, a replay, an untrusted site), the owner's "any listed
web app" setting and the answer that waits for paper, with a plain websocket client."""

from __future__ import annotations

import base64
import datetime
import hashlib
import http.server
import io
import json
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from PIL import Image
from websockets.sync.client import connect

from appliance import settings
from appliance.access import origins, owner
from appliance.printing import qz
from appliance.system import certs
from tests.box import ROOT, SCREENSHOTS, Box, free_port
from tests.fakeprinter import FakePrinter
from tests.test_setup_page import claim

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CERTUTIL = shutil.which("certutil")
QZ_TRAY = ROOT / "tests" / "node" / "node_modules" / "qz-tray" / "qz-tray.js"


def signing_pair(name: str) -> tuple[rsa.RSAPrivateKey, str]:
    """A site's signing key and self-signed certificate, as a shop's POS vendor makes them."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(datetime.datetime(2025, 1, 1))
            .not_valid_after(datetime.datetime(2035, 1, 1)).sign(key, hashes.SHA256()))
    return key, cert.public_bytes(serialization.Encoding.PEM).decode()


def sign(key: rsa.RSAPrivateKey, to_sign: str) -> str:
    """What a POS vendor's server does with qz-tray.js's request (openssl dgst -sha512 -sign)."""
    return base64.b64encode(key.sign(to_sign.encode(), padding.PKCS1v15(), hashes.SHA512())).decode()


def png(width: int = 200, height: int = 60) -> str:
    picture = Image.new("1", (width, height), 1)
    for x in range(width):
        for y in range(10):
            picture.putpixel((x, y), 0)
    out = io.BytesIO()
    picture.save(out, format="PNG")
    return base64.b64encode(out.getvalue()).decode()


PAGE = """<!doctype html><meta charset="utf-8"><title>A web POS</title>
<script src="/qz-tray.js"></script>
<script>
qz.security.setCertificatePromise(function (resolve, reject) {
  fetch("/cert.pem").then(function (r) { return r.text(); }).then(resolve, reject);
});
qz.security.setSignatureAlgorithm("SHA512");
qz.security.setSignaturePromise(function (toSign) {
  return function (resolve, reject) {
    fetch("/sign?request=" + encodeURIComponent(toSign)).then(function (r) { return r.text(); }).then(resolve, reject);
  };
});
</script>"""


@pytest.fixture
def pos_site(tmp_path: Path) -> Iterator[tuple[str, rsa.RSAPrivateKey, str]]:
    """The web POS's own site (another origin than the box): its page, qz-tray.js, its
    certificate and its signing endpoint."""
    if not QZ_TRAY.exists():
        pytest.skip("needs the qz-tray npm package (npm ci --prefix tests/node)")
    key, pem = signing_pair("Bistro POS")

    class Site(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            body, kind = {"/": (PAGE.encode(), "text/html"), "/qz-tray.js": (QZ_TRAY.read_bytes(), "text/javascript"),
                          "/cert.pem": (pem.encode(), "text/plain")}.get(url.path, (b"", "text/plain"))
            if url.path == "/sign":
                body = sign(key, parse_qs(url.query)["request"][0]).encode()
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Site)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", key, pem
    server.shutdown()


@pytest.fixture
def trusting_home(box: Box, tmp_path: Path) -> Path:
    """A HOME whose NSS database trusts the box's CA (Chromium on Linux reads it): wss://."""
    if CERTUTIL is None:
        pytest.skip("needs certutil (apt-get install libnss3-tools)")
    nssdb = tmp_path / "home" / ".pki" / "nssdb"
    nssdb.mkdir(parents=True)
    subprocess.run([CERTUTIL, "-d", f"sql:{nssdb}", "-N", "--empty-password"], check=True, capture_output=True)
    subprocess.run([CERTUTIL, "-d", f"sql:{nssdb}", "-A", "-t", "C,,", "-n", "comptoir",
                    "-i", str(certs.paths(box.data_dir).ca_cert)], check=True, capture_output=True)
    return tmp_path / "home"


def connect_js(box: Box, secure: bool) -> str:
    return (f"qz.websocket.connect({{host: '127.0.0.1', usingSecure: {str(secure).lower()}, retries: 0, "
            f"port: {{secure: [{box.ports.qz_secure}], insecure: [{box.ports.qz}]}}}})")


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (apt-get install chromium)")
def test_a_web_pos_on_qz_tray_s_client_prints_once_the_owner_trusts_its_certificate(
        box: Box, pos_site, trusting_home: Path) -> None:
    from playwright.sync_api import sync_playwright

    site, _, _ = pos_site
    kitchen, counter = FakePrinter(speed_mm_s=60), FakePrinter()
    try:
        box.add_printer("cuisine", kitchen.uri, ("kitchen",))
        box.add_printer("caisse", counter.uri, ("receipt",))
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, env={"HOME": str(trusting_home)},
                                                 args=["--no-sandbox", "--disable-background-networking"])
            try:
                page = browser.new_page()  # no ignore_https_errors: the box's CA is trusted for real
                page.goto(site)
                refused = page.evaluate(f"{connect_js(box, True)}.then(() => 'connected', e => e.message)")
                assert refused == qz.NOT_TRUSTED
                [asking] = qz.listed(box.redis)
                assert asking.subject == "CN=Bistro POS" and not asking.trusted and asking.origin == site
                listed = subprocess.run(box.argv("qz", "list"), capture_output=True, text=True, timeout=30).stdout
                assert "Bistro POS" in listed and "asking" in listed
                # The owner trusts it on the setup page, in French.
                owner_page = browser.new_page(locale="fr-FR")
                claim(owner_page, box, owner.setup_code(box.redis))
                owner_page.wait_for_url(box.url + "/")
                owner_page.goto(box.url + "/settings#qz")
                card = owner_page.locator("#qz")
                assert card.get_by_text("demande à imprimer").is_visible()
                card.get_by_role("button", name="Faire confiance à CN=Bistro POS").click()
                owner_page.locator("#qz").get_by_text("de confiance", exact=True).wait_for(timeout=10_000)
                owner_page.screenshot(path=str(SCREENSHOTS / "qz-trusted.png"), full_page=True)
                page.evaluate("qz.websocket.isActive() ? qz.websocket.disconnect() : null")
                assert page.evaluate(f"{connect_js(box, True)}.then(() => qz.api.getVersion())") == qz.VERSION
                assert sorted(page.evaluate("qz.printers.find()")) == ["caisse", "cuisine"]
                assert page.evaluate("qz.printers.find('kitchen')") == "cuisine"
                assert page.evaluate("qz.printers.getDefault()") == "caisse"
                # Raw ESC/POS as web POS build it (a JS string of byte values), a long ticket:
                # the promise resolves once it is on the paper, not when it is queued.
                lines = "".join(f"Pierogi ruskie x{n}\\n" for n in range(1, 25))
                started = time.monotonic()
                printed_when = page.evaluate(
                    "(async () => { const config = qz.configs.create(await qz.printers.find('kitchen'));"
                    f" await qz.print(config, ['\\x1B\\x40', '{lines}', {{type: 'raw', format: 'command', "
                    "flavor: 'hex', data: '1d564200'}]); return Date.now(); })()")
                assert printed_when and time.monotonic() - started > 0.3  # 24 lines at 60 mm/s
                [ticket] = kitchen.wait_receipts(1, timeout=5)
                assert "Pierogi ruskie x24" in ticket.text and counter.receipts == []
                page.evaluate(f"qz.print(qz.configs.create('caisse'), [{{type: 'pixel', format: 'image', "
                              f"flavor: 'base64', data: '{png()}'}}])")
                assert "[image 200x60]" in counter.wait_receipts(1, timeout=5)[0].text
                page.screenshot(path=str(SCREENSHOTS / "qz-web-pos.png"))
                # Plain ws:// too (a page served over http, the port QZ Tray opens without TLS).
                page.evaluate("qz.websocket.disconnect()")
                page.evaluate(f"{connect_js(box, False)}.then(() => qz.print(qz.configs.create('caisse'), "
                              "['\\x1B\\x40Merci !\\n\\x1DVB\\x00']))")
                assert counter.wait_receipts(2, timeout=5)[1].text.startswith("Merci !")
            finally:
                browser.close()
        assert qz.trust(box.redis, asking.fingerprint, False).subject == "CN=Bistro POS"  # forgotten
        assert qz.listed(box.redis) == []
    finally:
        kitchen.stop()
        counter.stop()


class PlainClient:
    """qz-tray.js's messages, sent by hand (to say what a real client never sends)."""

    def __init__(self, box: Box, origin: str, key: rsa.RSAPrivateKey | None = None) -> None:
        self.connecting = connect(f"ws://127.0.0.1:{box.ports.qz}", origin=origin, open_timeout=10)
        self.socket = self.connecting.__enter__()
        self.key, self.uid = key, 0

    def call(self, call: str | None, params: dict | None = None, timeout: float = 30, **extra) -> dict:
        self.uid += 1
        message: dict = {"call": call, "params": params, "timestamp": int(time.time() * 1000), **extra}
        if params is None:
            del message["params"]
        if call is None:
            message = {"certificate": extra["certificate"], "timestamp": message["timestamp"]}
        elif self.key is not None and "signature" not in extra:
            message["signature"] = sign(self.key, hashlib.sha256(json.dumps(
                {k: message[k] for k in ("call", "params", "timestamp") if k in message},
                separators=(",", ":"), ensure_ascii=False).encode()).hexdigest())
            message["signAlgorithm"] = "SHA512"
        message["uid"] = str(self.uid)
        self.socket.send(json.dumps(message))
        return json.loads(self.socket.recv(timeout))

    def close(self) -> None:
        self.connecting.__exit__(None, None, None)


def test_signatures_are_checked_replays_refused_and_the_answer_waits_for_paper(box: Box, printer) -> None:
    box.add_printer("caisse", printer.uri, ("receipt",))
    key, pem = signing_pair("Bistro POS")
    other_key, _ = signing_pair("Someone else")
    qz.trust(box.redis, qz.introduce(box.redis, pem, None, time.time()).fingerprint)
    client = PlainClient(box, "https://bistro.example", key)
    try:
        assert client.call(None, certificate=pem)["result"] is None
        found = client.call("printers.find", {"query": "receipt"})
        assert found["result"] == "caisse"
        assert client.call("printers.find", {})["result"] == ["caisse"]  # a fresh signature each time
        wrong = client.call("printers.find", {}, signature=sign(other_key, "0" * 64), signAlgorithm="SHA512")
        assert wrong["error"] == qz.BAD_SIGNATURE
        job = {"printer": {"name": "caisse"}, "options": {"encoding": "CP852"},
               "data": ["\x1b@\x1bt\x12Żurek 12,00 zł\n\x1dVB\x00"]}
        printer.set_state(paper="out")
        client.uid += 1
        stamp = int(time.time() * 1000)
        signed = {"call": "print", "params": job, "timestamp": stamp}
        signature = sign(key, hashlib.sha256(json.dumps(signed, separators=(",", ":"), ensure_ascii=False)
                                             .encode()).hexdigest())
        message = json.dumps({**signed, "uid": "p1", "signature": signature, "signAlgorithm": "SHA512"})
        client.socket.send(message)
        with pytest.raises(TimeoutError):
            client.socket.recv(1.5)  # paper out: no answer yet, and no "printed" either
        assert client.call("getVersion")["result"] == qz.VERSION  # the POS may still talk meanwhile
        printer.set_state(paper="ok")
        answered = json.loads(client.socket.recv(30))
        assert answered == {"uid": "p1", "result": None}
        assert "Żurek 12,00 zł" in printer.receipts[-1].text  # CP852 on a Polish code page
        client.socket.send(message)  # the same signed print again: a replay
        assert json.loads(client.socket.recv(10))["error"] == qz.REPLAYED
        assert len(printer.receipts) == 1
        html = client.call("print", {"printer": {"name": "caisse"}, "data": [{"type": "pixel", "format": "html",
                                                                                "data": "<b>x</b>"}]})
        assert "not available on Comptoir" in html["error"]
    finally:
        client.close()


def test_an_untrusted_site_is_refused_unless_the_owner_lets_listed_web_apps_print(box: Box, printer) -> None:
    box.add_printer("caisse", printer.uri, ("receipt",))
    anonymous = PlainClient(box, "https://bistro.example")
    try:
        assert anonymous.call(None, certificate=None)["error"] == qz.NO_CERTIFICATE
        assert anonymous.call("printers.find", {})["error"] == qz.NO_CERTIFICATE
    finally:
        anonymous.close()
    origins.replace(box.redis, ["https://bistro.example"])
    settings.put(box.redis, qz_paired_origins=True)
    for origin, allowed in (("https://bistro.example", True), ("https://elsewhere.example", False)):
        client = PlainClient(box, origin)
        try:
            hello = client.call(None, certificate=None)
            assert ("error" not in hello) is allowed, hello
            if allowed:
                done = client.call("print", {"printer": {"name": "caisse"}, "data": ["\x1b@Bon appétit\n\x1dVB\x00"]})
                assert done["result"] is None and "Bon app" in printer.receipts[-1].text
        finally:
            client.close()
