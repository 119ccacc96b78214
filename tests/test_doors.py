"""The box's doors, tried as a stranger on the shop's Wi-Fi would: a real box on loopback, the
other devices as other loopback addresses (127.0.1.x), a printer model that behaves like a
real one. The owner's login and sessions, the page's redirects and escaping, what text can do
on paper, the certificate authority tablets trust, the update upload, and the app ports."""

from __future__ import annotations

import contextlib
import datetime
import gzip
import ipaddress
import re
import shutil
import socket
import ssl
import statistics
import threading
import time
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from appliance import settings
from appliance.access import owner
from appliance.errors import Invalid
from appliance.printing import jobs, printers, virtual_ports
from appliance.store import keys
from appliance.system import certs
from appliance.system.update import bundle, receive
from tests.box import Box, Strangers, device, free_port, wait_for
from tests.fakeprinter import FakePrinter

PASSWORD = "sel et poivre"




def form_token(s: requests.Session, url: str) -> str:
    page = s.get(url, timeout=10)
    match = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert match, page.text[:500]
    return match.group(1)


def log_in(s: requests.Session, box: Box, password: str = PASSWORD, base: str | None = None,
           **query: str) -> requests.Response:
    base = base or box.url
    s.verify = str(certs.paths(box.data_dir).ca_cert)
    token = form_token(s, f"{base}/login")
    return s.post(f"{base}/login", params=query, data={"csrf": token, "password": password},
                  allow_redirects=False, timeout=30)


def logged_in(s: requests.Session, box: Box) -> bool:
    answer = s.get(f"{box.url}/settings", allow_redirects=False, timeout=10)
    return answer.status_code == 200


@pytest.fixture(scope="module")
def owned(shared_box: Box) -> Box:
    """A box its owner claimed."""
    r = shared_box.redis
    owner.claim(r, owner.setup_code(r), "Chez Zofia", "fr", PASSWORD, "owner")
    return shared_box


@pytest.fixture(scope="module")
def kitchen(owned: Box):
    printer = FakePrinter()
    owned.add_printer("cuisine", printer.uri, ("kitchen", "receipt"))
    yield printer
    printer.stop()


# -- the login ------------------------------------------------------------------------------------

def test_fifty_strangers_logging_in_at_once_do_not_stall_the_tablets(owned: Box, kitchen: FakePrinter) -> None:
    """Each wrong password costs an Argon2 hash; they run off the event loop, a core's worth at
    a time, the rest refused at once, and a 1 MB password is refused unread, so the tablets'
    jobs are still answered (11 to 25 s at p99 when the hashes ran on the loop)."""
    tablet = owned.client("caisse-logins")
    strangers = Strangers(owned, 50)
    try:
        wait_for(lambda: sum(strangers.answers.values()) >= 100, 30, "the strangers to be at it")
        latencies = []
        for i in range(40):
            start = time.monotonic()
            status, _, _ = tablet.request("POST", "/api/v1/jobs", {
                "printer": "cuisine", "document": {"lines": [{"text": f"pendant les intrus {i}"}]}})
            latencies.append(time.monotonic() - start)
            assert status == 202
    finally:
        strangers.close()
    latencies.sort()
    # A bound that fails the bug whatever else the machine does; the figure itself, against its
    # goal of 100 ms, is the load bench's (bench/load_bench.py --logins 50, in the README).
    median = statistics.median(latencies)
    assert latencies[-1] < 2.5, f"worst {latencies[-1] * 1000:.0f} ms, median {median * 1000:.0f} ms"
    assert set(strangers.answers) <= {403, 413, 429} and strangers.answers[429] > 0  # 413: 1 MB, never read


def test_a_stranger_locks_out_only_themselves_and_a_login_code_always_opens(owned: Box) -> None:
    stranger, mine = device("127.0.2.1"), device("127.0.2.2")
    answers = [log_in(stranger, owned, "pas le bon") for _ in range(owner.FAILURES_PER_CLIENT + 1)]
    assert [a.status_code for a in answers[:-1]] == [403] * owner.FAILURES_PER_CLIENT
    locked = answers[-1]
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0
    assert re.search(r"réessayez dans \d+ s", locked.text)  # how long to wait, in the page's language
    assert log_in(stranger, owned).status_code == 429  # even the right password, from there
    assert log_in(mine, owned).status_code == 302 and logged_in(mine, owned)  # the owner is not locked out
    # At the box: a login code, which opens the page once even from a locked-out address.
    code = owner.new_login_code(owned.redis)
    token = form_token(stranger, f"{owned.url}/login")
    opened = stranger.post(f"{owned.url}/login", data={"csrf": token, "code": code.lower()}, allow_redirects=False,
                           timeout=10)
    assert opened.status_code == 302 and opened.headers["Location"].endswith("/settings#password")
    again = device("127.0.2.3")
    token = form_token(again, f"{owned.url}/login")
    assert again.post(f"{owned.url}/login", data={"csrf": token, "code": code}, timeout=10).status_code == 403  # once


def test_the_login_code_is_made_and_printed_at_the_box(owned: Box, kitchen: FakePrinter) -> None:
    import subprocess

    before = len(kitchen.receipts)
    out = subprocess.run(owned.argv("admin", "login-code", "--print"), capture_output=True, text=True, timeout=60,
                         check=True).stdout
    code = re.search(r"login code: (\w{5}-\w{5})", out).group(1)
    assert code in kitchen.wait_receipts(before + 1, timeout=20)[-1].text
    s = device("127.0.2.9")
    token = form_token(s, f"{owned.url}/login")
    assert s.post(f"{owned.url}/login", data={"csrf": token, "code": code}, allow_redirects=False,
                  timeout=10).status_code == 302


# -- sessions -------------------------------------------------------------------------------------

def test_a_copied_cookie_is_worthless_after_logout_or_a_new_password(owned: Box) -> None:
    owner = device("127.0.3.1")
    assert log_in(owner, owned).status_code == 302
    thief = device("127.0.3.2")
    thief.cookies.update(owner.cookies)
    assert logged_in(thief, owned)  # the same session, until it ends
    owner.post(f"{owned.url}/logout", data={"csrf": form_token(owner, f"{owned.url}/settings")}, timeout=10)
    assert not logged_in(thief, owned) and not logged_in(owner, owned)
    # A new password ends every other session; the owner's own stays.
    phone, laptop = device("127.0.3.3"), device("127.0.3.4")
    log_in(phone, owned)
    log_in(laptop, owned)
    changed = laptop.post(f"{owned.url}/settings/password", data={
        "csrf": form_token(laptop, f"{owned.url}/settings"), "current": PASSWORD, "new": PASSWORD}, timeout=30)
    assert changed.status_code == 200
    assert logged_in(laptop, owned) and not logged_in(phone, owned)
    # Log out everywhere, this one included.
    log_in(phone, owned)
    laptop.post(f"{owned.url}/logout/everywhere", data={"csrf": form_token(laptop, f"{owned.url}/settings")},
                timeout=10)
    assert not logged_in(laptop, owned) and not logged_in(phone, owned)


def test_the_cookie_is_secure_over_https_and_the_secrets_are_private(owned: Box) -> None:
    over_tls = log_in(device(), owned, base=owned.https_url)
    assert over_tls.status_code == 302
    assert "secure" in over_tls.headers["Set-Cookie"].lower() and "httponly" in over_tls.headers["Set-Cookie"].lower()
    plain = log_in(device(), owned)
    assert "secure" not in plain.headers["Set-Cookie"].lower()
    private = [owned.data_dir / "secrets" / "session.key", certs.paths(owned.data_dir).ca_key,
               certs.paths(owned.data_dir).key]
    private += [p for p in owned.data_dir.glob("appendonly*/**/*") if p.is_file()]
    private += list(owned.data_dir.glob("appendonly*.aof"))
    assert len(private) > 3
    for path in private:
        assert path.stat().st_mode & 0o077 == 0, f"{path} is readable by others"
    assert owned.data_dir.stat().st_mode & 0o077 == 0
    dumped = b"".join(owned.redis.dump(k) or b"" for k in owned.redis.scan_iter("comptoir:*"))
    assert (owned.data_dir / "secrets" / "session.key").read_bytes() not in dumped


def test_after_login_the_box_sends_the_owner_only_to_its_own_pages(owned: Box) -> None:
    for hostile in ("/\t/evil.example", "//evil.example", "/\\evil.example", "/\n/evil.example",
                    "https://evil.example", "/%09/evil.example"):
        answer = log_in(device(), owned, next=hostile)
        assert answer.status_code == 302 and answer.headers["Location"] in ("/", f"{owned.url}/"), hostile
    assert log_in(device(), owned, next="/jobs").headers["Location"].endswith("/jobs")


# -- what reaches the paper ------------------------------------------------------------------------

def test_commands_typed_into_text_print_as_marks_not_as_commands(owned: Box, kitchen: FakePrinter) -> None:
    """A note typed with a drawer pulse, a real-time pulse, a cut and a reset in it: one
    receipt, no drawer opened, the note shown with marks where the commands were."""
    tablet = owned.client("caisse-texte")
    before = len(kitchen.receipts)
    note = "Sans oignons\x1bp\x00\x19\xfa\x10\x14\x01\x00\x05\x1dV\x00\x1b@ merci"
    status, _, _ = tablet.request("POST", "/api/v1/jobs", {"printer": "cuisine", "document": {"lines": [
        {"text": note}, {"columns": ["1x Żurek\x1bi", "12.00"]}, {"rule": "\x1d"}]}})
    assert status == 202
    [receipt] = kitchen.wait_receipts(before + 1, timeout=20)[before:]  # one: the cut in the text cut nothing
    assert "Sans oignons" in receipt.text and "merci" in receipt.text and "Żurek" in receipt.text
    assert "?" in receipt.text
    for command in (b"\x1bp", b"\x10\x14", b"\x1bi"):
        assert command not in receipt.raw
    assert receipt.raw.count(b"\x1dV") == 1


# -- the certificate authority ---------------------------------------------------------------------

def _leaf(ca_key: ec.EllipticCurvePrivateKey, ca: x509.Certificate, name: str) -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(ca.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    return (cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()))


def _handshake(ca_file: Path, cert: bytes, key: bytes, name: str, tmp_path: Path) -> None:
    """A TLS client trusting the box's CA connects to a server showing ``cert`` for ``name``."""
    (tmp_path / "leaf.pem").write_bytes(cert)
    (tmp_path / "leaf.key").write_bytes(key)
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(tmp_path / "leaf.pem", tmp_path / "leaf.key")
    with socket.create_server(("127.0.0.1", 0)) as listener:
        def serve() -> None:
            conn, _ = listener.accept()
            try:
                server.wrap_socket(conn, server_side=True).close()
            except (ssl.SSLError, OSError):
                conn.close()
        threading.Thread(target=serve, daemon=True).start()
        client = ssl.create_default_context(cafile=str(ca_file))
        with socket.create_connection(listener.getsockname(), timeout=10) as raw:
            client.wrap_socket(raw, server_hostname=name).close()


def test_the_box_s_ca_vouches_for_the_box_alone(owned: Box, tmp_path: Path) -> None:
    where = certs.paths(owned.data_dir)
    ca = x509.load_pem_x509_certificate(where.ca_cert.read_bytes())
    constraints = ca.extensions.get_extension_for_class(x509.NameConstraints)
    assert constraints.critical
    names = {n.value for n in constraints.value.permitted_subtrees if isinstance(n, x509.DNSName)}
    assert certs.BOX_NAME in names and not any(n in names for n in ("", "local", "example", "com"))
    networks = {n.value for n in constraints.value.permitted_subtrees if isinstance(n, x509.IPAddress)}
    assert ipaddress.ip_network("192.168.0.0/16") in networks and all(n.is_private for n in networks)
    # Whoever reads the CA's key off the card can sign a certificate for any site: no tablet
    # trusting the CA accepts it.
    ca_key = serialization.load_pem_private_key(where.ca_key.read_bytes(), password=None)
    cert, key = _leaf(ca_key, ca, "bank.example")
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(where.ca_cert, cert, key, "bank.example", tmp_path)
    _handshake(where.ca_cert, *_leaf(ca_key, ca, certs.BOX_NAME), certs.BOX_NAME, tmp_path)  # its own name: fine
    assert requests.get(f"{owned.https_url}/healthz", verify=str(where.ca_cert), timeout=10).status_code == 200


def test_a_box_with_an_unconstrained_ca_gets_a_new_one_and_tells_the_owner(tmp_path: Path) -> None:
    box = Box(tmp_path / "box")
    try:
        _replace_an_unconstrained_ca(box)
    finally:
        box.stop()


def _replace_an_unconstrained_ca(box: Box) -> None:
    where = certs.paths(box.data_dir)
    certs.ensure(box.data_dir, [])
    old = where.ca_cert.read_bytes()
    key = serialization.load_pem_private_key(where.ca_key.read_bytes(), password=None)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Comptoir box (before constraints)")])
    now = datetime.datetime.now(datetime.UTC)
    unconstrained = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                     .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=9))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                     .sign(key, hashes.SHA256()))
    where.ca_cert.write_bytes(unconstrained.public_bytes(serialization.Encoding.PEM))
    box.start()  # the update: the web process starts with the old card
    assert where.ca_cert.read_bytes() not in (old, unconstrained.public_bytes(serialization.Encoding.PEM))
    assert x509.load_pem_x509_certificate(where.ca_cert.read_bytes()).extensions.get_extension_for_class(
        x509.NameConstraints)
    owner.claim(box.redis, owner.setup_code(box.redis), "Chez Zofia", "fr", PASSWORD, "owner")
    phone = device()
    log_in(phone, box)
    assert "nouveau certificat" in phone.get(f"{box.url}/", timeout=10).text
    settings = phone.get(f"{box.url}/settings", timeout=10).text
    assert "installez-le à nouveau sur chaque tablette" in settings
    phone.post(f"{box.url}/settings/certificate-installed",
               data={"csrf": form_token(phone, f"{box.url}/settings")}, timeout=10)
    assert "nouveau certificat" not in phone.get(f"{box.url}/", timeout=10).text


# -- the update upload -----------------------------------------------------------------------------

def _post_headers(box: Box, path: str, length: int, cookies: str = "", body: bytes = b"x" * 65536,
                  chunked: bool = False, send: int = 0) -> tuple[int, float, bytes]:
    """A multipart upload that claims ``length`` bytes (or, ``chunked``, streams ``send`` bytes
    without saying how many), from a raw socket: (status, seconds to the answer, the answer)."""
    boundary = "b0undary"
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {cookies}\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\n")
    head += "Transfer-Encoding: chunked\r\n\r\n" if chunked else f"Content-Length: {length}\r\n\r\n"
    part = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"bundle\"; filename=\"big.tar\"\r\n"
            f"Content-Type: application/x-tar\r\n\r\n").encode()
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", box.port), timeout=15) as sock:
        sock.settimeout(15)
        sock.sendall(head.encode())
        if chunked:
            sent = 0
            sock.sendall(b"%x\r\n%s\r\n" % (len(part), part))
            with contextlib.suppress(OSError):
                while sent < send:
                    sock.sendall(b"%x\r\n%s\r\n" % (len(body), body))
                    sent += len(body)
        else:
            with contextlib.suppress(OSError):  # the box stopped reading: it has answered
                sock.sendall(part + body)
        answer = b""
        try:
            while b"\r\n\r\n" not in answer:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                answer += chunk
            answer += sock.recv(65536)
        except OSError:
            pass
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else 0
    return status, time.monotonic() - start, answer


def _data_partition_bytes(box: Box) -> int:
    return sum(p.stat().st_size for p in box.data_dir.rglob("*") if p.is_file() and "appendonly" not in p.name)


def test_uploads_are_refused_before_they_reach_the_card(owned: Box) -> None:
    before = _data_partition_bytes(owned)
    # A stranger: refused before a byte of the body is read.
    status, seconds, _ = _post_headers(owned, "/settings/update", 500 * 1024 * 1024)
    assert status in (302, 403) and seconds < 5
    owner = device()
    log_in(owner, owned)
    cookies = "; ".join(f"{k}={v}" for k, v in owner.cookies.items())
    token = form_token(owner, f"{owned.url}/settings")
    # The owner's 500 MB file: too big, said from the headers, on the page, at once.
    status, seconds, answer = _post_headers(owned, f"/settings/update?csrf={token}", 500 * 1024 * 1024, cookies)
    assert status == 413 and seconds < 10 and "trop gros" in answer.decode(errors="replace")
    # Without a length: refused once past the limit, within 10 s, nothing left behind.
    status, seconds, _ = _post_headers(owned, f"/settings/update?csrf={token}", 0, cookies, chunked=True,
                                       send=receive.MAX_UPLOAD + 8 * 1024 * 1024)
    assert status == 413 and seconds < 10
    # The form's token travels in the address: a stranger's page cannot post it.
    status, _, _ = _post_headers(owned, "/settings/update?csrf=forged", 1000, cookies, body=b"x" * 100)
    assert status == 400
    wait_for(lambda: _data_partition_bytes(owned) < before + 1024 * 1024, 10, "nothing left on the card")
    assert not list((owned.data_dir / "versions").glob("incoming*"))


def test_a_compressed_bomb_is_not_a_bundle_and_is_refused_at_once(tmp_path: Path, monkeypatch) -> None:
    """Bundles are plain tar (``pack`` compresses nothing): a gzip bomb is never unpacked."""
    from appliance import config

    keys_dir = tmp_path / "keys"
    bundle.keygen(keys_dir / "release.key")
    monkeypatch.setenv("APPLIANCE_UPDATE_KEYS", str(keys_dir))
    bomb = tmp_path / "bomb.tar.gz"
    with gzip.open(bomb, "wb", compresslevel=9) as out:
        chunk = b"\0" * (1024 * 1024)
        for _ in range(1024):  # 1 GiB of zeros in about 1 MB
            out.write(chunk)
    start = time.monotonic()
    with bomb.open("rb") as source, pytest.raises(Invalid, match="not an update bundle"):
        receive.receive(config.load(tmp_path / "data"), source)
    assert time.monotonic() - start < 2
    assert not list((tmp_path / "data" / "versions").glob("incoming*"))


# -- the app ports ---------------------------------------------------------------------------------

def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@pytest.fixture(scope="module")
def app_port(owned: Box, kitchen: FakePrinter) -> int:
    port = free_port()
    printers.expose(owned.redis, "cuisine", port)
    wait_for(lambda: owned.redis.hget(keys.virtual_port_states(), "cuisine") == b"listening", 10, "the port to open")
    return port


def _flood(port: int, head: bytes, filler: bytes, most: int, source: str = "127.0.0.1") -> tuple[int, float]:
    """Send ``head`` then ``filler`` until the box closes the connection (or ``most`` bytes):
    how much it took, and how long."""
    start = time.monotonic()
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=20, source_address=(source, 0)) as sock:
        try:
            sock.sendall(head)
            while sent < most:
                sock.sendall(filler)
                sent += len(filler)
        except OSError:
            pass
    return sent, time.monotonic() - start


@pytest.mark.parametrize("head, filler, what", [
    (b"\x1b@\x1dv0\x00\xff\xff\xff\xff", b"\0" * 65536, "a raster header claiming 65535 x 65535 dots"),
    (b"", b"\0" * 65536, "NUL bytes without a cut"),
    (b"\x1b@", b"Zurek 12.00 Pierogi 9.00 Barszcz 7.00 Nalesniki 8.50 Bigos 14.00\n" * 1000,
     "text without a cut"),
])
def test_endless_app_data_ends_the_receipt_marked_and_costs_no_memory(owned: Box, kitchen: FakePrinter,
                                                                        app_port: int, head: bytes, filler: bytes,
                                                                        what: str) -> None:
    [background] = owned.pids("background")
    before_rss, before_redis = _rss_mb(background), owned.redis.info("memory")["used_memory"]
    receipts = len(kitchen.receipts)
    sent, seconds = _flood(app_port, head, filler, 200 * 1024 * 1024)
    assert sent < 8 * 1024 * 1024 and seconds < 10, f"{what}: {sent} bytes in {seconds:.1f} s"
    receipt = kitchen.wait_receipts(receipts + 1, timeout=60)[-1]
    assert "INCOMPLETE" in receipt.text and "too long" in receipt.text and receipt.cut
    assert _rss_mb(background) - before_rss < 50
    assert owned.redis.info("memory")["used_memory"] - before_redis < 50 * 1024 * 1024


def test_one_device_holds_a_few_connections_and_the_others_still_print(owned: Box, kitchen: FakePrinter,
                                                                        app_port: int) -> None:
    held = [socket.create_connection(("127.0.0.1", app_port), timeout=5, source_address=("127.0.4.1", 0))
            for _ in range(virtual_ports.PER_ADDRESS + 4)]
    try:
        def closed_by_box(sock: socket.socket) -> bool:
            sock.settimeout(0.5)
            try:
                return sock.recv(1) == b""
            except TimeoutError:
                return False
            except OSError:
                return True

        refused = sum(closed_by_box(s) for s in held)
        assert refused == 4
        before = len(kitchen.receipts)
        with socket.create_connection(("127.0.0.1", app_port), timeout=5, source_address=("127.0.4.2", 0)) as other:
            other.sendall(b"\x1b@Table 9\n\x1dV\x00")
        assert "Table 9" in kitchen.wait_receipts(before + 1, timeout=20)[-1].text
    finally:
        for s in held:
            s.close()


def test_an_app_receipt_longer_than_the_owner_s_limit_is_ended(owned: Box, kitchen: FakePrinter,
                                                                app_port: int) -> None:
    settings.put(owned.redis, app_receipt_metres=0.5)
    try:
        before = len(kitchen.receipts)
        _flood(app_port, b"\x1b@", b"Ligne de texte\n" * 10, 16 * 1024 * 1024)  # until the box closes it
        receipt = kitchen.wait_receipts(before + 1, timeout=30)[-1]
        assert "too long" in receipt.text and 100 < receipt.text.count("Ligne de texte") <= 120
    finally:
        settings.put(owned.redis, app_receipt_metres=settings.SETTINGS["app_receipt_metres"].default)


# -- what the page shows ---------------------------------------------------------------------------

HOSTILE = "<img src=x onerror=document.title=1>"
CHROMIUM = shutil.which("chromium")


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (apt-get install chromium)")
def test_hostile_names_show_as_typed_and_run_nowhere(box: Box) -> None:
    """Markup typed into every field that reaches the owner's pages: shown as text, never made
    into an element, and the page allows no inline script besides (Content-Security-Policy)."""
    from playwright.sync_api import sync_playwright

    from appliance.access.devices import APP_VERSION_HEADER
    from appliance.sync import sessions
    from appliance.tools.client import Tablet

    r = box.redis
    owner.claim(r, owner.setup_code(r), f"Chez {HOSTILE}", "fr", PASSWORD, "owner")
    model = FakePrinter()
    model.engine.maker, model.engine.printer_id = b"<b>EPSON</b>", b"<script>alert(1)</script>"
    box.add_printer("modele", model.uri, ("receipt",))
    printers.add(r, printers.validate("perdue", f"tcp://{HOSTILE}", ["bar"]))  # its error quotes the address
    wait_for(lambda: printers.describe(r, printers.get(r, "modele"))["model"], 20, "the model's name")
    sessions.open_register(r, {"device_id": "setup-page", "role": "manager", "name": "setup page"})
    client = box.client(f"Terrasse {HOSTILE}")
    client.request("GET", "/api/v1/printers", headers={APP_VERSION_HEADER: f"2.1 {HOSTILE}"})
    tablet = Tablet(client, staff=f"Ana {HOSTILE}")
    tablet.start()
    tablet.mutate("ticket.open", ticket_id="t1", label=f"Table {HOSTILE}")
    tablet.mutate("ticket.add_line", ticket_id="t1", line_id="l", product=HOSTILE, qty=1, unit_price=900)
    tablet.mutate("ticket.pay", ticket_id="t1", payment_id="p", method=HOSTILE, amount=900)
    tablet.push()
    assert all(result["status"] == "applied" for result in tablet.results.values()), tablet.results
    client.request("POST", "/api/v1/jobs", {"printer": "perdue", "document": {"lines": [{"text": HOSTILE}]}})
    tablet.close()
    sessions.close_register(r, {"device_id": "setup-page", "role": "manager", "name": "setup page"})
    wait_for(lambda: any(j.get("last_error") for j in jobs.waiting(r, "perdue")), 30, "the lost printer's error")
    refused: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_context(locale="fr-FR").new_page()
        page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
        page.goto(box.url + "/login")
        page.get_by_label("Mot de passe").fill(PASSWORD)
        page.get_by_role("button", name="Se connecter", exact=True).click()
        page.wait_for_url(box.url + "/")
        for path in ("/", "/tablets", "/printers", "/jobs", "/register", "/settings"):
            response = page.goto(box.url + path)
            assert "script-src 'self'" in response.headers["content-security-policy"]
            injected = page.locator("img[src='x'], script:not([src]), b")
            assert injected.count() == 0, (path, injected.first.evaluate("e => e.outerHTML"))
            assert page.title() != "1", path
            assert HOSTILE in page.locator("body").inner_text() or path == "/settings", path
        page.goto(box.url + "/printers")
        text = page.locator("body").inner_text()
        assert "<script>alert(1)</script>" in text and f"tcp://{HOSTILE}" in text
        page.goto(box.url + "/register")
        assert HOSTILE in page.locator("body").inner_text()
        browser.close()
    assert refused == []  # nothing inline was even tried: the page itself has none
    model.stop()


def test_templates_translate_only_literal_strings() -> None:
    """``_()`` in a template returns markup Jinja trusts: only the page's own words go through
    it; data goes through ``|say``, which is escaped."""
    from tests.box import ROOT

    calls = [(path.name, call) for path in (ROOT / "webui" / "templates").glob("*.html")
             for call in re.findall(r"\b_\(\s*([^\s\"'][^,)]*)", path.read_text())]
    assert calls == []
    assert not [p.name for p in (ROOT / "webui" / "templates").glob("*.html") if "|safe" in p.read_text()
                .replace("pairing.qr | safe", "")]  # the QR code: an SVG the box draws from its own address
