"""QZ-compatible printing: web POS built on QZ Tray's JavaScript client print on the box's
printers, with the host set to the box.

``qz-tray.js`` (npm ``qz-tray``; OCA's Odoo modules, ERPNext's POS apps) opens a websocket to
``wss://HOST:8181`` (or ``ws://HOST:8182``) and speaks JSON, read from qz-tray.js 2.2:

- a call is ``{"call", "params", "uid", "timestamp", "signature", "signAlgorithm", ...}``; its
  answer ``{"uid", "result"}`` or ``{"uid", "error"}``; ``"ping"`` keeps the socket alive;
- after ``getVersion`` (never signed) the client sends ``{"certificate": PEM or null, "uid"}``,
  and the answer to it resolves or rejects its ``connect()``;
- every other call is signed: the client hashes ``{"call","params","timestamp"}`` (JSON with
  no spaces, keys in that order; SHA-256, hex) and the site's server signs that hex string with
  the certificate's RSA key (``signAlgorithm``: SHA1, SHA256 or SHA512).

QZ Tray asks the person at the computer whether to allow a site; the box has no one to ask, so
the owner decides beforehand, on the setup page or with ``appliance qz``: a certificate that
introduced itself is listed as asking, and once trusted its signed calls print; or, with the
setting ``qz_paired_origins``, any web app from the origins listed under "Web apps" prints
without a certificate (its calls are not signed then). A signature seen once is refused again
(a replayed print); timestamps are not checked against the box's clock, which a Raspberry Pi
without internet does not know.

What prints: ``print`` with raw data (plain text, base64, hex, or an image drawn in the
printer's language) and pixel images (PNG, JPEG), on the printer named, found by
``printers.find`` (the box's printers by name or role). Its answer comes once every job is on
paper, as the box's other ways in do (QZ Tray answers when the job is spooled): a POS that shows
"printed" is telling the truth. The pure parts (signatures, data to jobs) are functions here;
the websocket ports are ``qz_socket.py``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from appliance import settings
from appliance.access import origins
from appliance.errors import Invalid, NotFound
from appliance.printing import jobs, printers
from appliance.printing.document import Document, ImageLine
from appliance.printing.request import MAX_RAW_BYTES, JobRequest
from appliance.printing.virtual_ports import Sniffer, written_in
from appliance.store import keys

VERSION = "2.2.4"  # what getVersion answers: the protocol level qz-tray.js 2.2 expects
SECURE_PORT, PLAIN_PORT = 8181, 8182  # the first of the ports qz-tray.js tries, wss then ws
UNSIGNED = {"getVersion", "printers.getStatus", "printers.stopListening"}  # qz-tray.js signs all others
ALGORITHMS = {"SHA1": hashes.SHA1, "SHA256": hashes.SHA256, "SHA512": hashes.SHA512}
MAX_ASKING = 20  # certificates listed as asking to be trusted, at most (the oldest go)
PRINT_WAIT = 600.0  # seconds a print call waits for the paper before saying it is still queued
SEEN_FOR = 24 * 3600  # seconds a signature is remembered, so a replayed call is refused

NOT_TRUSTED = ("This web POS's certificate is not trusted by the box yet: the shop owner trusts it on the box's "
               "setup page (Printers, QZ-compatible web POS)")
NO_CERTIFICATE = ("The box prints only for web POS with a trusted certificate, or from the web apps the owner "
                  "listed (Settings, Web apps) once QZ-compatible printing is allowed for them")
BAD_SIGNATURE = "Request blocked: its signature does not match the trusted certificate"
REPLAYED = "Request blocked: this signed request was already received"


class Refused(Exception):
    """A call answered with an error; the message is what qz-tray.js rejects the promise with."""


@dataclass(frozen=True)
class Certificate:
    """A site's signing certificate as the box knows it."""

    fingerprint: str  # SHA-256 of the DER, hex
    subject: str
    pem: str
    trusted: bool
    origin: str | None  # where it first came from
    at: float

    @classmethod
    def parse(cls, pem: str, origin: str | None, now: float) -> Certificate:
        try:
            cert = x509.load_pem_x509_certificate(pem.encode())
        except ValueError as exc:
            raise Refused("the certificate is not a PEM X.509 certificate") from exc
        if not isinstance(cert.public_key(), rsa.RSAPublicKey):
            raise Refused("the certificate's key is not RSA, which QZ signing uses")
        fingerprint = hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()
        return cls(fingerprint, cert.subject.rfc4514_string(), pem.strip(), False, origin, now)


# -- the owner's trust -------------------------------------------------------------------------

def listed(r: redis.Redis) -> list[Certificate]:
    """Every certificate that introduced itself, trusted or asking, newest first."""
    found = [Certificate(**json.loads(v)) for v in r.hvals(keys.qz_certificates())]
    return sorted(found, key=lambda c: c.at, reverse=True)


def _get(r: redis.Redis, fingerprint: str) -> Certificate | None:
    raw = r.hget(keys.qz_certificates(), fingerprint)
    return Certificate(**json.loads(raw)) if raw else None


def introduce(r: redis.Redis, pem: str, origin: str | None, now: float) -> Certificate:
    """A certificate a web POS presented: known (trusted or not) as it is, else listed as asking."""
    cert = Certificate.parse(pem, origin, now)
    known = _get(r, cert.fingerprint)
    if known is not None:
        return known
    asking = [c for c in listed(r) if not c.trusted]
    with r.pipeline() as pipe:
        for old in asking[MAX_ASKING - 1:]:
            pipe.hdel(keys.qz_certificates(), old.fingerprint)
        pipe.hset(keys.qz_certificates(), cert.fingerprint, json.dumps(cert.__dict__))
        pipe.execute()
    return cert


def trust(r: redis.Redis, fingerprint: str, trusted: bool = True) -> Certificate:
    """The owner trusts a certificate that asked (or stops trusting it: it is forgotten)."""
    cert = _get(r, fingerprint)
    if cert is None:
        raise NotFound(f"no certificate {fingerprint}")
    if not trusted:
        r.hdel(keys.qz_certificates(), fingerprint)
        return cert
    changed = Certificate(**{**cert.__dict__, "trusted": True})
    r.hset(keys.qz_certificates(), fingerprint, json.dumps(changed.__dict__))
    return changed


def find_certificate(r: redis.Redis, prefix: str) -> Certificate:
    """A certificate by the start of its fingerprint (what the page and the CLI show)."""
    found = [c for c in listed(r) if c.fingerprint.startswith(prefix.lower().replace(":", ""))]
    if len(found) != 1:
        raise NotFound(f"no single certificate starts with {prefix!r}") if not found else \
            Invalid(f"{prefix!r} names {len(found)} certificates: give more of its fingerprint")
    return found[0]


# -- one connection ----------------------------------------------------------------------------

def signed_text(message: dict) -> str:
    """What qz-tray.js hashed: ``{"call","params","timestamp"}`` as JSON.stringify writes it
    (an absent params is left out, as JSON.stringify leaves out undefined)."""
    signed = {"call": message.get("call")}
    if "params" in message:
        signed["params"] = message["params"]
    signed["timestamp"] = message.get("timestamp")
    return json.dumps(signed, separators=(",", ":"), ensure_ascii=False)


def verify(cert: Certificate, message: dict) -> None:
    """The call's signature by ``cert``'s key over the SHA-256 hex of ``signed_text``."""
    algorithm = ALGORITHMS.get(str(message.get("signAlgorithm") or "SHA1").upper())
    try:
        signature = base64.b64decode(str(message.get("signature") or ""), validate=True)
    except (binascii.Error, ValueError):
        signature = b""
    if algorithm is None or not signature:
        raise Refused(BAD_SIGNATURE)
    hashed = hashlib.sha256(signed_text(message).encode()).hexdigest().encode()
    key = x509.load_pem_x509_certificate(cert.pem.encode()).public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    try:
        key.verify(signature, hashed, padding.PKCS1v15(), algorithm())
    except InvalidSignature as exc:
        raise Refused(BAD_SIGNATURE) from exc


class Session:
    """One web POS's websocket: whom it was trusted as, and its calls answered. ``origin`` is
    the browser's Origin header; ``now`` the clock (passed in for tests)."""

    def __init__(self, r: redis.Redis, origin: str | None, now: Callable[[], float] = time.time) -> None:
        self.r, self.origin, self.now = r, origin, now
        self.certificate: Certificate | None = None
        self.by_origin = False

    def hello(self, pem: str | None) -> None:
        """The ``{"certificate"}`` message: trusted, or Refused with what the owner must do."""
        if pem:
            cert = introduce(self.r, pem, self.origin, self.now())
            if cert.trusted:
                self.certificate = cert
                return
        if self._origin_allowed():
            self.by_origin = True
            return
        raise Refused(NOT_TRUSTED if pem else NO_CERTIFICATE)

    def _origin_allowed(self) -> bool:
        if not self.origin or not settings.get(self.r, "qz_paired_origins"):
            return False
        try:
            return origins.normalize(self.origin) in origins.listed(self.r)
        except Invalid:
            return False

    def check(self, message: dict) -> None:
        """A call may run: getVersion always; the others once trusted, signed when trusted by
        certificate, and never twice with the same signature."""
        call = message.get("call")
        if call in UNSIGNED:
            return
        if self.certificate is not None:
            verify(self.certificate, message)
            seen = hashlib.sha256(str(message["signature"]).encode()).hexdigest()
            if not self.r.set(keys.qz_signature_seen(seen), 1, nx=True, ex=SEEN_FOR):
                raise Refused(REPLAYED)
        elif not self.by_origin:
            raise Refused(NO_CERTIFICATE)

    def answer(self, message: dict, wait: Callable[[float], object] = time.sleep) -> object:
        """The result of a call (Refused: its error)."""
        call, params = message.get("call"), message.get("params") or {}
        if call == "getVersion":
            return VERSION
        self.check(message)
        if call == "printers.find":
            return find(self.r, params.get("query"))
        if call == "printers.getDefault":
            return default(self.r)
        if call == "printers.details":
            return [{"name": c.name, "driver": "Comptoir", "connection": c.uri, "default": c.name == default(self.r)}
                    for c in printers.all_configs(self.r)]
        if call == "print":
            return print_and_wait(self.r, params, f"qz:{self.origin or '-'}", wait)
        raise Refused(f"{call!r} is not available on Comptoir (QZ-compatible printing: getVersion, printers.find, "
                      "printers.getDefault, printers.details, print)")


# -- printers and printing ---------------------------------------------------------------------

def find(r: redis.Redis, query: str | None) -> str | list[str]:
    """qz-tray.js's printers.find: every printer's name, or the first whose name or role holds
    ``query`` (case aside)."""
    configs = printers.all_configs(r)
    if not query:
        return [c.name for c in configs]
    wanted = str(query).lower()
    for config in configs:
        if wanted in config.name.lower() or any(wanted in role for role in config.roles):
            return config.name
    raise Refused(f"Specified printer could not be found: {query}")


def default(r: redis.Redis) -> str | None:
    try:
        return printers.choose(r, "receipt").name
    except Invalid:
        configs = printers.all_configs(r)
        return configs[0].name if configs else None


def _printer(r: redis.Redis, printer: object) -> printers.PrinterConfig:
    name = printer.get("name") if isinstance(printer, dict) else printer
    if not isinstance(name, str) or not name:
        raise Refused("print on a printer by its name: qz.configs.create(name), the name from printers.find")
    try:
        return printers.get(r, name)
    except NotFound:
        return printers.get(r, str(find(r, name)))


def _encoding(options: dict) -> str | None:
    """The config's ``encoding`` (Java's names: Cp1252, IBM852, CP866, UTF-8...) as Python's."""
    name = str(options.get("encoding") or "").strip()
    if not name:
        return None
    name = name.lower().replace("ibm", "cp").removeprefix("x-")
    if name.startswith("cp") and name[2:3] == "-":
        name = "cp" + name[3:]
    try:
        "".encode(name)
    except LookupError as exc:
        raise Refused(f"unknown encoding {options.get('encoding')!r}") from exc
    return name


@dataclass(frozen=True)
class Piece:
    """One job of a print call: printer bytes, or a picture (drawn in the printer's language)."""

    raw: bytes | None = None
    image: bytes | None = None
    cut: bool = False  # a pixel print is a page: it ends cut


def pieces(params: dict) -> list[Piece]:
    """A print call's data as the jobs it makes, in order: consecutive raw data joined into one
    job, each image a job of its own. Pure: no printer, no Redis."""
    options = params.get("options") or {}
    encoding = _encoding(options) if isinstance(options, dict) else None
    data = params.get("data")
    if not isinstance(data, list) or not data:
        raise Refused("print: no data")
    out: list[Piece] = []
    raw = bytearray()
    for item in data:
        if isinstance(item, str):
            item = {"type": "raw", "format": "command", "flavor": "plain", "data": item}
        if not isinstance(item, dict) or not isinstance(item.get("data"), str):
            raise Refused("print: each data item is a string or {type, format, flavor, data}")
        kind = str(item.get("type") or "raw").lower()
        form = str(item.get("format") or ("command" if kind == "raw" else "image")).lower()
        flavor = str(item.get("flavor") or ("plain" if form == "command" else "base64")).lower()
        if form == "image":
            if flavor != "base64":
                raise Refused("images are taken as base64 (flavor 'base64'): the box does not fetch files")
            if raw:
                out.append(Piece(raw=bytes(raw)))
                raw = bytearray()
            out.append(Piece(image=_decode("base64", item["data"], item), cut=kind == "pixel"))
        elif kind == "raw" and form == "command":
            raw += _decode(flavor, item["data"], item, encoding)
        else:
            raise Refused(f"{kind} {form} printing is not available on Comptoir: send raw commands or an image "
                          "(PNG, JPEG, base64)")
        if len(raw) > MAX_RAW_BYTES:
            raise Refused(f"print: more than {MAX_RAW_BYTES} bytes in one job")
    if raw:
        out.append(Piece(raw=bytes(raw)))
    copies = options.get("copies", 1) if isinstance(options, dict) else 1
    if not isinstance(copies, int) or not 1 <= copies <= 10:
        raise Refused("copies: from 1 to 10")
    return out * copies


def _decode(flavor: str, text: str, item: dict, encoding: str | None = None) -> bytes:
    try:
        if flavor == "plain":
            if encoding:
                return text.encode(encoding)
            try:
                return text.encode("latin-1")  # a JS string of byte values, as POS apps build commands
            except UnicodeEncodeError:
                return text.encode("utf-8")
        if flavor == "base64":
            return base64.b64decode(text, validate=True)
        if flavor == "hex":
            return bytes.fromhex(text)
        if flavor == "xml":
            tag = str((item.get("options") or {}).get("xmlTag") or "")
            start, end = text.find(f"<{tag}>"), text.find(f"</{tag}>")
            if not tag or start < 0 or end < 0:
                raise Refused("xml data: give options.xmlTag, the tag holding the base64 data")
            return base64.b64decode(text[start + len(tag) + 2:end].strip(), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError) as exc:
        raise Refused(f"print: data that is not valid {flavor}") from exc
    raise Refused(f"print: the flavor {flavor!r} is not available (plain, base64, hex, xml)")


def submit(r: redis.Redis, printer: printers.PrinterConfig, made: list[Piece], source: str) -> list[str]:
    """Queue a print call's jobs, in order, on ``printer``."""
    ids = []
    for piece in made:
        if piece.raw is not None:
            language = written_in(Sniffer.tell(piece.raw), printer.language)
            ids.append(jobs.submit_raw(r, printer.name, piece.raw, source, language=language))
        else:
            assert piece.image is not None
            try:
                document = Document(lines=[ImageLine(image=base64.b64encode(piece.image).decode())], cut=piece.cut)
            except ValueError as exc:
                raise Refused(f"print: {exc}") from exc
            request = JobRequest(printer=printer.name, document=document)
            ids.append(jobs.submit(r, request, device_id=source).job["id"])
    return ids


def print_and_wait(r: redis.Redis, params: dict, source: str, wait: Callable[[float], object] = time.sleep) -> None:
    """Print, and answer once every job is on paper (Refused when one cannot be: it says why)."""
    try:
        printer = _printer(r, params.get("printer"))
    except NotFound as exc:
        raise Refused(f"Specified printer could not be found: {params.get('printer')}") from exc
    ids = submit(r, printer, pieces(params), source)
    deadline = time.monotonic() + PRINT_WAIT
    for job_id in ids:
        state = jobs.wait(r, job_id, max(0.0, deadline - time.monotonic()), wait)
        if state != jobs.JobStatus.PRINTED:
            job = jobs.get(r, job_id)
            if state in jobs.FINAL:
                raise Refused(f"not printed on {job['printer']}: {job.get('last_error') or state}")
            raise Refused(f"not on paper yet ({job.get('last_error') or 'the printer is busy'}): the job is kept "
                          f"and prints on {job['printer']} when it can; do not send it again")
    return None
